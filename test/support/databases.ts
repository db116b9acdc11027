import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, describe } from 'vitest';
import { openStore, type Store } from '../../src/store/db.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';

/** The two engines every store test runs on. */
export const engines = ['sqlite', 'postgres'] as const;
export type Engine = (typeof engines)[number];

/** A database URL on the given engine, fresh and empty (a new PostgreSQL database per call). */
export async function freshDatabaseUrl(engine: Engine): Promise<string> {
  if (engine === 'sqlite') return 'sqlite::memory:';
  const base = process.env.KAAS_TEST_PG_URL;
  if (!base) throw new Error('KAAS_TEST_PG_URL is not set: the vitest global setup starts PostgreSQL');
  const name = `kaas_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return base.replace(/\/[^/]*$/, `/${name}`);
}

/** Opens a fresh, migrated store on the engine; close it in afterEach/afterAll. */
export async function freshStore(engine: Engine): Promise<Store> {
  const store = openStore(await freshDatabaseUrl(engine));
  await migrateToLatest(store.db as never);
  return store;
}

/**
 * Declares `<name> on sqlite` and `<name> on postgres`; every test in `body` gets a fresh migrated
 * store from `store()`, closed when the test ends (a `beforeEach` in `body` runs after it is opened).
 */
export function describeOnEngines(
  name: string,
  body: (ctx: { engine: Engine; store: () => Store }) => void,
): void {
  describe.each(engines)(`${name} on %s`, (engine) => {
    let current: Store | undefined;
    beforeEach(async () => {
      current = await freshStore(engine);
    });
    afterEach(async () => {
      await current?.close();
      current = undefined;
    });
    const store = (): Store => {
      if (!current) throw new Error('the store exists only while a test runs');
      return current;
    };
    body({ engine, store });
  });
}
