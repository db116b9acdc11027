import type { Kysely } from 'kysely';
import { createTable, ID, NAME, TIME } from './table.ts';

/**
 * Audit log of who did what: one row per audited request (login, token and cluster operations,
 * role-binding changes), kept apart from the operational tables so it can be exported and pruned
 * on its own. `ifNotExists` keeps the step safe to repeat.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createTable(
    db,
    'audit_events',
    {
      id: [ID, 'key'],
      at: [TIME],
      actor_user_id: [ID, 'null'],
      actor_name: [NAME, 'null'],
      action: [ID],
      target: [NAME, 'null'],
      cluster_id: [ID, 'null'],
      outcome: ['varchar(16)'],
      details: ['text'],
      request_id: [ID, 'null'],
      source_ip: [ID, 'null'],
    },
    { ifNotExists: true },
  );
  const indexes: [string, string[]][] = [
    ['audit_events_at', ['at', 'id']],
    ['audit_events_cluster', ['cluster_id', 'at']],
    ['audit_events_actor', ['actor_user_id', 'at']],
  ];
  for (const [index, columns] of indexes) {
    await db.schema.createIndex(index).ifNotExists().on('audit_events').columns(columns).execute();
  }
}
