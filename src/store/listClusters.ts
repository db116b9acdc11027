import type { Db } from './db.ts';
import { clusterFromRow } from './findCluster.ts';
import type { ClusterRecord } from './insertCluster.ts';

/** Every registered cluster, oldest first. */
export async function listClusters({ db }: { db: Db }): Promise<ClusterRecord[]> {
  const rows = await db.selectFrom('clusters').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map(clusterFromRow);
}
