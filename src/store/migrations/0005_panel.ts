import type { Kysely } from 'kysely';

/**
 * Control-panel tables: each user's remembered active cluster, the Keystone-role → Kubernetes-role
 * bindings an administrator edits (one versioned document per cluster, so "pending" is simply
 * revision ≠ applied revision), and what the panel shows about a cluster's endpoint and state.
 * `ifNotExists` keeps the step safe to repeat.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('panel_preferences')
    .ifNotExists()
    .addColumn('user_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('active_cluster_id', 'varchar(64)')
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('cluster_role_bindings')
    .ifNotExists()
    .addColumn('cluster_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('bindings', 'text', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('applied_revision', 'integer')
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_by', 'varchar(255)', (c) => c.notNull())
    .addColumn('applied_at', 'varchar(32)')
    .execute();

  await db.schema
    .createTable('cluster_endpoints')
    .ifNotExists()
    .addColumn('cluster_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('api_url', 'text')
    .addColumn('ca_cert_pem', 'text')
    .addColumn('ingress_domain', 'varchar(255)')
    .addColumn('kubernetes_version', 'varchar(64)')
    .addColumn('node_count', 'integer')
    .addColumn('provisioning_state', 'varchar(64)')
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}
