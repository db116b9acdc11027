import type { Kysely } from 'kysely';

/** Auth tables: clusters (minimal registration), API tokens, sessions, and the Keystone sync mirror. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('clusters')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(200)', (c) => c.notNull().unique())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('project_name', 'varchar(200)', (c) => c.notNull())
    .addColumn('admin_role_ids', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('domain_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('name', 'varchar(200)', (c) => c.notNull())
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('last_used_at', 'varchar(32)')
    .execute();
  await db.schema.createIndex('api_tokens_user').on('api_tokens').column('user_id').execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('domain_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('csrf_token', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('last_seen_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('keystone_users')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('domain_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('synced_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('role_assignments')
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('role_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('role_name', 'varchar(255)', (c) => c.notNull())
    .addPrimaryKeyConstraint('role_assignments_pk', ['project_id', 'user_id', 'role_id'])
    .execute();

  await db.schema
    .createTable('sync_state')
    .addColumn('subject', 'varchar(200)', (c) => c.primaryKey())
    .addColumn('last_success_at', 'varchar(32)')
    .addColumn('last_error_at', 'varchar(32)')
    .addColumn('last_error', 'text')
    .execute();
}
