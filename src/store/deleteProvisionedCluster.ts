import type { Db } from './db.ts';

/**
 * Forgets a cluster once its resources are gone: its provisioning record, its auth registration
 * (so TokenReviews for it stop and the name can be reused), its reconciler and healer records and
 * the enrollments of nodes that never booted. Jobs stay, as history.
 */
export async function deleteProvisionedCluster({ db, id }: { db: Db; id: string }): Promise<void> {
  await db.deleteFrom('provisioned_clusters').where('id', '=', id).execute();
  await db.deleteFrom('clusters').where('id', '=', id).execute();
  await db.deleteFrom('cluster_reconcile').where('cluster_id', '=', id).execute();
  await db.deleteFrom('node_health').where('cluster_id', '=', id).execute();
  await db.deleteFrom('cluster_heal').where('cluster_id', '=', id).execute();
  await db.deleteFrom('enrollments').where('cluster_id', '=', id).execute();
}
