import { expect, it } from 'vitest';
import { describeOnEngines } from '../../test/support/databases.ts';
import type { AuditEvent } from './auditSchema.ts';
import { insertAuditEvent } from './insertAuditEvent.ts';
import { listAuditEvents } from './listAuditEvents.ts';
import { up as auditUp } from './migrations/0008_audit.ts';
import { findKeystoneUserIdByName } from './findKeystoneUserIdByName.ts';
import { replaceKeystoneUsers } from './replaceKeystoneUsers.ts';
import { replaceProjectAssignments } from './replaceProjectAssignments.ts';

function event(at: string, overrides: Partial<Omit<AuditEvent, 'id'>> = {}): Omit<AuditEvent, 'id'> {
  return {
    at,
    actorUserId: 'u1',
    actorName: 'alice@Default',
    action: 'token.create',
    target: 't1',
    clusterId: null,
    outcome: 'success',
    details: { status: 201 },
    requestId: 'req-1',
    sourceIp: '10.0.0.1',
    ...overrides,
  };
}

describeOnEngines('audit store', ({ store }) => {
  it('keeps a cluster its own events and its project members’ cluster-less ones, newest first', async () => {
    const { db } = store();
    await auditUp(db as never); // repeating the migration step is harmless
    await replaceProjectAssignments({
      db,
      projectId: 'p1',
      assignments: [{ userId: 'u1', roleId: 'r1', roleName: 'member' }],
    });
    const t = (n: number) => `2030-01-01T00:00:0${n}.000Z`;
    await insertAuditEvent({ db, event: event(t(1), { action: 'login', target: null }) });
    await insertAuditEvent({ db, event: event(t(2), { actorUserId: 'u2', actorName: 'bob@Default' }) });
    await insertAuditEvent({
      db,
      event: event(t(3), { action: 'cluster.resize', clusterId: 'c1', target: 'c1' }),
    });
    await insertAuditEvent({
      db,
      event: event(t(4), { action: 'cluster.resize', clusterId: 'c2', target: 'c2' }),
    });
    await insertAuditEvent({
      db,
      event: event(t(5), {
        actorUserId: null,
        actorName: 'eve@Default',
        action: 'login',
        outcome: 'failure',
      }),
    });

    const items = await listAuditEvents({ db, clusterId: 'c1', projectId: 'p1', limit: 10 });
    expect(items.map((e) => [e.at, e.action])).toEqual([
      [t(3), 'cluster.resize'],
      [t(1), 'login'],
    ]);
    expect(items[0]).toEqual({
      id: expect.any(String),
      ...event(t(3), { action: 'cluster.resize', clusterId: 'c1', target: 'c1' }),
    });
  });

  it('finds a mirrored user id by name and domain, for tying failed logins to users', async () => {
    const { db } = store();
    await replaceKeystoneUsers({
      db,
      users: [{ id: 'u1', name: 'alice', domainId: 'default', domainName: 'Default', enabled: true }],
      syncedAt: '2030-01-01T00:00:00.000Z',
    });
    expect(await findKeystoneUserIdByName({ db, name: 'alice', domainName: 'Default' })).toBe('u1');
    expect(await findKeystoneUserIdByName({ db, name: 'alice', domainName: 'Other' })).toBeUndefined();
    expect(await findKeystoneUserIdByName({ db, name: 'bob', domainName: 'Default' })).toBeUndefined();
  });

  it('pages backwards by (at, id) without skipping or repeating events of the same instant', async () => {
    const { db } = store();
    const at = '2030-01-01T00:00:00.000Z';
    for (let i = 0; i < 7; i++)
      await insertAuditEvent({ db, event: event(at, { clusterId: 'c1', target: `x${i}` }) });
    const seen: string[] = [];
    let before: { at: string; id: string } | undefined;
    for (;;) {
      const page = await listAuditEvents({
        db,
        clusterId: 'c1',
        projectId: 'p1',
        limit: 3,
        ...(before ? { before } : {}),
      });
      seen.push(...page.map((e) => e.target as string));
      if (page.length < 3) break;
      const last = page.at(-1) as AuditEvent;
      before = { at: last.at, id: last.id };
    }
    expect(seen.sort()).toEqual(['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6']);
  });
});
