import { ConflictError, NotFoundError } from '../errors.ts';
import type { Db } from './db.ts';
import { conflictOnUnique } from './isUniqueViolation.ts';

/**
 * Re-queues a job so an engine resumes it: a failed job, or a running one whose lease expired (its
 * worker stopped). Finished steps keep their checkpoints; failed and interrupted steps go back to
 * pending, and the next claim counts one more attempt. Refused with ConflictError `job_running`
 * while the job runs under a live lease, `job_not_failed` for any other state, and
 * `operation_in_progress` when another job of the cluster is active.
 */
export async function retryJob({ db, jobId, now }: { db: Db; jobId: string; now: string }): Promise<void> {
  const write = async (tx: Db) => {
    const job = await tx
      .selectFrom('jobs')
      .select(['state', 'cluster_id', 'lease_expires_at'])
      .where('id', '=', jobId)
      .executeTakeFirst();
    if (!job) throw new NotFoundError(`no job ${jobId}`, { code: 'job_not_found' });
    const running = () =>
      new ConflictError(
        `job ${jobId} is running and its worker holds it until ${job.lease_expires_at}; it can be retried once it failed or its worker stopped`,
        { code: 'job_running' },
      );
    const stale = job.state === 'running' && job.lease_expires_at !== null && job.lease_expires_at < now;
    if (job.state === 'running' && !stale) throw running();
    if (job.state !== 'failed' && !stale) {
      throw new ConflictError(`job ${jobId} is ${job.state}; only a failed or stalled job can be retried`, {
        code: 'job_not_failed',
      });
    }
    const result = await conflictOnUnique(
      tx
        .updateTable('jobs')
        .set({ state: 'queued', error: null, lease_owner: null, lease_expires_at: null, updated_at: now })
        .where('id', '=', jobId)
        // Conditional again: an engine may claim the stalled job between the read and this write.
        .where((eb) =>
          eb.or([
            eb('state', '=', 'failed'),
            eb.and([eb('state', '=', 'running'), eb('lease_expires_at', '<', now)]),
          ]),
        )
        .executeTakeFirst(),
      `cluster ${job.cluster_id} already has another operation queued or running; retry once it finished`,
      'operation_in_progress',
    );
    if (Number(result.numUpdatedRows) !== 1) throw running();
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
