import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/db.ts';
import { listPendingMigrations } from '../../store/listPendingMigrations.ts';
import { documented, errorResponses, object } from '../openapi.ts';

/** How long /readyz waits for the database before calling the replica unready. */
export const READY_TIMEOUT_MS = 2_000;

type Readiness = { ready: true } | { ready: false; code: string; message: string; cause?: unknown };

/**
 * Liveness and readiness probes. /healthz says the process serves HTTP (a restart would not help
 * otherwise); /readyz says this replica can serve requests now: its database answers within
 * `timeoutMs` and has run every migration this build knows. An unready replica answers 503 with the
 * usual error body, so Kubernetes takes it out of the Service without restarting it.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: { store: Store; timeoutMs?: number }): void {
  const ok = object({ status: { const: 'ok' } });
  app.get(
    '/healthz',
    documented({ summary: 'Liveness', tags: ['meta'], response: { 200: ok } }),
    async () => ({ status: 'ok' }),
  );
  const readiness = { summary: 'Readiness: the database answers and is migrated', tags: ['meta'] };
  app.get(
    '/readyz',
    documented({ ...readiness, response: { 200: ok, ...errorResponses(503) } }),
    async (request, reply) => {
      const readiness = await checkReadiness(deps.store, deps.timeoutMs ?? READY_TIMEOUT_MS);
      if (readiness.ready) return { status: 'ok' };
      // The cause goes to the log only: /readyz is unauthenticated and must not describe the network.
      request.log.warn({ err: readiness.cause, code: readiness.code }, `not ready: ${readiness.message}`);
      return reply.status(503).send({ error: { code: readiness.code, message: readiness.message } });
    },
  );
}

async function checkReadiness(store: Store, timeoutMs: number): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const pending = await Promise.race([listPendingMigrations({ db: store.db }), timedOut]);
    if (pending === 'timeout') {
      return {
        ready: false,
        code: 'database_unavailable',
        message: `the database did not answer within ${timeoutMs} ms`,
      };
    }
    if (pending.length > 0) {
      return {
        ready: false,
        code: 'migrations_pending',
        message: `the database schema is behind this build: migrations ${pending.join(', ')} have not run (a starting replica runs them)`,
      };
    }
    return { ready: true };
  } catch (error) {
    return {
      ready: false,
      code: 'database_unavailable',
      message: 'the database cannot be reached or refused the query; the server log has the details',
      cause: error,
    };
  } finally {
    clearTimeout(timer);
  }
}
