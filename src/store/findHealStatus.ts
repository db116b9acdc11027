import type { Db } from './db.ts';

/** A cluster's AutoHeal condition (reasons: src/cluster/heal.ts); status False: healing stopped. */
export interface HealConditionRecord {
  type: 'AutoHeal';
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/** The cluster's AutoHeal condition as the healer last decided it. */
export interface HealStatus {
  condition: HealConditionRecord;
  /** When the condition took this status and reason. */
  changedAt: string;
  /** When the healer last wrote this record (only a change is written). */
  checkedAt: string;
  /** The failed heal job retried once already. */
  retriedJob: string | null;
}

/** The healer's record of a cluster; undefined before its first look. */
export async function findHealStatus({
  db,
  clusterId,
}: {
  db: Db;
  clusterId: string;
}): Promise<HealStatus | undefined> {
  const row = await db
    .selectFrom('cluster_heal')
    .selectAll()
    .where('cluster_id', '=', clusterId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    condition: {
      type: 'AutoHeal',
      status: row.status === 'False' ? 'False' : 'True',
      reason: row.reason,
      message: row.message,
    },
    changedAt: row.changed_at,
    checkedAt: row.checked_at,
    retriedJob: row.retried_job,
  };
}
