import type { Db } from './db.ts';
import type { HealStatus } from './findHealStatus.ts';

/** Writes the healer's record of a cluster whole (insert or overwrite). */
export async function upsertHealStatus({
  db,
  clusterId,
  status,
}: {
  db: Db;
  clusterId: string;
  status: HealStatus;
}): Promise<void> {
  const values = {
    status: status.condition.status,
    reason: status.condition.reason,
    message: status.condition.message,
    changed_at: status.changedAt,
    checked_at: status.checkedAt,
    retried_job: status.retriedJob,
  };
  await db
    .insertInto('cluster_heal')
    .values({ cluster_id: clusterId, ...values })
    .onConflict((oc) => oc.column('cluster_id').doUpdateSet(values))
    .execute();
}
