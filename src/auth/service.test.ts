import { describe, expect, it } from 'vitest';
import { memoryDirectory } from '../../test/auth/memoryDirectory.ts';
import { createLogger } from '../log.ts';
import { openStore } from '../store/db.ts';
import { listSyncResults } from '../store/listSyncResults.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { createAuthService } from './service.ts';

describe('background sync loop', () => {
  it('syncs at start and every interval until closed, surviving failures', async () => {
    const store = openStore('sqlite::memory:');
    await migrateToLatest(store.db);
    const ks = memoryDirectory();
    ks.addUser('u1', 'alice', 'pw');
    const auth = createAuthService({
      store,
      directory: ks.directory,
      logger: createLogger({ level: 'silent' }),
      now: () => new Date(),
      options: { syncIntervalMs: 5 },
    });
    ks.state.failing = true;
    auth.start();
    await expect.poll(() => ks.state.calls, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    ks.state.failing = false;
    await expect
      .poll(async () => (await listSyncResults({ db: store.db }))[0]?.lastError ?? 'x', { timeout: 5000 })
      .toBe('x');
    await expect
      .poll(async () => (await listSyncResults({ db: store.db }))[0]?.lastSuccessAt ?? null)
      .not.toBeNull();
    await auth.close();
    const calls = ks.state.calls;
    await new Promise((r) => setTimeout(r, 30));
    expect(ks.state.calls).toBeLessThanOrEqual(calls + 1);
    await store.close();
  });
});
