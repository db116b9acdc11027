import type { Kysely } from 'kysely';

/**
 * The managed-service reconciler's record per cluster: which replica holds the cluster's reconcile
 * lease until when (one replica at a time), when its last full pass ended and how (error NULL =
 * every service converged), and the role-binding revision it last tried, so a saved revision is
 * picked up once (a cheap comparison, not a re-apply on every poll).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('cluster_reconcile')
    .addColumn('cluster_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('lease_owner', 'varchar(255)')
    .addColumn('lease_expires_at', 'varchar(32)')
    .addColumn('synced_at', 'varchar(32)')
    .addColumn('error', 'text')
    .addColumn('bindings_tried', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}
