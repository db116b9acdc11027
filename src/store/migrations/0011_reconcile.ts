import type { Kysely } from 'kysely';
import { createTable, ID, NAME, TIME } from './table.ts';

/**
 * The managed-service reconciler's record per cluster: which replica holds the cluster's reconcile
 * lease until when (one replica at a time), when its last full pass ended and how (error NULL =
 * every service converged), and the role-binding revision it last tried, so a saved revision is
 * picked up once (a cheap comparison, not a re-apply on every poll).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createTable(db, 'cluster_reconcile', {
    cluster_id: [ID, 'key'],
    lease_owner: [NAME, 'null'],
    lease_expires_at: [TIME, 'null'],
    synced_at: [TIME, 'null'],
    error: ['text', 'null'],
    bindings_tried: ['integer', 'zero'],
  });
}
