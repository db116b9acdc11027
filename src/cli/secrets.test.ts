import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, freshDatabaseUrl, type Engine } from '../../test/support/databases.ts';
import { adminEnv } from '../../test/support/openstack.ts';
import { testReleaseDeps, testSpec } from '../../test/provisioner/support.ts';
import { startCloudsim, type Cloudsim } from '../cloudsim/index.ts';
import { createLogger } from '../log.ts';
import { open, seal, sealedKeyId, secretKeyId } from '../provisioner/secretbox.ts';
import { openStore } from '../store/db.ts';
import { findClusterEndpoint } from '../store/findClusterEndpoint.ts';
import { findClusterSecret } from '../store/findClusterSecret.ts';
import { upsertClusterEndpoint } from '../store/upsertClusterEndpoint.ts';
import { insertClusterSecret } from '../store/insertClusterSecret.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { exitCodeFor } from './exit.ts';
import { openProvisionerFromEnv } from './provisioner.ts';
import { registerSecretsCommand } from './secrets.ts';

const NOW = '2030-01-01T00:00:00.000Z';

async function run(env: Record<string, string>, args: string[]) {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const program = new Command('kaas').exitOverride();
  registerSecretsCommand(program, { env, stdout });
  let error: unknown;
  await program.parseAsync(['secrets', ...args], { from: 'user' }).catch((e: unknown) => (error = e));
  return { text, error };
}

/** A database two processes can share: an SQLite file or a fresh PostgreSQL database. */
async function sharedDatabaseUrl(engine: Engine): Promise<string> {
  return engine === 'sqlite'
    ? `sqlite:${join(mkdtempSync(join(tmpdir(), 'kaas-secrets-')), 'kaas.db')}`
    : freshDatabaseUrl(engine);
}

describe.each(engines)('kaas secrets rotate-key on %s', (engine) => {
  it('re-seals what the previous key sealed, reports unknown keys with exit code 2, and is safe to rerun', async () => {
    const url = await sharedDatabaseUrl(engine);
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const store = openStore(url);
    try {
      await migrateToLatest(store.db as never);
      await insertClusterSecret({
        db: store.db,
        clusterId: 'c1',
        sealed: seal(oldKey, 'one', 'c1'),
        now: NOW,
      });
      const env = {
        KAAS_DATABASE_URL: url,
        KAAS_SECRET_KEY: newKey.toString('base64'),
        KAAS_SECRET_KEY_PREVIOUS: oldKey.toString('base64'),
      };
      const first = await run(env, ['rotate-key', '--output', 'json']);
      expect(first.error).toBeUndefined();
      expect(JSON.parse(first.text)).toEqual({
        keyId: secretKeyId(newKey),
        resealed: 1,
        alreadyCurrent: 0,
        skipped: 0,
        failed: [],
      });
      expect(open(newKey, (await findClusterSecret({ db: store.db, clusterId: 'c1' }))!, 'c1')).toBe('one');

      await insertClusterSecret({
        db: store.db,
        clusterId: 'c2',
        sealed: seal(randomBytes(32), 'x', 'c2'),
        now: NOW,
      });
      const second = await run(env, ['rotate-key']);
      expect(second.text).toContain(`key ${secretKeyId(newKey)}: 0 re-sealed, 1 already current`);
      expect(second.text).toMatch(
        /^c2: cluster secrets were sealed with key id .* \(secret_key_mismatch\)$/m,
      );
      expect(second.error).toMatchObject({ code: 'secret_rotation_incomplete' });
      expect(exitCodeFor(second.error)).toBe(2);

      const noKey = await run({ KAAS_DATABASE_URL: url }, ['rotate-key']);
      expect(noKey.error).toMatchObject({ code: 'secret_key_missing' });
      const badOutput = await run(env, ['rotate-key', '-o', 'yaml']);
      expect(badOutput.error).toMatchObject({ field: 'output' });
    } finally {
      await store.close();
    }
  });
});

/**
 * The rotation order of docs/provisioner.md with two `kaas serve` replicas on one database: each
 * replica is the provisioner `kaas serve` builds from its environment (openProvisionerFromEnv), and
 * "restarting" one opens it again with the next step's variables. A replica seals new secrets by
 * creating a cluster (on cloudsim) and reads one through the break-glass kubeconfig, which opens the
 * cluster's sealed CA.
 */
