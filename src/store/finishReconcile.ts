import type { Db } from './db.ts';

/**
 * Ends `owner`'s pass on a cluster: releases the lease and records the outcome. A full pass sets
 * `syncedAt` (the next resync counts from it); a bindings-only pass leaves it. Each field left
 * undefined keeps what is recorded (a stopped pass records nothing but the released lease).
 * Returns false when the lease was no longer ours (nothing is then recorded).
 */
export async function finishReconcile({
  db,
  clusterId,
  owner,
  syncedAt,
  error,
  bindingsTried,
}: {
  db: Db;
  clusterId: string;
  owner: string;
  syncedAt?: string;
  error?: string | null;
  bindingsTried?: number;
}): Promise<boolean> {
  const result = await db
    .updateTable('cluster_reconcile')
    .set({
      lease_owner: null,
      lease_expires_at: null,
      ...(bindingsTried === undefined ? {} : { bindings_tried: bindingsTried }),
      ...(syncedAt === undefined ? {} : { synced_at: syncedAt }),
      ...(error === undefined ? {} : { error }),
    })
    .where('cluster_id', '=', clusterId)
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
