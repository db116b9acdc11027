import { hostname, userInfo } from 'node:os';
import type { KeystoneDirectory } from '../auth/directory.ts';
import type { Principal } from '../auth/service.ts';
import type { Cloud } from '../openstack/index.ts';
import type { Db } from '../store/db.ts';
import { insertAuditEvent } from '../store/insertAuditEvent.ts';

/**
 * Who may create clusters over the API: holders of `roleName` on kaas' own project (the project
 * `cloud`'s credentials are scoped to), read from Keystone at each call so a revoked role stops at once.
 */
export function operatorCheck(
  cloud: Cloud,
  directory: Pick<KeystoneDirectory, 'listRoleAssignments'>,
  roleName: string,
): (principal: Principal) => Promise<boolean> {
  return async (principal) => {
    const project = (await cloud.session.token()).project;
    const assignments = project ? await directory.listRoleAssignments(project.id) : [];
    return assignments.some((a) => a.userId === principal.userId && a.roleName === roleName);
  };
}

/**
 * Records in the audit log an operator command that works on the database itself (no API, so no
 * Keystone user): the actor is the OS account on this machine. Returns the recorder of its outcome.
 */
export function operatorAudit(db: Db, command: { action: string; target: string; via: string }) {
  return (clusterId: string | null, outcome: 'success' | 'failure', details: object) =>
    insertAuditEvent({
      db,
      event: {
        at: new Date().toISOString(),
        actorUserId: null,
        actorName: `${userInfo().username}@${hostname()}`,
        action: command.action,
        target: command.target,
        clusterId,
        outcome,
        details: { via: command.via, ...details },
        requestId: null,
        sourceIp: null,
      },
    });
}
