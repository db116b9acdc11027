/** Row type of the reconciler's table (migration 0011_reconcile); listed in schema.ts's Database. */

/** One cluster's reconcile lease and last pass. */
export interface ClusterReconcileTable {
  cluster_id: string;
  /** The replica reconciling the cluster now (NULL: none). */
  lease_owner: string | null;
  lease_expires_at: string | null;
  /** When the last full pass (managed services and role bindings) ended; NULL: never. */
  synced_at: string | null;
  /** Why the last pass failed (no secrets); NULL when it succeeded. */
  error: string | null;
  /** The role-binding revision the last pass tried to apply (0: none). */
  bindings_tried: number;
}
