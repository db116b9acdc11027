import type { Kysely } from 'kysely';

/**
 * Managed-service status per cluster: what the addon applier last observed for each service
 * (pending | applying | ready | failed, with a message the control panel shows) and the
 * references of every object it applied for that service, so objects a later spec no longer
 * renders — or a whole removed service — can be pruned without listing every kind by label.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('addon_status')
    .addColumn('cluster_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('addon', 'varchar(64)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('objects', 'text', (c) => c.notNull())
    .addColumn('observed_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('addon_status_pk', ['cluster_id', 'addon'])
    .execute();
}
