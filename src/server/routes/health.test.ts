import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../log.ts';
import { openStore, type Store } from '../../store/db.ts';
import { migrationProvider } from '../../store/migrate.ts';
import { describeOnEngines, freshDatabaseUrl } from '../../../test/support/databases.ts';
import { buildApp } from '../app.ts';

const logger = createLogger({ level: 'silent' });
const probe = async (app: FastifyInstance, url: string) => {
  const res = await app.inject({ method: 'GET', url });
  return [res.statusCode, res.json()];
};

describeOnEngines('health probes', ({ store }) => {
  it('answers /healthz and /readyz on a migrated database', async () => {
    const app = await buildApp({ store: store(), logger, now: () => new Date() });
    expect(await probe(app, '/healthz')).toEqual([200, { status: 'ok' }]);
    expect(await probe(app, '/readyz')).toEqual([200, { status: 'ok' }]);
    await app.close();
  });
});

describe('/readyz when the database is not ready', () => {
  const opened: Store[] = [];
  const open = (url: string, poolSize?: number) => {
    const store = openStore(url, poolSize ? { poolSize } : {});
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
  });

  it('names the migrations a database has not run, while /healthz stays 200', async () => {
    const app = await buildApp({
      store: open(await freshDatabaseUrl('postgres')),
      logger,
      now: () => new Date(),
    });
    const [status, body] = await probe(app, '/readyz');
    expect(status).toBe(503);
    expect(body.error.code).toBe('migrations_pending');
    const names = Object.keys(await migrationProvider.getMigrations());
    expect(body.error.message).toContain(`migrations ${names.join(', ')} have not run`);
    expect(await probe(app, '/healthz')).toEqual([200, { status: 'ok' }]);
    await app.close();
  });

  it('is 503 within the timeout when no connection can be had', async () => {
    const store = open(await freshDatabaseUrl('postgres'), 1);
    // The pool's only connection is held by a transaction that waits until the probe is answered.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const holding = store.db.transaction().execute(async () => held);
    const app = await buildApp({ store, logger, now: () => new Date() });
    const started = Date.now();
    const [status, body] = await probe(app, '/readyz');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(Date.now() - started).toBeLessThan(6_000);
    expect([status, body]).toEqual([
      503,
      { error: { code: 'database_unavailable', message: 'the database did not answer within 2000 ms' } },
    ]);
    release();
    await holding;
    await app.close();
  });

  it('is 503 without internals when the database refuses connections', async () => {
    const app = await buildApp({
      store: open('postgres://kaas:hunter2-secret@127.0.0.1:1/kaas'),
      logger,
      now: () => new Date(),
    });
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('database_unavailable');
    expect(res.body).not.toMatch(/hunter2|127\.0\.0\.1|ECONNREFUSED/);
    await app.close();
  });
});
