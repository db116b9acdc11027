import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach } from 'vitest';
import { openStore, type Store } from '../../src/store/db.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { freshDatabaseUrl } from '../support/databases.ts';
import { TEST_SECRET_KEY, testReleaseMirror } from '../provisioner/support.ts';
import { adminEnv } from '../support/openstack.ts';
import { spawnService, type ServiceProcess } from '../support/process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REPLICA = fileURLToPath(new URL('./replica.ts', import.meta.url));

/** A `kaas serve` child process. */
/** A `kaas serve` replica; `ready` resolves with its URL once it printed "kaas serving on …". */
export type Replica = ServiceProcess;

/** The environment a replica needs to reach cloudsim as admin/secret (as OS_* variables). */
export const cloudEnv = adminEnv;

/** The replicas' job lease and idle poll: short, so that a takeover takes seconds. */
export const LEASE_MS = 2_000;
export const POLL_MS = 200;

/** What every replica of the suites runs with: cloudsim's admin, the test secret key, the short lease. */
export function replicaEnv(authUrl: string): Record<string, string> {
  return {
    ...cloudEnv(authUrl),
    KAAS_SECRET_KEY: TEST_SECRET_KEY.toString('base64'),
    KAAS_LEASE_MS: String(LEASE_MS),
    KAAS_WORKER_POLL_MS: String(POLL_MS),
    KAAS_LOG_LEVEL: 'warn',
    KAAS_RELEASE_MIRROR: testReleaseMirror().dir,
    KAAS_RELEASE_CACHE: testReleaseMirror().cacheDir,
    // Read by test/ha/replica.ts only: the digests of the mirror's stand-in tarballs.
    KAAS_TEST_RELEASE_CATALOGUE: testReleaseMirror().catalogueFile,
  };
}

/**
 * Starts `kaas serve` in its own Node process (a real process, so SIGKILL is real) with only the
 * given environment plus PATH and a throwaway HOME (no stray clouds.yaml).
 */
export function spawnReplica(env: Record<string, string>): Replica {
  const home = mkdtempSync(join(tmpdir(), 'kaas-ha-home-'));
  return spawnService(REPLICA, [], {
    cwd: ROOT,
    env: { HOME: home, PORT: '0', ...env },
    ready: /kaas serving on (\S+)/,
  });
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A fresh PostgreSQL database in the test server, migrated; close the store.
 */
export async function haDatabase(): Promise<{ url: string; store: Store }> {
  const url = await freshDatabaseUrl('postgres');
  const store = openStore(url);
  await migrateToLatest(store.db as never);
  return { url, store };
}

/** The replicas and stores of a suite: replicas are SIGKILLed after each test, stores closed after all. */
export function haCleanup(): { replicas: Replica[]; stores: Store[] } {
  const replicas: Replica[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const r of replicas.splice(0)) {
      r.kill('SIGKILL');
      await r.exited;
    }
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
  });
  return { replicas, stores };
}
