import type { Kysely } from 'kysely';
import { createTable, ID, NAME, TIME } from './table.ts';

/**
 * Node enrollments: what a booting node fetches instead of finding it in its user data. A row
 * lives from the render of the node's user data until the node redeems it (the row is deleted
 * then) or it expires; `secret_hash` is the SHA-256 of the node's credential, `files` its
 * answer sealed with a key only the credential yields.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createTable(db, 'enrollments', {
    secret_hash: [ID, 'key'],
    cluster_id: [ID],
    node: [NAME],
    files: ['text'],
    created_at: [TIME],
    expires_at: [TIME],
  });
}
