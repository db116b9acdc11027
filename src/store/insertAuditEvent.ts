import { randomUUID } from 'node:crypto';
import type { AuditEvent } from './auditSchema.ts';
import type { Db } from './db.ts';

/** Appends an entry to the audit log (append-only: nothing updates it); returns its id. */
export async function insertAuditEvent({
  db,
  event,
}: {
  db: Db;
  event: Omit<AuditEvent, 'id'>;
}): Promise<string> {
  const id = randomUUID();
  await db
    .insertInto('audit_events')
    .values({
      id,
      at: event.at,
      actor_user_id: event.actorUserId,
      actor_name: event.actorName,
      action: event.action,
      target: event.target,
      cluster_id: event.clusterId,
      outcome: event.outcome,
      details: JSON.stringify(event.details),
      request_id: event.requestId,
      source_ip: event.sourceIp,
    })
    .execute();
  return id;
}
