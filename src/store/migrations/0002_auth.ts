import type { Kysely } from 'kysely';
import { createTable, ID, NAME, TIME, type Column } from './table.ts';

/** Who holds an API token or a session, as Keystone named them when it was issued. */
const holder: Record<string, Column> = { user_id: [ID], user_name: [NAME], domain_name: [NAME] };

/** Auth tables: clusters (minimal registration), API tokens, sessions, and the Keystone sync mirror. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createTable(db, 'clusters', {
    id: [ID, 'key'],
    name: ['varchar(200)', 'unique'],
    project_id: [ID],
    project_name: ['varchar(200)'],
    admin_role_ids: ['text'],
    created_at: [TIME],
  });

  await createTable(db, 'api_tokens', {
    id: [ID, 'key'],
    ...holder,
    name: ['varchar(200)'],
    token_hash: [ID, 'unique'],
    created_at: [TIME],
    expires_at: [TIME],
    last_used_at: [TIME, 'null'],
  });
  await db.schema.createIndex('api_tokens_user').on('api_tokens').column('user_id').execute();

  await createTable(db, 'sessions', {
    id_hash: [ID, 'key'],
    ...holder,
    csrf_token: [ID],
    created_at: [TIME],
    last_seen_at: [TIME],
    expires_at: [TIME],
  });

  await createTable(db, 'keystone_users', {
    id: [ID, 'key'],
    name: [NAME],
    domain_id: [ID],
    domain_name: [NAME],
    enabled: ['integer'],
    synced_at: [TIME],
  });

  await createTable(
    db,
    'role_assignments',
    { project_id: [ID], user_id: [ID], role_id: [ID], role_name: [NAME] },
    { primaryKey: ['project_id', 'user_id', 'role_id'] },
  );

  await createTable(db, 'sync_state', {
    subject: ['varchar(200)', 'key'],
    last_success_at: [TIME, 'null'],
    last_error_at: [TIME, 'null'],
    last_error: ['text', 'null'],
  });
}
