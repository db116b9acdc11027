import type { FastifyBodyParser } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthService } from '../auth/service.ts';
import { parseTokenReview, tokenReviewJson, type TokenReviewRequest } from '../auth/tokenreview.ts';
import type { Logger } from '../log.ts';
import { errorAnswer } from './errors.ts';
import { decideTokenReview, type ReplayedBodies } from './routes/tokenreview.ts';

/** A node:http request listener (Fastify's, or one in front of it). */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** What the plain handler needs; `routeLogLevel` and `nextRequestId` are the Fastify route's. */
export interface WebhookDeps {
  auth: AuthService;
  logger: Logger;
  /** The route's body limit (Fastify's bodyLimit): larger bodies are Fastify's to refuse. */
  bodyLimit: number;
  /** The app's JSON parser (Fastify's getDefaultJsonParser, with the app's poisoning settings). */
  parseJson: FastifyBodyParser<string>;
  routeLogLevel: string;
  /** Request ids from the sequence Fastify's own come from (genReqId). */
  nextRequestId: () => string;
  replayed: ReplayedBodies;
  /** True once the app closes: Fastify then answers everything (503 while it drains). */
  closing: () => boolean;
}

/** The path of one cluster's webhook, query string allowed; ids needing decoding are Fastify's. */
const WEBHOOK_PATH = /^\/tokenreview\/([A-Za-z0-9._~-]+)(?:\?|$)/;

/**
 * The TokenReview webhook served in front of Fastify. kube-apiserver calls it on every request it
 * authenticates, and Fastify's per-request machinery (request and reply objects, hooks, schema
 * validation, serializer) cost more than the review itself: this handler answers a well-formed
 * review directly, through the route's own decideTokenReview and error mapping. Everything else
 * goes to Fastify unchanged: other routes, bodies without a Content-Length, too large or not
 * `application/json`; and a body this handler read but would not answer (malformed JSON, poisoned
 * prototypes, a shape the route's schema or parseTokenReview refuses) is replayed to the route, so
 * every refusal is Fastify's own answer and log line.
 */
export function webhookInFront(deps: WebhookDeps, fastify: RequestListener): RequestListener {
  return (req, res) => {
    const match = req.method === 'POST' && !deps.closing() ? WEBHOOK_PATH.exec(req.url ?? '') : null;
    const length = Number(req.headers['content-length']);
    if (
      !match ||
      req.headers['content-type'] !== 'application/json' ||
      req.headers['transfer-encoding'] !== undefined ||
      !(length > 0 && length <= deps.bodyLimit)
    ) {
      fastify(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      const review = wellFormed(deps.parseJson, req, body);
      if (review) {
        answer(deps, match[1] as string, review, res);
      } else {
        deps.replayed.set(req, body);
        fastify(req, res);
      }
    });
  };
}

/** The review in `body` when the route would accept it (its JSON parser, schema and parseTokenReview), else undefined. */
function wellFormed(
  parseJson: FastifyBodyParser<string>,
  req: IncomingMessage,
  body: Buffer,
): TokenReviewRequest | undefined {
  let parsed: unknown;
  let failed = false;
  // Fastify's default JSON parser answers synchronously.
  void parseJson(req as never, body.toString('utf8'), (error, value) => {
    failed = error !== null;
    parsed = value;
  });
  if (failed) return undefined;
  try {
    const review = parseTokenReview(parsed);
    // parseTokenReview reads `audiences: null` as none; the route's schema refuses it.
    return (parsed as { spec: { audiences?: unknown } }).spec.audiences === null ? undefined : review;
  } catch {
    return undefined;
  }
}

function answer(deps: WebhookDeps, clusterId: string, review: TokenReviewRequest, res: ServerResponse): void {
  decideTokenReview(deps.auth, clusterId, review).then(
    (result) => send(res, 200, tokenReviewJson(review.apiVersion, result)),
    (error: unknown) => {
      const failed = errorAnswer(error);
      if (failed.status >= 500) {
        deps.logger
          .child({ reqId: deps.nextRequestId() }, { level: deps.routeLogLevel })
          .error({ err: error }, 'request failed');
      }
      send(res, failed.status, JSON.stringify(failed.body), failed.headers);
    },
  );
}

function send(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
