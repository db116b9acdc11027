import type { Db } from './db.ts';

/**
 * Gives back attempt number `attempts` of `key`, reserved at `reservedAt`, when its password check
 * reached no verdict (Keystone unreachable): only if no later attempt was reserved since, so the
 * backoff of parallel attempts is never undone.
 */
export async function refundLoginAttempt({
  db,
  key,
  attempts,
  reservedAt,
}: {
  db: Db;
  key: string;
  attempts: number;
  reservedAt: string;
}): Promise<void> {
  await db
    .updateTable('login_throttle')
    .set((eb) => ({ attempts: eb('attempts', '-', 1), next_at: reservedAt }))
    .where('key', '=', key)
    .where('attempts', '=', attempts)
    .where('last_at', '=', reservedAt)
    .execute();
}
