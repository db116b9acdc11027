import type { Db } from './db.ts';
import { jobFromRow, type JobRecord } from './findJob.ts';

/** The jobs of one cluster, newest first. */
export async function listJobs({ db, clusterId }: { db: Db; clusterId: string }): Promise<JobRecord[]> {
  const rows = await db
    .selectFrom('jobs')
    .selectAll()
    .where('cluster_id', '=', clusterId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
  return rows.map(jobFromRow);
}
