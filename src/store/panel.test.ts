import { beforeEach, expect, it } from 'vitest';
import { describeOnEngines } from '../../test/support/databases.ts';
import { findClusterEndpoint } from './findClusterEndpoint.ts';
import { getActiveCluster } from './getActiveCluster.ts';
import { getRoleBindings } from './getRoleBindings.ts';
import { insertApiToken } from './insertApiToken.ts';
import { listClusterCaCerts } from './listClusterCaCerts.ts';
import { listProjectMemberTokens } from './listProjectMemberTokens.ts';
import { listProjectRoles } from './listProjectRoles.ts';
import { markRoleBindingsApplied } from './markRoleBindingsApplied.ts';
import { up as panelUp } from './migrations/0005_panel.ts';
import { replaceProjectAssignments } from './replaceProjectAssignments.ts';
import { replaceRoleBindings } from './replaceRoleBindings.ts';
import { setActiveCluster } from './setActiveCluster.ts';
import { upsertClusterEndpoint } from './upsertClusterEndpoint.ts';

const t0 = new Date('2030-01-01T00:00:00.000Z');
const t1 = new Date('2030-01-02T00:00:00.000Z');

describeOnEngines('panel store', ({ store }) => {
  // the panel tables too (the panel migration is idempotent)
  beforeEach(async () => {
    await panelUp(store().db as never);
  });

  it('remembers and overwrites the active cluster per user', async () => {
    const { db } = store();
    expect(await getActiveCluster({ db, userId: 'u1' })).toBeUndefined();
    await setActiveCluster({ db, userId: 'u1', clusterId: 'c1', now: t0 });
    await setActiveCluster({ db, userId: 'u2', clusterId: 'c2', now: t0 });
    await setActiveCluster({ db, userId: 'u1', clusterId: 'c3', now: t1 });
    expect(await getActiveCluster({ db, userId: 'u1' })).toBe('c3');
    expect(await getActiveCluster({ db, userId: 'u2' })).toBe('c2');
  });

  it('versions role bindings: replace makes them pending, mark-applied settles them', async () => {
    const { db } = store();
    expect(await getRoleBindings({ db, clusterId: 'c1' })).toMatchObject({
      bindings: [],
      revision: 0,
      appliedRevision: null,
    });
    const bindings = [{ keystoneRoleId: 'r1', kind: 'ClusterRole' as const, roleName: 'view' }];
    expect(await replaceRoleBindings({ db, clusterId: 'c1', bindings, updatedBy: 'alice', now: t0 })).toBe(1);
    expect(await getRoleBindings({ db, clusterId: 'c1' })).toEqual({
      clusterId: 'c1',
      bindings,
      revision: 1,
      appliedRevision: null,
      updatedAt: t0.toISOString(),
      updatedBy: 'alice',
      appliedAt: null,
    });
    expect(await markRoleBindingsApplied({ db, clusterId: 'c1', revision: 1, now: t1 })).toBe(true);
    const more = [
      ...bindings,
      { keystoneRoleId: 'r2', kind: 'Role' as const, roleName: 'dev', namespace: 'apps' },
    ];
    expect(
      await replaceRoleBindings({ db, clusterId: 'c1', bindings: more, updatedBy: 'bob', now: t1 }),
    ).toBe(2);
    expect(await getRoleBindings({ db, clusterId: 'c1' })).toMatchObject({
      bindings: more,
      revision: 2,
      appliedRevision: 1,
      appliedAt: t1.toISOString(),
      updatedBy: 'bob',
    });
  });

  it('never marks a revision applied that is older than recorded or not saved yet', async () => {
    const { db } = store();
    expect(await markRoleBindingsApplied({ db, clusterId: 'none', revision: 1, now: t0 })).toBe(false);
    await replaceRoleBindings({ db, clusterId: 'c1', bindings: [], updatedBy: 'a', now: t0 });
    await replaceRoleBindings({ db, clusterId: 'c1', bindings: [], updatedBy: 'a', now: t0 });
    expect(await markRoleBindingsApplied({ db, clusterId: 'c1', revision: 3, now: t0 })).toBe(false);
    expect(await markRoleBindingsApplied({ db, clusterId: 'c1', revision: 2, now: t0 })).toBe(true);
    expect(await markRoleBindingsApplied({ db, clusterId: 'c1', revision: 1, now: t1 })).toBe(false);
    expect((await getRoleBindings({ db, clusterId: 'c1' })).appliedRevision).toBe(2);
  });

  it('stores and overwrites a cluster endpoint', async () => {
    const { db } = store();
    expect(await findClusterEndpoint({ db, clusterId: 'c1' })).toBeUndefined();
    const endpoint = {
      clusterId: 'c1',
      apiUrl: 'https://10.0.0.5:6443',
      caCertPem: '-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n',
      ingressDomain: 'apps.example.org',
      kubernetesVersion: 'v1.31.2',
      nodeCount: 3,
      provisioningState: 'ready',
      updatedAt: t0.toISOString(),
    };
    await upsertClusterEndpoint({ db, endpoint });
    expect(await findClusterEndpoint({ db, clusterId: 'c1' })).toEqual(endpoint);
    const unknown = {
      ...endpoint,
      apiUrl: null,
      nodeCount: null,
      provisioningState: null,
      updatedAt: t1.toISOString(),
    };
    await upsertClusterEndpoint({ db, endpoint: unknown });
    expect(await findClusterEndpoint({ db, clusterId: 'c1' })).toEqual(unknown);
    // The externalgrpc server's client CAs: only clusters whose CA is known.
    await upsertClusterEndpoint({ db, endpoint: { ...endpoint, clusterId: 'c0', caCertPem: null } });
    await upsertClusterEndpoint({ db, endpoint: { ...endpoint, clusterId: 'c2', caCertPem: 'ca2' } });
    expect(await listClusterCaCerts({ db })).toEqual(
      new Map([
        ['c1', endpoint.caCertPem],
        ['c2', 'ca2'],
      ]),
    );
  });

  it('lists tokens of project members only, and the roles held on a project', async () => {
    const { db } = store();
    await replaceProjectAssignments({
      db,
      projectId: 'p1',
      assignments: [
        { userId: 'u1', roleId: 'r-admin', roleName: 'admin' },
        { userId: 'u1', roleId: 'r-member', roleName: 'member' },
        { userId: 'u2', roleId: 'r-member', roleName: 'member' },
      ],
    });
    await replaceProjectAssignments({
      db,
      projectId: 'p2',
      assignments: [{ userId: 'u3', roleId: 'r-x', roleName: 'x' }],
    });
    for (const [id, userId, createdAt] of [
      ['a', 'u1', '2030-01-01T00:00:00.000Z'],
      ['b', 'u2', '2030-01-03T00:00:00.000Z'],
      ['c', 'u3', '2030-01-02T00:00:00.000Z'],
    ] as const) {
      await insertApiToken({
        db,
        token: {
          id,
          userId,
          userName: userId,
          domainName: 'Default',
          name: id,
          tokenHash: `h-${id}`,
          createdAt,
          expiresAt: '2031-01-01T00:00:00.000Z',
          lastUsedAt: null,
        },
      });
    }
    expect((await listProjectMemberTokens({ db, projectId: 'p1' })).map((t) => t.id)).toEqual(['b', 'a']);
    expect(await listProjectMemberTokens({ db, projectId: 'nobody' })).toEqual([]);
    expect(await listProjectRoles({ db, projectId: 'p1' })).toEqual([
      { roleId: 'r-admin', roleName: 'admin' },
      { roleId: 'r-member', roleName: 'member' },
    ]);
  });
});
