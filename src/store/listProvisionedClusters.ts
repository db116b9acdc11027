import type { Db } from './db.ts';
import { provisionedClusterFromRow, type ProvisionedClusterRecord } from './findProvisionedCluster.ts';

/** Every provisioned cluster, oldest first. */
export async function listProvisionedClusters({ db }: { db: Db }): Promise<ProvisionedClusterRecord[]> {
  const rows = await db
    .selectFrom('provisioned_clusters')
    .selectAll()
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(provisionedClusterFromRow);
}
