/**
 * Runs `kaas serve` as the real CLI does (commander + the one error-to-exit-code mapping), for
 * the suites that need a replica in its own process (so SIGKILL and SIGTERM are real). Used
 * until the command is registered in src/cli/main.ts; then `bin/kaas.mjs serve` is the same.
 */
import { Command } from 'commander';
import { reportError } from '../../src/cli/exit.ts';
import { registerServeCommand } from '../../src/cli/serve.ts';

const program = new Command('kaas');
registerServeCommand(program);
try {
  await program.parseAsync(['node', 'kaas', 'serve']);
} catch (error) {
  process.exitCode = reportError(error);
}
