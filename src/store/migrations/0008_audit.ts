import type { Kysely } from 'kysely';

/**
 * Audit log of who did what: one row per audited request (login, token and cluster operations,
 * role-binding changes), kept apart from the operational tables so it can be exported and pruned
 * on its own. `ifNotExists` keeps the step safe to repeat.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audit_events')
    .ifNotExists()
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('at', 'varchar(32)', (c) => c.notNull())
    .addColumn('actor_user_id', 'varchar(64)')
    .addColumn('actor_name', 'varchar(255)')
    .addColumn('action', 'varchar(64)', (c) => c.notNull())
    .addColumn('target', 'varchar(255)')
    .addColumn('cluster_id', 'varchar(64)')
    .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('request_id', 'varchar(64)')
    .addColumn('source_ip', 'varchar(64)')
    .execute();
  await db.schema
    .createIndex('audit_events_at')
    .ifNotExists()
    .on('audit_events')
    .columns(['at', 'id'])
    .execute();
  await db.schema
    .createIndex('audit_events_cluster')
    .ifNotExists()
    .on('audit_events')
    .columns(['cluster_id', 'at'])
    .execute();
  await db.schema
    .createIndex('audit_events_actor')
    .ifNotExists()
    .on('audit_events')
    .columns(['actor_user_id', 'at'])
    .execute();
}
