import { randomUUID } from 'node:crypto';
import type { Db } from './db.ts';

/** One progress line of a job. */
export interface JobEvent {
  at: string;
  stepId: string | null;
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** Appends a progress event to a job's log. */
export async function insertJobEvent({
  db,
  jobId,
  event,
}: {
  db: Db;
  jobId: string;
  event: JobEvent;
}): Promise<void> {
  await db
    .insertInto('job_events')
    .values({
      id: randomUUID(),
      job_id: jobId,
      at: event.at,
      step_id: event.stepId,
      level: event.level,
      message: event.message,
    })
    .execute();
}
