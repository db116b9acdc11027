import type { Kysely } from 'kysely';
import { createTable, ID, TIME } from './table.ts';

/**
 * Managed-service status per cluster: what the addon applier last observed for each service
 * (pending | applying | ready | failed, with a message the control panel shows) and the
 * references of every object it applied for that service, so objects a later spec no longer
 * renders — or a whole removed service — can be pruned without listing every kind by label.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createTable(
    db,
    'addon_status',
    {
      cluster_id: [ID],
      addon: [ID],
      state: ['varchar(16)'],
      message: ['text'],
      objects: ['text'],
      observed_at: [TIME],
    },
    { primaryKey: ['cluster_id', 'addon'] },
  );
}
