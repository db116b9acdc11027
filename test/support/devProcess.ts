/**
 * Runs `kaas dev` as the real CLI does (commander and the one error-to-exit-code mapping) in a
 * process of its own, so that SIGTERM and SIGKILL are real, with the suites' release catalogue
 * (digests of the mirror's stand-in tarballs, KAAS_TEST_RELEASE_CATALOGUE) and short polls. The
 * arguments after the script are kaas dev's (`--reset`, `--log-format`).
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerDevCommand } from '../../src/cli/dev.ts';
import { reportError } from '../../src/cli/exit.ts';

const catalogueFile = process.env.KAAS_TEST_RELEASE_CATALOGUE;
const program = new Command('kaas').exitOverride();
registerDevCommand(program, {
  provisioner: {
    pollIntervalMs: 20,
    ...(catalogueFile ? { releaseCatalogue: JSON.parse(readFileSync(catalogueFile, 'utf8')) } : {}),
  },
});
try {
  await program.parseAsync(['node', 'kaas', 'dev', ...process.argv.slice(2)]);
} catch (error) {
  process.exitCode = reportError(error);
}
