import type { Db } from './db.ts';

/** Removes keys idle since before `before` and out of backoff at `now`; returns how many. */
export async function deleteStaleLoginThrottles({
  db,
  before,
  now,
}: {
  db: Db;
  before: string;
  now: string;
}): Promise<number> {
  const result = await db
    .deleteFrom('login_throttle')
    .where('last_at', '<', before)
    .where('next_at', '<=', now)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
