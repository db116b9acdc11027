import type { Db } from './db.ts';

/**
 * The roles each of `userIds` holds on a project per the last sync, sorted by role id, in one
 * statement (listUserProjectRoles for many users); users holding none are absent.
 */
export async function listUsersProjectRoles({
  db,
  projectId,
  userIds,
}: {
  db: Db;
  projectId: string;
  userIds: string[];
}): Promise<Map<string, { roleId: string; roleName: string }[]>> {
  const roles = new Map<string, { roleId: string; roleName: string }[]>();
  if (userIds.length === 0) return roles;
  const rows = await db
    .selectFrom('role_assignments')
    .select(['user_id', 'role_id', 'role_name'])
    .where('project_id', '=', projectId)
    .where('user_id', 'in', userIds)
    .orderBy('user_id')
    .orderBy('role_id')
    .execute();
  for (const r of rows) {
    const held = roles.get(r.user_id) ?? [];
    held.push({ roleId: r.role_id, roleName: r.role_name });
    roles.set(r.user_id, held);
  }
  return roles;
}
