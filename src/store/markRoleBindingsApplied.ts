import type { Db } from './db.ts';
import { panelDb } from './panelSchema.ts';

/**
 * Records that the applier pushed `revision` of the cluster's bindings to Kubernetes. A revision
 * older than the one already recorded is ignored, so a slow applier can't mark newer edits applied.
 * Returns whether anything changed.
 */
export async function markRoleBindingsApplied({
  db,
  clusterId,
  revision,
  now,
}: {
  db: Db;
  clusterId: string;
  revision: number;
  now: Date;
}): Promise<boolean> {
  const result = await panelDb(db)
    .updateTable('cluster_role_bindings')
    .set({ applied_revision: revision, applied_at: now.toISOString() })
    .where('cluster_id', '=', clusterId)
    .where('revision', '>=', revision)
    .where((eb) => eb.or([eb('applied_revision', 'is', null), eb('applied_revision', '<', revision)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
