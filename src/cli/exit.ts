import {
  AuthError,
  ConflictError,
  ForbiddenError,
  InputError,
  KaasError,
  NotFoundError,
  UpstreamError,
} from '../errors.ts';

/** The one place domain errors become process exit codes (documented in README). */
export function exitCodeFor(error: unknown): number {
  if (error instanceof InputError) return 2;
  if (error instanceof AuthError) return 3;
  if (error instanceof ForbiddenError) return 4;
  if (error instanceof NotFoundError) return 5;
  if (error instanceof ConflictError) return 6;
  if (error instanceof UpstreamError) return 7;
  return 1;
}

/** Prints an error for a human on stderr (never a stack for expected errors) and returns the exit code. */
export function reportError(error: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (error instanceof KaasError) {
    stderr.write(`kaas: ${error.message} (${error.code})\n`);
  } else {
    stderr.write(
      `kaas: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  return exitCodeFor(error);
}
