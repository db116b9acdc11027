import type { Db } from './db.ts';

/** Forgets a service once its objects are pruned; absent already is fine. Returns whether a row went. */
export async function deleteAddonStatus({
  db,
  clusterId,
  addon,
}: {
  db: Db;
  clusterId: string;
  addon: string;
}): Promise<boolean> {
  const result = await db
    .deleteFrom('addon_status')
    .where('cluster_id', '=', clusterId)
    .where('addon', '=', addon)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
