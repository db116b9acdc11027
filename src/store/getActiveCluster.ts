import type { Db } from './db.ts';
import { panelDb } from './panelSchema.ts';

/** The cluster id the user last chose in the control panel, or undefined if never chosen. */
export async function getActiveCluster({
  db,
  userId,
}: {
  db: Db;
  userId: string;
}): Promise<string | undefined> {
  const row = await panelDb(db)
    .selectFrom('panel_preferences')
    .select('active_cluster_id')
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row?.active_cluster_id ?? undefined;
}
