import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../log.ts';
import type { Store } from '../store/db.ts';
import { errorHandler } from './errors.ts';

/** Everything the HTTP layer needs, passed in (no module-level state). */
export interface ServerDeps {
  store: Store;
  logger: Logger;
  now: () => Date;
}

export interface ServerOptions {
  /** Largest accepted request body in bytes; TokenReview bodies are tiny, so keep this small. */
  bodyLimit?: number;
}

/** Builds the kaas Fastify app: JSON API, TokenReview webhook, control panel, /healthz, /metrics. */
export async function buildApp(deps: ServerDeps, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // kube-apiserver appends ?timeout=30s to webhook calls; routes match on the path alone anyway.
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  );
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
