import type { Kysely } from 'kysely';

/**
 * Per-cluster secrets (cluster CA key, join token, certificate key, break-glass admin certificate)
 * as one sealed AES-256-GCM document per cluster: the database never holds them in plain text.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('cluster_secrets')
    .addColumn('cluster_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}
