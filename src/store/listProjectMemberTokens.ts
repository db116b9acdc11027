import type { Db } from './db.ts';
import { apiTokenFromRow } from './findApiTokenByHash.ts';
import type { ApiTokenRecord } from './insertApiToken.ts';

/**
 * API tokens of every user who holds any role on the project (per the last sync), newest first:
 * the tokens that can authenticate to that project's clusters, which its administrators oversee.
 */
export async function listProjectMemberTokens({
  db,
  projectId,
}: {
  db: Db;
  projectId: string;
}): Promise<ApiTokenRecord[]> {
  const rows = await db
    .selectFrom('api_tokens')
    .selectAll()
    .where('user_id', 'in', (eb) =>
      eb.selectFrom('role_assignments').select('user_id').where('project_id', '=', projectId),
    )
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
  return rows.map(apiTokenFromRow);
}
