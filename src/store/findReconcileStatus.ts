import type { Db } from './db.ts';

/** What the reconciler last did on a cluster, for the control panel. */
export interface ReconcileStatus {
  /** When the last full pass ended; null: never reconciled yet. */
  syncedAt: string | null;
  /** Why the last pass failed; null when it succeeded (or none ran). */
  error: string | null;
}

/** The cluster's reconcile status; both null when the reconciler never looked at it. */
export async function findReconcileStatus({
  db,
  clusterId,
}: {
  db: Db;
  clusterId: string;
}): Promise<ReconcileStatus> {
  const row = await db
    .selectFrom('cluster_reconcile')
    .select(['synced_at', 'error'])
    .where('cluster_id', '=', clusterId)
    .executeTakeFirst();
  return { syncedAt: row?.synced_at ?? null, error: row?.error ?? null };
}
