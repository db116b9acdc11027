import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { AuthService } from '../../auth/service.ts';
import { parseTokenReview, tokenReviewResponse, type TokenReviewRequest } from '../../auth/tokenreview.ts';
import { lazyChildLogger, noLouderThan } from '../../log.ts';
import { errorResponses, object, pathParams } from '../openapi.ts';

const strings = { type: 'array', items: { type: 'string' } } as const;

/**
 * Compiled serializer for the answer, which also pins its shape. Its keys are in the order
 * tokenReviewResponse writes them, so the plain handler's tokenReviewJson writes the same bytes.
 */
const responseSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'status'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object', properties: { creationTimestamp: { type: 'null' } } },
    status: {
      type: 'object',
      required: ['authenticated'],
      properties: {
        authenticated: { type: 'boolean' },
        user: {
          type: 'object',
          required: ['username', 'uid', 'groups', 'extra'],
          properties: {
            username: { type: 'string' },
            uid: { type: 'string' },
            groups: strings,
            extra: { type: 'object', additionalProperties: strings },
          },
        },
        audiences: strings,
        error: { type: 'string' },
      },
    },
  },
} as const;

/** What kube-apiserver sends; parseTokenReview checks the rest (apiVersion, kind) and says which field is wrong. */
const requestSchema = object({
  apiVersion: { type: 'string', description: 'authentication.k8s.io/v1 or v1beta1' },
  kind: { type: 'string', description: 'TokenReview' },
  spec: object({ token: { type: 'string' }, audiences: strings }, ['audiences']),
});

const schema = {
  summary: 'The TokenReview webhook of one cluster (called by its kube-apiserver)',
  tags: ['webhook'],
  params: pathParams('clusterId'),
  body: requestSchema,
  response: { 200: responseSchema, ...errorResponses(400) },
};

/**
 * The decision on a well-formed review (parseTokenReview) for a cluster: the one implementation
 * the Fastify route and the plain handler (server/webhook.ts, which writes it with tokenReviewJson)
 * both call.
 */
export function decideTokenReview(auth: AuthService, clusterId: string, review: TokenReviewRequest) {
  return auth.reviewToken({ clusterId, token: review.token, audiences: review.audiences });
}

/**
 * Request bodies the plain handler read but left to the route (anything it does not answer
 * itself), by request: the route reads them from here instead of the spent request stream.
 */
export type ReplayedBodies = WeakMap<IncomingMessage, Buffer>;

/**
 * The webhook kube-apiserver calls: `POST /tokenreview/{clusterId}`. The cluster is named by the
 * path (each cluster's webhook kubeconfig has its own URL), so one kaas serves many clusters over
 * one server certificate. Query strings (`?timeout=30s`) are ignored by the router. `kaas serve`
 * answers well-formed reviews before Fastify (server/webhook.ts); this route answers the rest,
 * and every review sent through `app.inject`.
 */
export function registerTokenReviewRoutes(
  app: FastifyInstance,
  auth: AuthService,
  replayed: ReplayedBodies = new WeakMap(),
): void {
  app.post<{ Params: { clusterId: string } }>(
    '/tokenreview/:clusterId',
    {
      schema,
      // No access log line per review (kube-apiserver sends one per request it authenticates, so
      // that would be the bulk of kaas's log); kaas_tokenreviews_total counts them by result. A
      // review that logs nothing (nearly all) makes no per-request child logger either.
      logLevel: noLouderThan(app.log.level, 'warn'),
      childLoggerFactory: lazyChildLogger,
      preParsing: async (request, _reply, payload) => {
        const body = replayed.get(request.raw);
        return body ? Readable.from([body], { objectMode: false }) : payload;
      },
    },
    async (request) => {
      const review = parseTokenReview(request.body);
      return tokenReviewResponse(
        review.apiVersion,
        await decideTokenReview(auth, request.params.clusterId, review),
      );
    },
  );
}
