import type { Db } from './db.ts';
import type { EnrollmentsTable } from './enrollmentSchema.ts';

/**
 * Takes the enrollment of `clusterId` whose credential hashes to `secretHash` out of the store and
 * returns it (expired ones too: the caller refuses them), or undefined. One statement, so of two
 * callers with the same credential only one gets it.
 */
export async function redeemEnrollment({
  db,
  clusterId,
  secretHash,
}: {
  db: Db;
  clusterId: string;
  secretHash: string;
}): Promise<EnrollmentsTable | undefined> {
  return db
    .deleteFrom('enrollments')
    .where('secret_hash', '=', secretHash)
    .where('cluster_id', '=', clusterId)
    .returningAll()
    .executeTakeFirst();
}
