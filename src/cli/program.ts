import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { COMMANDS } from './commands.ts';

/** This copy's version, from its package.json (two levels up from src/cli and from dist/cli alike). */
export function kaasVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The command `args` (argv without node and the script) runs: the first operand, or the one after `help`. */
export function commandNamed(args: readonly string[]): string | undefined {
  const operands = args.filter((a) => !a.startsWith('-'));
  return operands[0] === 'help' ? operands[1] : operands[0];
}

/**
 * The `kaas` command line for `args`: the command being run is loaded and registered for real; the
 * others only by name and summary, so `kaas --help` lists them without loading any. Usage errors
 * (an unknown command or flag, a missing argument) are thrown as CommanderError, after commander
 * printed them naming the flag, so that main.ts exits 2 with them (exit.ts).
 */
export async function buildProgram(args: readonly string[]): Promise<Command> {
  const program = new Command('kaas')
    .description('Kubernetes-as-a-Service on OpenStack')
    .version(kaasVersion(), '-V, --version', 'print the kaas version')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const wanted = commandNamed(args);
  for (const entry of COMMANDS) {
    if (entry.name === wanted) await entry.register(program);
    else program.command(entry.name).description(entry.summary);
  }
  return program;
}
