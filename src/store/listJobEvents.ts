import type { Db } from './db.ts';
import type { JobEvent } from './insertJobEvent.ts';

/** A job's progress events, oldest first; `after` returns only those later than that time (for polling). */
export async function listJobEvents({
  db,
  jobId,
  after,
}: {
  db: Db;
  jobId: string;
  after?: string;
}): Promise<JobEvent[]> {
  let query = db.selectFrom('job_events').selectAll().where('job_id', '=', jobId);
  if (after !== undefined) query = query.where('at', '>', after);
  const rows = await query.orderBy('at').execute();
  return rows.map((r) => ({
    at: r.at,
    stepId: r.step_id,
    level: r.level as JobEvent['level'],
    message: r.message,
  }));
}
