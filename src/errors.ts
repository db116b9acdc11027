/**
 * The few domain errors kaas raises. Each carries a stable `code` (for scripts and tests)
 * and a message a user can act on. The HTTP layer maps them to status codes in one place
 * (server/errors.ts), the CLI to exit codes in one place (cli/exit.ts).
 */
export class KaasError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The request is malformed or names something invalid; retrying it unchanged will fail again. */
export class InputError extends KaasError {
  /** Dotted path of the offending field, when there is one (e.g. `nodeGroups[0].count`). */
  readonly field: string | undefined;
  constructor(message: string, options?: { field?: string; code?: string; cause?: unknown }) {
    super(options?.code ?? 'invalid_input', message, options);
    this.field = options?.field;
  }
}

type KindOptions = { code?: string; cause?: unknown };

/** A KaasError whose code, unless given, is `code`. */
function kindOf(code: string) {
  return class extends KaasError {
    constructor(message: string, options?: KindOptions) {
      super(options?.code ?? code, message, options);
    }
  };
}

/** The thing asked for does not exist (or the caller may not know it exists). */
export class NotFoundError extends kindOf('not_found') {}

/** The request conflicts with current state (a name taken, an operation already running). */
export class ConflictError extends kindOf('conflict') {}

/** The caller is not authenticated: missing, wrong, expired or revoked credentials. */
export class AuthError extends kindOf('unauthenticated') {}

/** The caller is authenticated but may not do this. */
export class ForbiddenError extends kindOf('forbidden') {}

/** A service kaas depends on (OpenStack, a database, a cluster) failed or could not be reached. */
export class UpstreamError extends kindOf('upstream_error') {}

/** The domain errors by kind: the HTTP layer maps each kind to a status, the CLI to an exit code. */
export type ErrorKind = 'input' | 'auth' | 'forbidden' | 'not_found' | 'conflict' | 'upstream';

/** The kind of a domain error; undefined for anything else (a bug, or a library's own error). */
export function errorKind(error: unknown): ErrorKind | undefined {
  if (error instanceof InputError) return 'input';
  if (error instanceof AuthError) return 'auth';
  if (error instanceof ForbiddenError) return 'forbidden';
  if (error instanceof NotFoundError) return 'not_found';
  if (error instanceof ConflictError) return 'conflict';
  if (error instanceof UpstreamError) return 'upstream';
  return undefined;
}
