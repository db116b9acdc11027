import type { Db } from './db.ts';

/** The roles a user effectively holds on a project per the last sync, sorted by role id. */
export async function listUserProjectRoles({
  db,
  userId,
  projectId,
}: {
  db: Db;
  userId: string;
  projectId: string;
}): Promise<{ roleId: string; roleName: string }[]> {
  const rows = await db
    .selectFrom('role_assignments')
    .select(['role_id', 'role_name'])
    .where('project_id', '=', projectId)
    .where('user_id', '=', userId)
    .orderBy('role_id')
    .execute();
  return rows.map((r) => ({ roleId: r.role_id, roleName: r.role_name }));
}
