import { sql } from 'kysely';
import type { Db, Dialect } from './db.ts';
import { panelDb } from './panelSchema.ts';

/** A cluster claimed for one reconcile pass. */
export interface ReconcileClaim {
  clusterId: string;
  /** When its last full pass ended (undefined: never). */
  syncedAt: string | undefined;
  /** Whether a full pass is due (else only a saved role-binding revision is). */
  full: boolean;
}

/**
 * Claims for `owner` until `leaseExpiresAt`, in one statement, the ready cluster most in need of a
 * pass: one with a saved role-binding revision not yet tried first, then the one whose last full
 * pass is oldest, if it ended before `dueBefore`. Never a cluster whose reconcile lease another
 * replica holds, nor one with a job queued or running (an operation always goes first). On
 * PostgreSQL the candidate row is locked with `FOR UPDATE SKIP LOCKED`, as claimJob does.
 */
export async function claimReconcile({
  db,
  dialect,
  owner,
  now,
  leaseExpiresAt,
  dueBefore,
}: {
  db: Db;
  dialect: Dialect;
  owner: string;
  now: string;
  leaseExpiresAt: string;
  dueBefore: string;
}): Promise<ReconcileClaim | undefined> {
  const free = sql<boolean>`(lease_expires_at is null or lease_expires_at < ${now})`;
  const row = await panelDb(db)
    .updateTable('cluster_reconcile')
    .set({ lease_owner: owner, lease_expires_at: leaseExpiresAt })
    .where((eb) => {
      const dirty = sql<boolean>`(b.revision > coalesce(b.applied_revision, 0) and b.revision <> r.bindings_tried)`;
      let candidate = eb
        .selectFrom('cluster_reconcile as r')
        .innerJoin('provisioned_clusters as c', 'c.id', 'r.cluster_id')
        .leftJoin('cluster_role_bindings as b', 'b.cluster_id', 'r.cluster_id')
        .select('r.cluster_id')
        .where('c.status', '=', 'ready')
        .where(sql<boolean>`(r.lease_expires_at is null or r.lease_expires_at < ${now})`)
        .where((w) =>
          w.not(
            w.exists(
              w
                .selectFrom('jobs as j')
                .select('j.id')
                .whereRef('j.cluster_id', '=', 'r.cluster_id')
                .where('j.state', 'in', ['queued', 'running']),
            ),
          ),
        )
        .where(sql<boolean>`(${dirty} or r.synced_at is null or r.synced_at < ${dueBefore})`)
        .orderBy(sql`case when ${dirty} then 0 else 1 end`)
        .orderBy(sql`coalesce(r.synced_at, '')`)
        .orderBy('r.cluster_id')
        .limit(1);
      if (dialect === 'postgres') candidate = candidate.forUpdate('r').skipLocked();
      return eb.and([eb('cluster_id', '=', candidate), free]);
    })
    .returning(['cluster_id', 'synced_at'])
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    clusterId: row.cluster_id,
    syncedAt: row.synced_at ?? undefined,
    full: row.synced_at === null || row.synced_at < dueBefore,
  };
}
