import type { Kysely } from 'kysely';

/**
 * Auto-healing's memory, so a restart neither resets a Node's clock nor repeats a retry:
 * `node_health` holds since when each Node of a cluster has been seen not Ready (a row per Node not
 * Ready now), `cluster_heal` the cluster's AutoHeal condition as last decided, since when it has
 * that reason, and the failed heal job already retried once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('node_health')
    .addColumn('cluster_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('node', 'varchar(255)', (c) => c.notNull())
    .addColumn('unhealthy_since', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('node_health_pk', ['cluster_id', 'node'])
    .execute();
  await db.schema
    .createTable('cluster_heal')
    .addColumn('cluster_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('status', 'varchar(8)', (c) => c.notNull())
    .addColumn('reason', 'varchar(32)', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('changed_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('checked_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('retried_job', 'varchar(64)')
    .execute();
}
