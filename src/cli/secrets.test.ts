import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { engines, freshDatabaseUrl } from '../../test/support/databases.ts';
import { open, seal, secretKeyId } from '../provisioner/secretbox.ts';
import { openStore } from '../store/db.ts';
import { findClusterSecret } from '../store/findClusterSecret.ts';
import { insertClusterSecret } from '../store/insertClusterSecret.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { exitCodeFor } from './exit.ts';
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

describe.each(engines)('kaas secrets rotate-key on %s', (engine) => {
  it('re-seals what the previous key sealed, reports unknown keys with exit code 2, and is safe to rerun', async () => {
    const url =
      engine === 'sqlite'
        ? `sqlite:${join(mkdtempSync(join(tmpdir(), 'kaas-secrets-')), 'kaas.db')}`
        : await freshDatabaseUrl(engine);
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
