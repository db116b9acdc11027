import type { Db } from './db.ts';

/** The distinct Keystone roles anyone holds on the project per the last sync, by name. */
export async function listProjectRoles({
  db,
  projectId,
}: {
  db: Db;
  projectId: string;
}): Promise<{ roleId: string; roleName: string }[]> {
  const rows = await db
    .selectFrom('role_assignments')
    .select(['role_id', 'role_name'])
    .distinct()
    .where('project_id', '=', projectId)
    .orderBy('role_name')
    .orderBy('role_id')
    .execute();
  return rows.map((r) => ({ roleId: r.role_id, roleName: r.role_name }));
}
