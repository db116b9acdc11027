import { sql } from 'kysely';
import type { Db } from './db.ts';

/** A reserved attempt (its number since the last success), or a refusal until `nextAt`. */
export type LoginReservation = { allowed: true; attempts: number } | { allowed: false; nextAt: string };

/**
 * Reserves one login attempt for `key` in a single statement (insert, or an update guarded by the
 * backoff), so parallel attempts on any number of replicas are counted one at a time and none slips
 * past the backoff. `nextAt[i]` is when the key opens again after attempt i+1 (the last entry holds
 * for every later attempt); a key idle since `forgetBefore` starts again at attempt 1.
 */
export async function reserveLoginAttempt({
  db,
  key,
  now,
  forgetBefore,
  nextAt,
}: {
  db: Db;
  key: string;
  now: string;
  forgetBefore: string;
  nextAt: readonly [string, ...string[]];
}): Promise<LoginReservation> {
  const stale = sql<boolean>`login_throttle.last_at < ${forgetBefore}`;
  const count = sql<number>`CASE WHEN ${stale} THEN 1 ELSE login_throttle.attempts + 1 END`;
  const ladder = sql.join(
    nextAt.map((at, i) => sql`WHEN ${count} <= ${sql.lit(i + 1)} THEN ${at}`),
    sql` `,
  );
  const reserved = await db
    .insertInto('login_throttle')
    .values({ key, attempts: 1, next_at: nextAt[0], last_at: now })
    .onConflict((oc) =>
      oc
        .column('key')
        .doUpdateSet({
          attempts: count,
          next_at: sql<string>`CASE ${ladder} ELSE ${nextAt[nextAt.length - 1]} END`,
          last_at: now,
        })
        .where(sql<boolean>`login_throttle.next_at <= ${now} OR ${stale}`),
    )
    .returning('attempts')
    .executeTakeFirst();
  if (reserved) return { allowed: true, attempts: Number(reserved.attempts) };
  const row = await db
    .selectFrom('login_throttle')
    .select('next_at')
    .where('key', '=', key)
    .executeTakeFirst();
  // A success may have cleared the key in between: refuse this once, open from now.
  return { allowed: false, nextAt: row?.next_at ?? now };
}
