import { ConflictError, NotFoundError } from '../errors.ts';
import type { Db } from './db.ts';
import { isUniqueViolation } from './isUniqueViolation.ts';

/**
 * Re-queues a failed job so an engine resumes it: finished steps keep their checkpoints, failed
 * steps go back to pending. Refused (ConflictError `job_not_failed`) unless the job failed, and
 * (`operation_in_progress`) when another job of the cluster is active.
 */
export async function retryJob({ db, jobId, now }: { db: Db; jobId: string; now: string }): Promise<void> {
  const write = async (tx: Db) => {
    const job = await tx
      .selectFrom('jobs')
      .select(['state', 'cluster_id'])
      .where('id', '=', jobId)
      .executeTakeFirst();
    if (!job) throw new NotFoundError(`no job ${jobId}`, { code: 'job_not_found' });
    if (job.state !== 'failed') {
      throw new ConflictError(`job ${jobId} is ${job.state}; only a failed job can be retried`, {
        code: 'job_not_failed',
      });
    }
    try {
      await tx
        .updateTable('jobs')
        .set({ state: 'queued', error: null, lease_owner: null, lease_expires_at: null, updated_at: now })
        .where('id', '=', jobId)
        .where('state', '=', 'failed')
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new ConflictError(
          `cluster ${job.cluster_id} already has another operation queued or running; retry once it finished`,
          { code: 'operation_in_progress', cause: error },
        );
      }
      throw error;
    }
    await tx
      .updateTable('job_steps')
      .set({ state: 'pending', error: null, finished_at: null })
      .where('job_id', '=', jobId)
      .where('state', 'in', ['failed', 'running'])
      .execute();
  };
  if (db.isTransaction) await write(db);
  else await db.transaction().execute(write);
}
