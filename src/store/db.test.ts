import { describe, expect, it } from 'vitest';
import { describeOnEngines } from '../../test/support/databases.ts';
import { openStore } from './db.ts';
import { migrateToLatest } from './migrate.ts';

describeOnEngines('store', ({ engine, store }) => {
  it('migrates and reads back a row', async () => {
    const { db } = store();
    await db.insertInto('kaas_meta').values({ key: 'k', value: 'v' }).execute();
    const row = await db.selectFrom('kaas_meta').selectAll().executeTakeFirstOrThrow();
    expect(row).toEqual({ key: 'k', value: 'v' });
  });

  it('migrating twice is a no-op', async () => {
    await migrateToLatest(store().db as never);
    expect(store().dialect).toBe(engine);
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
