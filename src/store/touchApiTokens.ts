import { sql } from 'kysely';
import type { Db } from './db.ts';

/** Rows per statement: far below both engines' bound-parameter limits. */
const CHUNK = 500;

/**
 * Records last-used times in one batch; a time never moves backwards. One UPDATE ... FROM (VALUES ...)
 * statement per 500 tokens, not one per token: on SQLite every statement runs synchronously on the
 * event loop, so a thousand of them in a row would stall the TokenReview webhook for their sum.
 */
export async function touchApiTokens({
  db,
  usedAt,
}: {
  db: Db;
  usedAt: ReadonlyMap<string, string>;
}): Promise<void> {
  const all = [...usedAt];
  for (let start = 0; start < all.length; start += CHUNK) {
    const rows = all.slice(start, start + CHUNK).map(([id, at]) => sql`(${id}, ${at})`);
    await sql`WITH used (id, at) AS (VALUES ${sql.join(rows)})
              UPDATE api_tokens SET last_used_at = used.at
              FROM used
              WHERE api_tokens.id = used.id
                AND (api_tokens.last_used_at IS NULL OR api_tokens.last_used_at < used.at)`.execute(db);
  }
}
