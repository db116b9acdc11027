import type { Db } from './db.ts';

/** Removes sessions past their absolute expiry or idle since before `idleBefore`; returns how many. */
export async function deleteExpiredSessions({
  db,
  now,
  idleBefore,
}: {
  db: Db;
  now: string;
  idleBefore: string;
}): Promise<number> {
  const result = await db
    .deleteFrom('sessions')
    .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<', idleBefore)]))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
