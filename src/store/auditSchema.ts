/**
 * Row type of the audit log (migration 0008_audit; listed in schema.ts's Database) and the entry the
 * rest of kaas, the audit API and the panel see. No imports: the panel shares the entry's type.
 */

/** One audited action: who (user id and `name@domain`), what, on which target, and how it ended. */
export interface AuditEventsTable {
  id: string;
  at: string;
  /** Null when the actor is unknown (e.g. a failed login of a user kaas has never seen). */
  actor_user_id: string | null;
  /** `name@domain`; for a failed login, the attempted name. */
  actor_name: string | null;
  /** e.g. login, logout, token.create, token.revoke, cluster.resize, rolebindings.update */
  action: string;
  target: string | null;
  cluster_id: string | null;
  /** success | failure */
  outcome: string;
  /** JSON object: status code, error code, small action-specific facts. Never secrets. */
  details: string;
  request_id: string | null;
  source_ip: string | null;
}

/** One audit-log entry as the rest of kaas sees it. */
export interface AuditEvent {
  id: string;
  at: string;
  actorUserId: string | null;
  actorName: string | null;
  action: string;
  target: string | null;
  clusterId: string | null;
  outcome: 'success' | 'failure';
  details: Record<string, unknown>;
  requestId: string | null;
  sourceIp: string | null;
}
