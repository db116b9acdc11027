import type { Db } from './db.ts';
import type { ProvisionedClusterRecord } from './findProvisionedCluster.ts';
import { conflictOnUnique } from './isUniqueViolation.ts';

/** Records a new cluster to provision; ConflictError (`cluster_exists`) when the id or name is taken. */
export async function insertProvisionedCluster({
  db,
  cluster,
}: {
  db: Db;
  cluster: ProvisionedClusterRecord;
}): Promise<void> {
  await conflictOnUnique(
    db
      .insertInto('provisioned_clusters')
      .values({
        id: cluster.id,
        name: cluster.name,
        spec: JSON.stringify(cluster.spec),
        options: JSON.stringify(cluster.options),
        status: cluster.status,
        created_at: cluster.createdAt,
        updated_at: cluster.updatedAt,
      })
      .execute(),
    `a cluster named ${cluster.name} already exists`,
    'cluster_exists',
  );
}
