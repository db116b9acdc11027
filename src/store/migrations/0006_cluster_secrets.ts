import type { Kysely } from 'kysely';
import { createTable, ID, TIME } from './table.ts';

/**
 * Per-cluster secrets (cluster CA key, join token, certificate key, break-glass admin certificate)
 * as one sealed AES-256-GCM document per cluster: the database never holds them in plain text.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createTable(db, 'cluster_secrets', { cluster_id: [ID, 'key'], sealed: ['text'], created_at: [TIME] });
}
