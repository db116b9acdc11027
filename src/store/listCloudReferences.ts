import type { Db } from './db.ts';

/** The Keystone ids the database names: its clusters' projects, and the users of tokens, sessions and the synced user list. */
export async function listCloudReferences({
  db,
}: {
  db: Db;
}): Promise<{ projectIds: string[]; userIds: string[] }> {
  const projects = await db.selectFrom('clusters').select('project_id').distinct().execute();
  const users = await db
    .selectFrom('api_tokens')
    .select('user_id')
    .union(db.selectFrom('sessions').select('user_id'))
    .union(db.selectFrom('keystone_users').select('id as user_id'))
    .execute();
  return {
    projectIds: projects.map((row) => row.project_id).sort(),
    userIds: users.map((row) => row.user_id).sort(),
  };
}
