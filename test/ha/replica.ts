/**
 * Runs `kaas serve` as the real CLI does (commander + the one error-to-exit-code mapping), for
 * the suites that need a replica in its own process (so SIGKILL and SIGTERM are real). Used
 * until the command is registered in src/cli/main.ts; then `bin/kaas.mjs serve` is the same.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { reportError } from '../../src/cli/exit.ts';
import { registerServeCommand } from '../../src/cli/serve.ts';

// The suites' release mirror holds stand-in tarballs; trust their digests, as testProvisioner does.
const catalogueFile = process.env.KAAS_TEST_RELEASE_CATALOGUE;
const program = new Command('kaas');
registerServeCommand(
  program,
  catalogueFile ? { provisioner: { releaseCatalogue: JSON.parse(readFileSync(catalogueFile, 'utf8')) } } : {},
);
try {
  await program.parseAsync(['node', 'kaas', 'serve']);
} catch (error) {
  process.exitCode = reportError(error);
}
