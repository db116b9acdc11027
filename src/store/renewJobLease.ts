import type { Db } from './db.ts';

/**
 * Extends the lease of a running job still held by `owner` (the engine's heartbeat). Returns false
 * when the lease was lost (taken over after expiry, or the job finished), so the engine must stop.
 */
export async function renewJobLease({
  db,
  jobId,
  owner,
  now,
  leaseExpiresAt,
}: {
  db: Db;
  jobId: string;
  owner: string;
  now: string;
  leaseExpiresAt: string;
}): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set({ lease_expires_at: leaseExpiresAt, updated_at: now })
    .where('id', '=', jobId)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
