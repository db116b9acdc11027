import { ConflictError } from '../errors.ts';
import type { Db } from './db.ts';
import { isUniqueViolation } from './isUniqueViolation.ts';

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
  try {
    await db
      .insertInto('cluster_secrets')
      .values({ cluster_id: clusterId, sealed, created_at: now })
      .execute();
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new ConflictError(`cluster ${clusterId} already has secrets`, {
        code: 'cluster_secret_exists',
        cause: error,
      });
    }
    throw error;
  }
}
