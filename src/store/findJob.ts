import type { Db } from './db.ts';
import type { JobsTable } from './jobsSchema.ts';

/** Kinds of provisioning job. */
export type JobKind = 'create' | 'resize' | 'upgrade' | 'delete' | 'rotate' | 'heal';
/** Lifecycle of a job. */
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** Why a job or step failed: a stable code and a message an operator can act on. */
export interface JobError {
  stepId?: string;
  code: string;
  message: string;
}

/** A job as the provisioner sees it (JSON columns parsed). */
export interface JobRecord {
  id: string;
  clusterId: string;
  kind: JobKind;
  state: JobState;
  input: unknown;
  error: JobError | null;
  createdAt: string;
  updatedAt: string;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
  attempt: number;
}

/** Maps a jobs row to its record. */
export function jobFromRow(row: JobsTable): JobRecord {
  return {
    id: row.id,
    clusterId: row.cluster_id,
    kind: row.kind as JobKind,
    state: row.state as JobState,
    input: JSON.parse(row.input) as unknown,
    error: row.error === null ? null : (JSON.parse(row.error) as JobError),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    attempt: Number(row.attempt),
  };
}

/** The job with this id, or undefined. */
export async function findJob({ db, id }: { db: Db; id: string }): Promise<JobRecord | undefined> {
  const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? jobFromRow(row) : undefined;
}
