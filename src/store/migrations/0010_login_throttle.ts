import type { Kysely } from 'kysely';
import { createTable, ID, TIME } from './table.ts';

/**
 * Login throttling shared by every replica: one row per (account, source) key (a SHA-256 hash, so
 * neither usernames typed by mistake nor client addresses are kept in clear), counting the login
 * attempts reserved since the last success and the earliest time the next one may start.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createTable(db, 'login_throttle', {
    key: [ID, 'key'],
    attempts: ['integer'],
    next_at: [TIME],
    last_at: [TIME],
  });
  await db.schema.createIndex('login_throttle_last_at').on('login_throttle').column('last_at').execute();
}
