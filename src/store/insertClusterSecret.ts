import type { Db } from './db.ts';
import { conflictOnUnique } from './isUniqueViolation.ts';

/** Stores a cluster's sealed secrets once; ConflictError (`cluster_secret_exists`) if already there. */
export async function insertClusterSecret({
  db,
  clusterId,
  sealed,
  now,
}: {
  db: Db;
  clusterId: string;
  sealed: string;
  now: string;
}): Promise<void> {
  await conflictOnUnique(
    db.insertInto('cluster_secrets').values({ cluster_id: clusterId, sealed, created_at: now }).execute(),
    `cluster ${clusterId} already has secrets`,
    'cluster_secret_exists',
  );
}
