import type { Db } from './db.ts';
import type { JobError } from './findJob.ts';
import type { StepState } from './listJobSteps.ts';

/** A change to one step: start it, checkpoint its output, finish or fail it. */
export interface StepUpdate {
  state?: StepState;
  /** Replaces the checkpoint (the ids of what the step has made so far). */
  output?: unknown;
  error?: JobError | null;
  startedAt?: string;
  finishedAt?: string | null;
  /** Count one more run of the step (set when starting it). */
  countRun?: boolean;
}

/**
 * Updates a step of a job only while `owner` holds the job's lease, so an engine that lost its lease
 * (and may still be finishing a call) cannot overwrite the new owner's checkpoints. Returns false
 * when the lease is no longer held.
 */
export async function updateJobStep({
  db,
  jobId,
  stepId,
  owner,
  update,
}: {
  db: Db;
  jobId: string;
  stepId: string;
  owner: string;
  update: StepUpdate;
}): Promise<boolean> {
  const result = await db
    .updateTable('job_steps')
    .set((eb) => ({
      ...(update.state === undefined ? {} : { state: update.state }),
      ...(update.output === undefined ? {} : { output: JSON.stringify(update.output) }),
      ...(update.error === undefined
        ? {}
        : { error: update.error === null ? null : JSON.stringify(update.error) }),
      ...(update.startedAt === undefined ? {} : { started_at: update.startedAt }),
      ...(update.finishedAt === undefined ? {} : { finished_at: update.finishedAt }),
      ...(update.countRun ? { runs: eb('runs', '+', 1) } : {}),
    }))
    .where('job_id', '=', jobId)
    .where('step_id', '=', stepId)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('jobs')
          .select('jobs.id')
          .where('jobs.id', '=', jobId)
          .where('jobs.lease_owner', '=', owner)
          .where('jobs.state', '=', 'running'),
      ),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
