/** Row types of auto-healing's tables (migration 0012_heal); listed in schema.ts's Database. */

/** One Node seen not Ready, and since when. */
export interface NodeHealthTable {
  cluster_id: string;
  node: string;
  unhealthy_since: string;
}

/** One cluster's AutoHeal condition as the healer last decided it. */
export interface ClusterHealTable {
  cluster_id: string;
  /** True | False (False: healing stopped, a person must look). */
  status: string;
  /** A HealReason of src/cluster/heal.ts (Healthy, Waiting, Replacing, TooManyUnhealthy, EtcdAtRisk, ...). */
  reason: string;
  message: string;
  /** When the condition took this status and reason. */
  changed_at: string;
  /** When the healer last wrote the record (it writes only when the condition or retried job changes). */
  checked_at: string;
  /** The failed heal job the healer retried once (a second failure stops healing). */
  retried_job: string | null;
}
