import { Command } from 'commander';
import { reportError } from './exit.ts';
import { registerDevCommand } from './dev.ts';
import { registerLoginCommand } from './login.ts';
import { registerTokenCommand } from './token.ts';
import { registerCredentialCommand } from './credential.ts';
import { registerClusterCommands } from './cluster.ts';
import { registerServeCommand } from './serve.ts';

/** The `kaas` command line: every command is thin — parse, call the library, print. */
export function buildProgram(): Command {
  const program = new Command('kaas')
    .description('Kubernetes-as-a-Service on OpenStack')
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerDevCommand(program);
  registerLoginCommand(program);
  registerTokenCommand(program);
  registerCredentialCommand(program);
  registerClusterCommands(program);
  registerServeCommand(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  process.exitCode = reportError(error);
}
