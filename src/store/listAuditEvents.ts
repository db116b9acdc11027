import type { Db } from './db.ts';
import type { AuditEvent } from './auditSchema.ts';

/** Where a page of the audit log ends: pass it back as `before` for the next, older page. */
export interface AuditCursor {
  at: string;
  id: string;
}

/**
 * The audit log of one cluster, newest first: events on that cluster, plus the cluster-less events
 * (login, logout, own tokens) of users who hold a role on its project per the last sync.
 * `before` pages backwards from a cursor; (at, id) ordering makes pages never skip or repeat rows.
 */
export async function listAuditEvents({
  db,
  clusterId,
  projectId,
  limit,
  before,
}: {
  db: Db;
  clusterId: string;
  projectId: string;
  limit: number;
  before?: AuditCursor;
}): Promise<AuditEvent[]> {
  let query = db
    .selectFrom('audit_events')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb('cluster_id', '=', clusterId),
        eb.and([
          eb('cluster_id', 'is', null),
          eb(
            'actor_user_id',
            'in',
            eb.selectFrom('role_assignments').select('user_id').where('project_id', '=', projectId),
          ),
        ]),
      ]),
    );
  if (before)
    query = query.where((eb) =>
      eb.or([eb('at', '<', before.at), eb.and([eb('at', '=', before.at), eb('id', '<', before.id)])]),
    );
  const rows = await query.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    actorUserId: r.actor_user_id,
    actorName: r.actor_name,
    action: r.action,
    target: r.target,
    clusterId: r.cluster_id,
    outcome: r.outcome as AuditEvent['outcome'],
    details: JSON.parse(r.details) as Record<string, unknown>,
    requestId: r.request_id,
    sourceIp: r.source_ip,
  }));
}