describe.each(engines)('key rotation across two replicas on %s', (engine) => {
  let sim: Cloudsim;
  beforeAll(async () => {
    sim = await startCloudsim({ port: 0, bootTimeMs: 20 });
  });
  afterAll(() => sim.close());

  const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
  const b64 = (key: Buffer) => key.toString('base64');
  const keyEnv = (current: Buffer, previous?: Buffer) => ({
    KAAS_SECRET_KEY: b64(current),
    ...(previous ? { KAAS_SECRET_KEY_PREVIOUS: b64(previous) } : {}),
  });

  /** Runs `test` with a `replica(keys)` opener on one shared database; every replica is closed after. */
  async function withReplicas(
    test: (
      replica: (keys: Record<string, string>) => ReturnType<typeof openProvisionerFromEnv>,
      url: string,
    ) => Promise<void>,
  ) {
    const url = await sharedDatabaseUrl(engine);
    const opened: { close(): Promise<void> }[] = [];
    const replica = async (keys: Record<string, string>) => {
      const env = {
        ...adminEnv(sim.authUrl),
        KAAS_URL: 'http://127.0.0.1:9',
        KAAS_DATABASE_URL: url,
        ...keys,
      };
      const r = await openProvisionerFromEnv(env, {
        logger: createLogger({ level: 'silent' }),
        ...testReleaseDeps(),
      });
      opened.push(r);
      return r;
    };
    try {
      await test(replica, url);
    } finally {
      for (const r of opened) await r.close();
    }
  }

  type Replica = Awaited<ReturnType<typeof openProvisionerFromEnv>>;
  const created: string[] = [];

  /** The replica creates cluster `name`, sealing its secrets under its current key; it gets an API URL. */
  async function create(r: Replica, name: string) {
    const { cluster } = await r.provisioner.createCluster(testSpec(name, 1), { waitForApi: false });
    const db = r.store.db;
    const known = await findClusterEndpoint({ db, clusterId: cluster.id });
    await upsertClusterEndpoint({ db, endpoint: { ...known!, apiUrl: 'https://192.0.2.10:6443' } });
    created.push(name);
  }

  /** What the replica makes of each cluster's secrets: 'ok' or the error code. */
  async function reads(r: Replica) {
    const seen: Record<string, string> = {};
    for (const name of created) {
      seen[name] = await r.provisioner.adminKubeconfig(name).then(
        () => 'ok',
        (error: { code?: string }) => error.code ?? String(error),
      );
    }
    return seen;
  }
  const allOk = () => Object.fromEntries(created.map((name) => [name, 'ok']));

  it('keeps every cluster secret readable by both replicas at each step; after it the old key alone fails clearly', async () => {
    created.length = 0;
    await withReplicas(async (replica, url) => {
      let a = await replica(keyEnv(oldKey));
      let b = await replica(keyEnv(oldKey));
      await create(a, 'rot0');
      await create(b, 'rot1');
      expect([await reads(a), await reads(b)]).toEqual([allOk(), allOk()]);

      // Step 1: the new key opens on every replica (it is KAAS_SECRET_KEY_PREVIOUS here), the old one
      // still seals. A is restarted; B is still on the old key only.
      a = await replica(keyEnv(oldKey, newKey));
      await create(a, 'rot2');
      expect([await reads(a), await reads(b)]).toEqual([allOk(), allOk()]);
      b = await replica(keyEnv(oldKey, newKey));

      // Step 2: the new key seals. A is restarted; B is still on step 1 and opens what A seals now.
      a = await replica(keyEnv(newKey, oldKey));
      await create(a, 'rot3');
      await create(b, 'rot4');
      expect([await reads(a), await reads(b)]).toEqual([allOk(), allOk()]);
      b = await replica(keyEnv(newKey, oldKey));
      expect(await reads(b)).toEqual(allOk());

      // Step 3: rotate-key once, with step 2's variables; both replicas read throughout and after.
      const rotated = await run({ KAAS_DATABASE_URL: url, ...keyEnv(newKey, oldKey) }, [
        'rotate-key',
        '-o',
        'json',
      ]);
      expect(rotated.error).toBeUndefined();
      expect(JSON.parse(rotated.text)).toMatchObject({
        keyId: secretKeyId(newKey),
        resealed: 4,
        alreadyCurrent: 1,
      });
      const rows = await a.store.db.selectFrom('cluster_secrets').select('sealed').execute();
      expect(rows.map((row) => sealedKeyId(row.sealed))).toEqual(created.map(() => secretKeyId(newKey)));
      expect([await reads(a), await reads(b)]).toEqual([allOk(), allOk()]);

      // Step 4: KAAS_SECRET_KEY_PREVIOUS goes. A is restarted first; B still holds both keys.
      a = await replica(keyEnv(newKey));
      await create(a, 'rot5');
      expect([await reads(a), await reads(b)]).toEqual([allOk(), allOk()]);
      b = await replica(keyEnv(newKey));
      expect(await reads(b)).toEqual(allOk());

      // The old key alone opens nothing any more, and says which key it would need.
      const stale = await replica(keyEnv(oldKey));
      await expect(stale.provisioner.adminKubeconfig('rot0')).rejects.toMatchObject({
        code: 'secret_key_mismatch',
        message: `cluster secrets were sealed with key id ${secretKeyId(newKey)}, but KAAS_SECRET_KEY is ${secretKeyId(oldKey)} (no KAAS_SECRET_KEY_PREVIOUS): start kaas with the key that sealed them`,
      });
    });
  });

  it('needs step 1: a replica sealing with the new key at once locks out one still on the old key', async () => {
    created.length = 0;
    await withReplicas(async (replica) => {
      const b = await replica(keyEnv(oldKey));
      const a = await replica(keyEnv(newKey, oldKey));
      await create(a, 'skip0');
      expect(await reads(b)).toEqual({ skip0: 'secret_key_mismatch' });
    });
  });
});
