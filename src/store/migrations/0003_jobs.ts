import { sql, type Kysely } from 'kysely';
import { createTable, ID, TIME } from './table.ts';

/**
 * Provisioner tables: the clusters kaas provisions (spec and lifecycle state), durable jobs with
 * their lease, per-step checkpoints and a progress event log. A partial unique index allows at most
 * one queued or running job per cluster, so two operations on one cluster are refused by the
 * database itself, whatever the number of kaas replicas.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createTable(db, 'provisioned_clusters', {
    id: [ID, 'key'],
    name: ['varchar(200)', 'unique'],
    spec: ['text'],
    options: ['text'],
    status: ['varchar(32)'],
    created_at: [TIME],
    updated_at: [TIME],
  });

  await createTable(db, 'jobs', {
    id: [ID, 'key'],
    cluster_id: [ID],
    kind: ['varchar(16)'],
    state: ['varchar(16)'],
    input: ['text'],
    error: ['text', 'null'],
    created_at: [TIME],
    updated_at: [TIME],
    lease_owner: ['varchar(200)', 'null'],
    lease_expires_at: [TIME, 'null'],
    attempt: ['integer', 'zero'],
  });
  await db.schema.createIndex('jobs_cluster').on('jobs').columns(['cluster_id', 'created_at']).execute();
  await db.schema.createIndex('jobs_state').on('jobs').columns(['state', 'created_at']).execute();
  await sql`CREATE UNIQUE INDEX jobs_one_active_per_cluster ON jobs (cluster_id) WHERE state IN ('queued', 'running')`.execute(
    db,
  );

  await createTable(
    db,
    'job_steps',
    {
      job_id: [ID],
      step_id: ['varchar(200)'],
      position: ['integer'],
      state: ['varchar(16)'],
      output: ['text', 'null'],
      error: ['text', 'null'],
      started_at: [TIME, 'null'],
      finished_at: [TIME, 'null'],
      runs: ['integer', 'zero'],
    },
    { primaryKey: ['job_id', 'step_id'] },
  );

  await createTable(db, 'job_events', {
    id: [ID, 'key'],
    job_id: [ID],
    at: [TIME],
    step_id: ['varchar(200)', 'null'],
    level: ['varchar(8)'],
    message: ['text'],
  });
  await db.schema.createIndex('job_events_job').on('job_events').columns(['job_id', 'at']).execute();
}
