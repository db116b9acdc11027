import type { Db } from './db.ts';
import type { JobKind } from './findJob.ts';
import { conflictOnUnique } from './isUniqueViolation.ts';

/** What a new job needs: its plan's step ids in order, plus the input the executor reads. */
export interface NewJob {
  id: string;
  clusterId: string;
  kind: JobKind;
  input: unknown;
  stepIds: readonly string[];
  createdAt: string;
}

/**
 * Queues a job with all its steps pending, atomically. Refused with ConflictError
 * (`operation_in_progress`) when the cluster already has a queued or running job: the partial unique
 * index `jobs_one_active_per_cluster` enforces that, so concurrent API replicas cannot race past it.
 */
export async function insertJob({ db, job }: { db: Db; job: NewJob }): Promise<void> {
  const write = async (tx: Db) => {
    await conflictOnUnique(
      tx
        .insertInto('jobs')
        .values({
          id: job.id,
          cluster_id: job.clusterId,
          kind: job.kind,
          state: 'queued',
          input: JSON.stringify(job.input),
          error: null,
          created_at: job.createdAt,
          updated_at: job.createdAt,
          lease_owner: null,
          lease_expires_at: null,
          attempt: 0,
        })
        .execute(),
      `cluster ${job.clusterId} already has an operation queued or running; wait for it to finish (or retry/delete it once it failed)`,
      'operation_in_progress',
    );
    if (job.stepIds.length > 0) {
      await tx
        .insertInto('job_steps')
        .values(
          job.stepIds.map((stepId, position) => ({
            job_id: job.id,
            step_id: stepId,
            position,
            state: 'pending',
            output: null,
            error: null,
            started_at: null,
            finished_at: null,
            runs: 0,
          })),
        )
        .execute();
    }
  };
  if (db.isTransaction) await write(db);
  else await db.transaction().execute(write);
}
