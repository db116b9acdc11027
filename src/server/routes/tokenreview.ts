import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth/service.ts';
import { parseTokenReview, tokenReviewResponse } from '../../auth/tokenreview.ts';
import { lazyChildLogger, noLouderThan } from '../../log.ts';
import { errorResponses, object, pathParams } from '../openapi.ts';

const strings = { type: 'array', items: { type: 'string' } } as const;

/** Compiled serializer for the answer: the webhook is the hot path, and this also pins its shape. */
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
        error: { type: 'string' },
        audiences: strings,
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
 * The webhook kube-apiserver calls: `POST /tokenreview/{clusterId}`. The cluster is named by the
 * path (each cluster's webhook kubeconfig has its own URL), so one kaas serves many clusters over
 * one server certificate. Query strings (`?timeout=30s`) are ignored by the router.
 */
export function registerTokenReviewRoutes(app: FastifyInstance, auth: AuthService): void {
  app.post<{ Params: { clusterId: string } }>(
    '/tokenreview/:clusterId',
    // No access log line per review (kube-apiserver sends one per request it authenticates, so
    // that would be the bulk of kaas's log); kaas_tokenreviews_total counts them by result. A review
    // that logs nothing (nearly all) makes no per-request child logger either.
    { schema, logLevel: noLouderThan(app.log.level, 'warn'), childLoggerFactory: lazyChildLogger },
    async (request) => {
      const review = parseTokenReview(request.body);
      const result = await auth.reviewToken({
        clusterId: request.params.clusterId,
        token: review.token,
        audiences: review.audiences,
      });
      return tokenReviewResponse(review.apiVersion, result);
    },
  );
}
