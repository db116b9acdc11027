import type { Db } from './db.ts';
import type { JobError } from './findJob.ts';

/**
 * Ends a running job held by `owner` as succeeded or failed and releases its lease. Returns false
 * when `owner` no longer holds it (another engine took over), in which case nothing changes.
 */
export async function finishJob({
  db,
  jobId,
  owner,
  state,
  error,
  now,
}: {
  db: Db;
  jobId: string;
  owner: string;
  state: 'succeeded' | 'failed';
  error: JobError | null;
  now: string;
}): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set({
      state,
      error: error === null ? null : JSON.stringify(error),
      lease_owner: null,
      lease_expires_at: null,
      updated_at: now,
    })
    .where('id', '=', jobId)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
