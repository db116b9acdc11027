import { ConflictError } from '../errors.ts';

/** True when a database error is a unique-constraint violation, on SQLite or PostgreSQL. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Awaits a write; a unique violation becomes a ConflictError with this message and code (the violation its cause). */
export async function conflictOnUnique<T>(write: Promise<T>, message: string, code: string): Promise<T> {
  try {
    return await write;
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(message, { code, cause: error });
    throw error;
  }
}
