import type { Db } from './db.ts';

/**
 * Replaces a cluster's sealed secrets with `sealed` only if they are still `previous` (so a
 * re-seal never overwrites a concurrent change); returns whether the row was replaced.
 */
export async function replaceClusterSecret({
  db,
  clusterId,
  previous,
  sealed,
}: {
  db: Db;
  clusterId: string;
  previous: string;
  sealed: string;
}): Promise<boolean> {
  const result = await db
    .updateTable('cluster_secrets')
    .set({ sealed })
    .where('cluster_id', '=', clusterId)
    .where('sealed', '=', previous)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
