import { afterEach, describe, expect, it } from 'vitest';
import { engines, freshStore } from '../../test/support/databases.ts';
import { openStore, type Store } from './db.ts';
import { migrateToLatest } from './migrate.ts';

describe.each(engines)('store on %s', (engine) => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it('migrates and reads back a row', async () => {
    store = await freshStore(engine);
    await store.db.insertInto('kaas_meta').values({ key: 'k', value: 'v' }).execute();
    const row = await store.db.selectFrom('kaas_meta').selectAll().executeTakeFirstOrThrow();
    expect(row).toEqual({ key: 'k', value: 'v' });
  });

  it('migrating twice is a no-op', async () => {
    store = await freshStore(engine);
    await migrateToLatest(store.db as never);
    expect(store.dialect).toBe(engine);
  });
});

describe('openStore', () => {
  it('rejects an unknown URL scheme naming the accepted ones', () => {
    expect(() => openStore('mysql://x')).toThrow(/use sqlite:<path> or postgres:/);
  });
  it('rejects a sqlite URL without a path', () => {
    expect(() => openStore('sqlite:')).toThrow(/needs a path/);
  });
});
