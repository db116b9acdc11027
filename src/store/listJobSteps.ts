import type { Db } from './db.ts';
import type { JobError } from './findJob.ts';

/** Lifecycle of one step. */
export type StepState = 'pending' | 'running' | 'done' | 'failed';

/** One step of a job with its checkpoint. */
export interface JobStepRecord {
  jobId: string;
  stepId: string;
  position: number;
  state: StepState;
  output: unknown;
  error: JobError | null;
  startedAt: string | null;
  finishedAt: string | null;
  runs: number;
}

/** Every step of a job in plan order. */
export async function listJobSteps({ db, jobId }: { db: Db; jobId: string }): Promise<JobStepRecord[]> {
  const rows = await db
    .selectFrom('job_steps')
    .selectAll()
    .where('job_id', '=', jobId)
    .orderBy('position')
    .execute();
  return rows.map((row) => ({
    jobId: row.job_id,
    stepId: row.step_id,
    position: Number(row.position),
    state: row.state as StepState,
    output: row.output === null ? null : (JSON.parse(row.output) as unknown),
    error: row.error === null ? null : (JSON.parse(row.error) as JobError),
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    runs: Number(row.runs),
  }));
}
