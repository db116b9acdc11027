import type { Db } from './db.ts';

/**
 * Extends `owner`'s reconcile lease on a cluster that is still ready and has no job queued or
 * running. Returns false when the pass must stop: the lease is gone, or an operation now has the
 * cluster (the reconciler pauses for it).
 */
export async function renewReconcileLease({
  db,
  clusterId,
  owner,
  leaseExpiresAt,
}: {
  db: Db;
  clusterId: string;
  owner: string;
  leaseExpiresAt: string;
}): Promise<boolean> {
  const result = await db
    .updateTable('cluster_reconcile')
    .set({ lease_expires_at: leaseExpiresAt })
    .where('cluster_id', '=', clusterId)
    .where('lease_owner', '=', owner)
    .where((eb) =>
      eb.and([
        eb.exists(
          eb
            .selectFrom('provisioned_clusters as c')
            .select('c.id')
            .where('c.id', '=', clusterId)
            .where('c.status', '=', 'ready'),
        ),
        eb.not(
          eb.exists(
            eb
              .selectFrom('jobs as j')
              .select('j.id')
              .where('j.cluster_id', '=', clusterId)
              .where('j.state', 'in', ['queued', 'running']),
          ),
        ),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
