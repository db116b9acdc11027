import type { Db } from './db.ts';
import { apiTokenFromRow } from './findApiTokenByHash.ts';
import type { ApiTokenRecord } from './insertApiToken.ts';

/**
 * Deletes a token and returns what was deleted (undefined when none matched). With `userId`, only
 * that user's token matches, so a user can never delete someone else's token by guessing an id.
 */
export async function deleteApiToken({
  db,
  id,
  userId,
}: {
  db: Db;
  id: string;
  userId?: string;
}): Promise<ApiTokenRecord | undefined> {
  let query = db.selectFrom('api_tokens').selectAll().where('id', '=', id);
  if (userId !== undefined) query = query.where('user_id', '=', userId);
  const row = await query.executeTakeFirst();
  if (!row) return undefined;
  await db.deleteFrom('api_tokens').where('id', '=', id).execute();
  return apiTokenFromRow(row);
}
