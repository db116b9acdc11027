import type { Command } from 'commander';
import { InputError } from '../errors.ts';
import { rotateSecretKey } from '../provisioner/rotateSecretKey.ts';
import { secretKeysFromEnv } from '../provisioner/secretbox.ts';
import { openStore } from '../store/db.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { DEFAULT_DATABASE_URL } from './provisioner.ts';

/** Where `kaas secrets` reads its settings and writes its output (the process' own by default). */
export interface SecretsCommandDeps {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream;
}

/**
 * `kaas secrets rotate-key`: re-seals every stored cluster secret under KAAS_SECRET_KEY, opening the
 * old ones with KAAS_SECRET_KEY_PREVIOUS. Run it once every replica seals with the new key (step 3 of
 * the order in docs/provisioner.md); afterwards KAAS_SECRET_KEY_PREVIOUS can go.
 */
export function registerSecretsCommand(
  program: Command,
  deps: SecretsCommandDeps = { env: process.env, stdout: process.stdout },
): Command {
  const secrets = program.command('secrets').description('manage the key that seals cluster secrets at rest');
  secrets
    .command('rotate-key')
    .description(
      're-seal every cluster secret under KAAS_SECRET_KEY (the new key); KAAS_SECRET_KEY_PREVIOUS (the old one) opens those not yet re-sealed',
    )
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { output: string }) => {
      if (opts.output !== 'text' && opts.output !== 'json')
        throw new InputError(`unknown output format "${opts.output}": use text or json`, { field: 'output' });
      const keys = secretKeysFromEnv(deps.env);
      const store = openStore(deps.env.KAAS_DATABASE_URL ?? DEFAULT_DATABASE_URL);
      let report;
      try {
        await migrateToLatest(store.db as never);
        report = await rotateSecretKey({ db: store.db, keys });
      } finally {
        await store.close();
      }
      deps.stdout.write(
        opts.output === 'json'
          ? `${JSON.stringify(report, null, 2)}\n`
          : [
              `key ${report.keyId}: ${report.resealed} re-sealed, ${report.alreadyCurrent} already current, ${report.skipped} changed meanwhile (left alone)`,
              ...report.failed.map((f) => `${f.clusterId}: ${f.message} (${f.code})`),
              '',
            ].join('\n'),
      );
      if (report.failed.length > 0) {
        throw new InputError(
          `${report.failed.length} cluster secret(s) open with neither KAAS_SECRET_KEY nor KAAS_SECRET_KEY_PREVIOUS and were left as they are`,
          { code: 'secret_rotation_incomplete' },
        );
      }
    });
  return secrets;
}
