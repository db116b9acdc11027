import { Command } from 'commander';
import { COMMANDS } from './commands.ts';

/** The command `args` (argv without node and the script) runs: the first operand, or the one after `help`. */
export function commandNamed(args: readonly string[]): string | undefined {
  const operands = args.filter((a) => !a.startsWith('-'));
  return operands[0] === 'help' ? operands[1] : operands[0];
}

/**
 * The `kaas` command line for `args`: the command being run is loaded and registered for real; the
 * others only by name and summary, so `kaas --help` lists them without loading any.
 */
export async function buildProgram(args: readonly string[]): Promise<Command> {
  const program = new Command('kaas')
    .description('Kubernetes-as-a-Service on OpenStack')
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const wanted = commandNamed(args);
  for (const entry of COMMANDS) {
    if (entry.name === wanted) await entry.register(program);
    else program.command(entry.name).description(entry.summary);
  }
  return program;
}
