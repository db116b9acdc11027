import { CommanderError } from 'commander';
import { KaasError, errorKind, type ErrorKind } from '../errors.ts';

/** The one place domain errors become process exit codes (documented in README). */
const EXIT_CODES: Record<ErrorKind, number> = {
  input: 2,
  auth: 3,
  forbidden: 4,
  not_found: 5,
  conflict: 6,
  upstream: 7,
};

/**
 * The exit code for an error: by its kind, 1 for anything unexpected. A usage error commander
 * raised (unknown flag or command, missing argument, invalid option value) is input too: 2; its
 * help and --version end in a CommanderError with exit code 0.
 */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_CODES.input;
  if (error instanceof DetachedError) return 130;
  const kind = errorKind(error);
  return kind ? EXIT_CODES[kind] : 1;
}

/** Prints an error for a human on stderr (never a stack for expected errors) and returns the exit code. */
export function reportError(error: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  // commander has already printed its own message (and the help) on stderr.
  if (error instanceof CommanderError) return exitCodeFor(error);
  if (error instanceof KaasError) {
    stderr.write(`kaas: ${error.message} (${error.code})\n`);
  } else {
    stderr.write(
      `kaas: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  return exitCodeFor(error);
}

/**
 * Following a job was interrupted (Ctrl-C) while the server keeps running it: not a failure of the
 * job, so it has its own exit code (130, the shell's for SIGINT) and a message saying how to look.
 */
export class DetachedError extends KaasError {
  constructor(message: string) {
    super('detached', message);
  }
}
