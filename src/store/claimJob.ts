import type { Db, Dialect } from './db.ts';
import { jobFromRow, type JobRecord } from './findJob.ts';

/**
 * Claims the oldest runnable job (or the one named by `jobId`) for `owner` until `leaseExpiresAt`,
 * in one statement: a queued job, or a running one whose lease expired (its engine died), and never
 * a job of a cluster that has another job running under a live lease (one runner per cluster, even
 * if the `jobs_one_active_per_cluster` index were bypassed). On PostgreSQL the candidate row is
 * locked with `FOR UPDATE SKIP LOCKED`, so concurrent claimers each get a different job; SQLite has
 * one writer, so its UPDATE … RETURNING is atomic as it is. Returns undefined when there is none.
 */
export async function claimJob({
  db,
  dialect,
  owner,
  now,
  leaseExpiresAt,
  jobId,
}: {
  db: Db;
  dialect: Dialect;
  owner: string;
  now: string;
  leaseExpiresAt: string;
  jobId?: string;
}): Promise<JobRecord | undefined> {
  const row = await db
    .updateTable('jobs')
    .set((eb) => ({
      state: 'running',
      lease_owner: owner,
      lease_expires_at: leaseExpiresAt,
      updated_at: now,
      attempt: eb('attempt', '+', 1),
    }))
    .where((eb) => {
      let candidate = eb
        .selectFrom('jobs as j')
        .select('j.id')
        .where((w) =>
          w.or([
            w('j.state', '=', 'queued'),
            w.and([w('j.state', '=', 'running'), w('j.lease_expires_at', '<', now)]),
          ]),
        )
        .where((w) =>
          w.not(
            w.exists(
              w
                .selectFrom('jobs as other')
                .select('other.id')
                .whereRef('other.cluster_id', '=', 'j.cluster_id')
                .whereRef('other.id', '<>', 'j.id')
                .where('other.state', '=', 'running')
                .where('other.lease_expires_at', '>=', now),
            ),
          ),
        )
        .orderBy('j.created_at')
        .orderBy('j.id')
        .limit(1);
      if (jobId !== undefined) candidate = candidate.where('j.id', '=', jobId);
      if (dialect === 'postgres') candidate = candidate.forUpdate().skipLocked();
      return eb.and([
        eb('id', '=', candidate),
        eb.or([
          eb('state', '=', 'queued'),
          eb.and([eb('state', '=', 'running'), eb('lease_expires_at', '<', now)]),
        ]),
      ]);
    })
    .returningAll()
    .executeTakeFirst();
  return row ? jobFromRow(row) : undefined;
}
