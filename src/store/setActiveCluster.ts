import type { Db } from './db.ts';
import { panelDb } from './panelSchema.ts';

/** Remembers the user's active cluster (insert or overwrite); visibility is the caller's check. */
export async function setActiveCluster({
  db,
  userId,
  clusterId,
  now,
}: {
  db: Db;
  userId: string;
  clusterId: string;
  now: Date;
}): Promise<void> {
  const updatedAt = now.toISOString();
  await panelDb(db)
    .insertInto('panel_preferences')
    .values({ user_id: userId, active_cluster_id: clusterId, updated_at: updatedAt })
    .onConflict((oc) =>
      oc.column('user_id').doUpdateSet({ active_cluster_id: clusterId, updated_at: updatedAt }),
    )
    .execute();
}
