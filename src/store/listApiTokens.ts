import type { Db } from './db.ts';
import { apiTokenFromRow } from './findApiTokenByHash.ts';
import type { ApiTokenRecord } from './insertApiToken.ts';

/** A user's tokens, newest first (expired ones included, so the user can see and delete them). */
export async function listApiTokens({ db, userId }: { db: Db; userId: string }): Promise<ApiTokenRecord[]> {
  const rows = await db
    .selectFrom('api_tokens')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
  return rows.map(apiTokenFromRow);
}
