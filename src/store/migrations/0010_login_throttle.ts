import type { Kysely } from 'kysely';

/**
 * Login throttling shared by every replica: one row per (account, source) key (a SHA-256 hash, so
 * neither usernames typed by mistake nor client addresses are kept in clear), counting the login
 * attempts reserved since the last success and the earliest time the next one may start.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('login_throttle')
    .addColumn('key', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('last_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('login_throttle_last_at').on('login_throttle').column('last_at').execute();
}
