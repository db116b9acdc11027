import type { Kysely } from 'kysely';
import { createTable, ID, NAME, TIME } from './table.ts';

/**
 * Auto-healing's memory, so a restart neither resets a Node's clock nor repeats a retry:
 * `node_health` holds since when each Node of a cluster has been seen not Ready (a row per Node not
 * Ready now), `cluster_heal` the cluster's AutoHeal condition as last decided, since when it has
 * that reason, and the failed heal job already retried once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createTable(
    db,
    'node_health',
    { cluster_id: [ID], node: [NAME], unhealthy_since: [TIME] },
    { primaryKey: ['cluster_id', 'node'] },
  );
  await createTable(db, 'cluster_heal', {
    cluster_id: [ID, 'key'],
    status: ['varchar(8)'],
    reason: ['varchar(32)'],
    message: ['text'],
    changed_at: [TIME],
    checked_at: [TIME],
    retried_job: [ID, 'null'],
  });
}
