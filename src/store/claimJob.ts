import type { ExpressionBuilder } from 'kysely';
import type { Db, Dialect } from './db.ts';
import { jobFromRow, type JobRecord } from './findJob.ts';
import type { Database } from './schema.ts';

/**
 * Claims the oldest runnable job (or the one named by `jobId`) for `owner` until `leaseExpiresAt`:
 * a queued job, or a running one whose lease expired (its engine died). Returns undefined when
 * there is none. On PostgreSQL the candidate is locked with `FOR UPDATE SKIP LOCKED` inside a
 * transaction so concurrent claimers each get a different job; on SQLite a single conditional
 * UPDATE … RETURNING is atomic because SQLite has one writer. Either way exactly one caller wins.
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
  const runnable = (eb: ExpressionBuilder<Database, 'jobs'>) =>
    eb.and([
      eb.or([
        eb('state', '=', 'queued'),
        eb.and([eb('state', '=', 'running'), eb('lease_expires_at', '<', now)]),
      ]),
      ...(jobId === undefined ? [] : [eb('id', '=', jobId)]),
    ]);
  const claim = { state: 'running', lease_owner: owner, lease_expires_at: leaseExpiresAt, updated_at: now };

  if (dialect === 'postgres') {
    const run = async (tx: Db) => {
      const candidate = await tx
        .selectFrom('jobs')
        .select('id')
        .where(runnable)
        .orderBy('created_at')
        .orderBy('id')
        .limit(1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (!candidate) return undefined;
      return tx
        .updateTable('jobs')
        .set((eb) => ({ ...claim, attempt: eb('attempt', '+', 1) }))
        .where('id', '=', candidate.id)
        .returningAll()
        .executeTakeFirst();
    };
    const row = db.isTransaction ? await run(db) : await db.transaction().execute(run);
    return row ? jobFromRow(row) : undefined;
  }

  const row = await db
    .updateTable('jobs')
    .set((eb) => ({ ...claim, attempt: eb('attempt', '+', 1) }))
    .where((eb) =>
      eb.and([
        eb(
          'id',
          '=',
          eb.selectFrom('jobs').select('id').where(runnable).orderBy('created_at').orderBy('id').limit(1),
        ),
        runnable(eb),
      ]),
    )
    .returningAll()
    .executeTakeFirst();
  return row ? jobFromRow(row) : undefined;
}
