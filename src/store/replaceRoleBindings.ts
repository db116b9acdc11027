import type { Db } from './db.ts';
import type { RoleBinding } from './getRoleBindings.ts';
import { panelDb } from './panelSchema.ts';

/**
 * Replaces the cluster's whole bindings document and bumps its revision, which makes it pending
 * until the applier marks that revision applied. Returns the new revision.
 */
export async function replaceRoleBindings({
  db,
  clusterId,
  bindings,
  updatedBy,
  now,
}: {
  db: Db;
  clusterId: string;
  bindings: RoleBinding[];
  updatedBy: string;
  now: Date;
}): Promise<number> {
  const pdb = panelDb(db);
  const row = await pdb
    .selectFrom('cluster_role_bindings')
    .select('revision')
    .where('cluster_id', '=', clusterId)
    .executeTakeFirst();
  const revision = (row ? Number(row.revision) : 0) + 1;
  const values = {
    bindings: JSON.stringify(bindings),
    revision,
    updated_at: now.toISOString(),
    updated_by: updatedBy,
  };
  if (row) {
    await pdb
      .updateTable('cluster_role_bindings')
      .set(values)
      .where('cluster_id', '=', clusterId)
      .where('revision', '=', revision - 1)
      .execute();
  } else {
    await pdb
      .insertInto('cluster_role_bindings')
      .values({ cluster_id: clusterId, applied_revision: null, applied_at: null, ...values })
      .execute();
  }
  return revision;
}
