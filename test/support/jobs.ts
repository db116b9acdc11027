import type { Db } from '../../src/store/db.ts';
import { insertJob, type NewJob } from '../../src/store/insertJob.ts';

/** Queues a job for tests: a `create` with no input and no steps, created now, unless `job` says otherwise. */
export function queueTestJob(db: Db, job: Pick<NewJob, 'id' | 'clusterId'> & Partial<NewJob>): Promise<void> {
  return insertJob({
    db,
    job: { kind: 'create', input: {}, stepIds: [], createdAt: new Date().toISOString(), ...job },
  });
}
