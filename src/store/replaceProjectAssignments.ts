import type { Db } from './db.ts';

/** One effective role a user holds on a project. */
export interface RoleAssignmentRecord {
  userId: string;
  roleId: string;
  roleName: string;
}

/**
 * Makes a project's mirrored effective assignments equal to `assignments`; returns the user ids
 * whose roles changed. Run it in a transaction.
 */
export async function replaceProjectAssignments({
  db,
  projectId,
  assignments,
}: {
  db: Db;
  projectId: string;
  assignments: readonly RoleAssignmentRecord[];
}): Promise<string[]> {
  const key = (a: { userId: string; roleId: string }) => `${a.userId}\u0000${a.roleId}`;
  const rows = await db
    .selectFrom('role_assignments')
    .selectAll()
    .where('project_id', '=', projectId)
    .execute();
  const existing = new Map(rows.map((r) => [key({ userId: r.user_id, roleId: r.role_id }), r]));
  const wanted = new Map(assignments.map((a) => [key(a), a]));
  const changed = new Set<string>();
  for (const [k, a] of wanted) {
    const old = existing.get(k);
    if (!old) {
      await db
        .insertInto('role_assignments')
        .values({ project_id: projectId, user_id: a.userId, role_id: a.roleId, role_name: a.roleName })
        .execute();
      changed.add(a.userId);
    } else if (old.role_name !== a.roleName) {
      await db
        .updateTable('role_assignments')
        .set({ role_name: a.roleName })
        .where('project_id', '=', projectId)
        .where('user_id', '=', a.userId)
        .where('role_id', '=', a.roleId)
        .execute();
      changed.add(a.userId);
    }
  }
  for (const [k, r] of existing) {
    if (wanted.has(k)) continue;
    await db
      .deleteFrom('role_assignments')
      .where('project_id', '=', projectId)
      .where('user_id', '=', r.user_id)
      .where('role_id', '=', r.role_id)
      .execute();
    changed.add(r.user_id);
  }
  return [...changed];
}
