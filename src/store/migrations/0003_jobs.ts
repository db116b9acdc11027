import { sql, type Kysely } from 'kysely';

/**
 * Provisioner tables: the clusters kaas provisions (spec and lifecycle state), durable jobs with
 * their lease, per-step checkpoints and a progress event log. A partial unique index allows at most
 * one queued or running job per cluster, so two operations on one cluster are refused by the
 * database itself, whatever the number of kaas replicas.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('provisioned_clusters')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(200)', (c) => c.notNull().unique())
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('options', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('jobs')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('cluster_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('input', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('lease_owner', 'varchar(200)')
    .addColumn('lease_expires_at', 'varchar(32)')
    .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('jobs_cluster').on('jobs').columns(['cluster_id', 'created_at']).execute();
  await db.schema.createIndex('jobs_state').on('jobs').columns(['state', 'created_at']).execute();
  await sql`CREATE UNIQUE INDEX jobs_one_active_per_cluster ON jobs (cluster_id) WHERE state IN ('queued', 'running')`.execute(
    db,
  );

  await db.schema
    .createTable('job_steps')
    .addColumn('job_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('step_id', 'varchar(200)', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('output', 'text')
    .addColumn('error', 'text')
    .addColumn('started_at', 'varchar(32)')
    .addColumn('finished_at', 'varchar(32)')
    .addColumn('runs', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('job_steps_pk', ['job_id', 'step_id'])
    .execute();

  await db.schema
    .createTable('job_events')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('job_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('at', 'varchar(32)', (c) => c.notNull())
    .addColumn('step_id', 'varchar(200)')
    .addColumn('level', 'varchar(8)', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('job_events_job').on('job_events').columns(['job_id', 'at']).execute();
}
