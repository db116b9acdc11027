import { reportError } from './exit.ts';
import { buildProgram } from './program.ts';

// The `kaas` command line: every command is thin — parse, call the library, print.
try {
  await (await buildProgram(process.argv.slice(2))).parseAsync(process.argv);
} catch (error) {
  process.exitCode = reportError(error);
}
