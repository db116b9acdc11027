import { expect, it } from 'vitest';
import { describeOnEngines } from '../../test/support/databases.ts';
import { deleteApiToken } from './deleteApiToken.ts';
import { deleteExpiredSessions } from './deleteExpiredSessions.ts';
import { deleteSession } from './deleteSession.ts';
import { findApiTokenByHash } from './findApiTokenByHash.ts';
import { findCluster } from './findCluster.ts';
import { findKeystoneUser } from './findKeystoneUser.ts';
import { findSession } from './findSession.ts';
import { insertApiToken, type ApiTokenRecord } from './insertApiToken.ts';
import { insertCluster } from './insertCluster.ts';
import { insertSession } from './insertSession.ts';
import { listApiTokens } from './listApiTokens.ts';
import { listCloudReferences } from './listCloudReferences.ts';
import { listClusters } from './listClusters.ts';
import { listSyncResults } from './listSyncResults.ts';
import { listTokensWithOwners } from './listTokensWithOwners.ts';
import { listUserProjectRoles } from './listUserProjectRoles.ts';
import { listUsersProjectRoles } from './listUsersProjectRoles.ts';
import { recordSyncResult } from './recordSyncResult.ts';
import { replaceKeystoneUsers } from './replaceKeystoneUsers.ts';
import { replaceProjectAssignments } from './replaceProjectAssignments.ts';
import { touchApiTokens } from './touchApiTokens.ts';
import { touchSession } from './touchSession.ts';
import { upsertKeystoneUser } from './upsertKeystoneUser.ts';

const token = (id: string, userId: string, createdAt: string): ApiTokenRecord => ({
  id,
  userId,
  userName: 'alice',
  domainName: 'Default',
  name: `t-${id}`,
  tokenHash: `hash-${id}`,
  createdAt,
  expiresAt: '2031-01-01T00:00:00.000Z',
  lastUsedAt: null,
});

describeOnEngines('auth store', ({ store }) => {
  it('registers, finds and lists clusters; a duplicate name is refused', async () => {
    const db = store().db;
    const c = {
      id: 'c1',
      name: 'prod',
      projectId: 'p1',
      projectName: 'proj',
      adminRoleIds: ['r1'],
      createdAt: '2030-01-01T00:00:00.000Z',
    };
    await insertCluster({ db, cluster: c });
    expect(await findCluster({ db, id: 'c1' })).toEqual(c);
    expect(await findCluster({ db, id: 'nope' })).toBeUndefined();
    expect(await listClusters({ db })).toEqual([c]);
    await expect(insertCluster({ db, cluster: { ...c, id: 'c2' } })).rejects.toThrow();
  });

  it('stores tokens, finds by hash, lists per user, touches and deletes owner-only', async () => {
    const db = store().db;
    await insertApiToken({ db, token: token('a', 'u1', '2030-01-01T00:00:00.000Z') });
    await insertApiToken({ db, token: token('b', 'u1', '2030-01-02T00:00:00.000Z') });
    await insertApiToken({ db, token: token('c', 'u2', '2030-01-03T00:00:00.000Z') });
    expect((await findApiTokenByHash({ db, tokenHash: 'hash-a' }))?.id).toBe('a');
    expect(await findApiTokenByHash({ db, tokenHash: 'nope' })).toBeUndefined();
    expect((await listApiTokens({ db, userId: 'u1' })).map((t) => t.id)).toEqual(['b', 'a']);

    await touchApiTokens({ db, usedAt: new Map([['a', '2030-02-01T00:00:00.000Z']]) });
    await touchApiTokens({
      db,
      usedAt: new Map([
        ['a', '2030-01-15T00:00:00.000Z'],
        ['b', '2030-01-16T00:00:00.000Z'],
        ['gone', '2030-01-16T00:00:00.000Z'],
      ]),
    });
    expect((await findApiTokenByHash({ db, tokenHash: 'hash-a' }))?.lastUsedAt).toBe(
      '2030-02-01T00:00:00.000Z',
    );
    expect((await findApiTokenByHash({ db, tokenHash: 'hash-b' }))?.lastUsedAt).toBe(
      '2030-01-16T00:00:00.000Z',
    );
    await touchApiTokens({ db, usedAt: new Map() });

    expect(await deleteApiToken({ db, id: 'c', userId: 'u1' })).toBeUndefined();
    expect((await deleteApiToken({ db, id: 'a', userId: 'u1' }))?.tokenHash).toBe('hash-a');
    expect((await deleteApiToken({ db, id: 'c' }))?.userId).toBe('u2');
    expect((await listApiTokens({ db, userId: 'u1' })).map((t) => t.id)).toEqual(['b']);
  });

  it('stores sessions, touches forward only, expires and deletes them', async () => {
    const db = store().db;
    const s = {
      idHash: 'h1',
      userId: 'u1',
      userName: 'alice',
      domainName: 'Default',
      csrfToken: 'csrf',
      createdAt: '2030-01-01T00:00:00.000Z',
      lastSeenAt: '2030-01-01T00:00:00.000Z',
      expiresAt: '2030-01-01T12:00:00.000Z',
    };
    await insertSession({ db, session: s });
    await insertSession({ db, session: { ...s, idHash: 'h2', lastSeenAt: '2030-01-01T05:00:00.000Z' } });
    await touchSession({ db, idHash: 'h1', lastSeenAt: '2030-01-01T01:00:00.000Z' });
    await touchSession({ db, idHash: 'h1', lastSeenAt: '2030-01-01T00:30:00.000Z' });
    expect((await findSession({ db, idHash: 'h1' }))?.lastSeenAt).toBe('2030-01-01T01:00:00.000Z');
    expect(
      await deleteExpiredSessions({
        db,
        now: '2030-01-01T06:00:00.000Z',
        idleBefore: '2030-01-01T04:00:00.000Z',
      }),
    ).toBe(1);
    expect(await findSession({ db, idHash: 'h1' })).toBeUndefined();
    await deleteSession({ db, idHash: 'h2' });
    expect(await findSession({ db, idHash: 'h2' })).toBeUndefined();
  });

  it('replaces the user mirror and reports exactly the changed ids', async () => {
    const db = store().db;
    const u = (id: string, enabled = true) => ({
      id,
      name: `n${id}`,
      domainId: 'default',
      domainName: 'Default',
      enabled,
    });
    expect(await replaceKeystoneUsers({ db, users: [u('1'), u('2')], syncedAt: 't1' })).toEqual(['1', '2']);
    expect(await replaceKeystoneUsers({ db, users: [u('1'), u('2')], syncedAt: 't2' })).toEqual([]);
    expect(await replaceKeystoneUsers({ db, users: [u('1', false)], syncedAt: 't3' })).toEqual(['1', '2']);
    expect(await findKeystoneUser({ db, id: '1' })).toEqual(u('1', false));
    expect(await findKeystoneUser({ db, id: '2' })).toBeUndefined();
    await upsertKeystoneUser({ db, user: u('1'), syncedAt: 't4' });
    await upsertKeystoneUser({ db, user: u('3'), syncedAt: 't4' });
    expect(await findKeystoneUser({ db, id: '1' })).toEqual(u('1'));
    expect(await findKeystoneUser({ db, id: '3' })).toEqual(u('3'));
  });

  it('replaces project assignments, reports changed users and lists roles', async () => {
    const db = store().db;
    const a = (userId: string, roleId: string) => ({ userId, roleId, roleName: `name-${roleId}` });
    expect(
      await replaceProjectAssignments({
        db,
        projectId: 'p',
        assignments: [a('u1', 'r2'), a('u1', 'r1'), a('u2', 'r1')],
      }),
    ).toEqual(['u1', 'u2']);
    await replaceProjectAssignments({ db, projectId: 'q', assignments: [a('u1', 'r3')] });
    expect(await listUserProjectRoles({ db, userId: 'u1', projectId: 'p' })).toEqual([
      { roleId: 'r1', roleName: 'name-r1' },
      { roleId: 'r2', roleName: 'name-r2' },
    ]);
    expect(
      await replaceProjectAssignments({
        db,
        projectId: 'p',
        assignments: [a('u1', 'r1'), { ...a('u2', 'r1'), roleName: 'renamed' }],
      }),
    ).toEqual(['u2', 'u1']);
    expect(await listUserProjectRoles({ db, userId: 'u1', projectId: 'p' })).toEqual([
      { roleId: 'r1', roleName: 'name-r1' },
    ]);
    expect(await listUserProjectRoles({ db, userId: 'u1', projectId: 'q' })).toHaveLength(1);
  });

  it("reads many tokens with their mirrored owners, and many users' roles, in one statement each", async () => {
    const db = store().db;
    const owner = (id: string, enabled: boolean) => ({
      id,
      name: `n${id}`,
      domainId: 'd',
      domainName: 'D',
      enabled,
    });
    await replaceKeystoneUsers({ db, users: [owner('u1', true), owner('u2', false)], syncedAt: 't1' });
    await insertApiToken({ db, token: token('a', 'u1', '2030-01-01T00:00:00.000Z') });
    await insertApiToken({
      db,
      token: { ...token('b', 'u2', '2030-01-02T00:00:00.000Z'), clusterIds: ['c1'] },
    });
    await insertApiToken({ db, token: token('c', 'gone', '2030-01-03T00:00:00.000Z') });
    const found = await listTokensWithOwners({
      db,
      tokenHashes: ['hash-a', 'hash-b', 'hash-c', 'hash-none'],
    });
    expect(found.sort((x, y) => x.token.id.localeCompare(y.token.id))).toEqual([
      {
        token: token('a', 'u1', '2030-01-01T00:00:00.000Z'),
        owner: { name: 'nu1', domainName: 'D', enabled: true },
      },
      {
        token: { ...token('b', 'u2', '2030-01-02T00:00:00.000Z'), clusterIds: ['c1'] },
        owner: { name: 'nu2', domainName: 'D', enabled: false },
      },
      { token: token('c', 'gone', '2030-01-03T00:00:00.000Z') },
    ]);
    expect(await listTokensWithOwners({ db, tokenHashes: [] })).toEqual([]);
    const a = (userId: string, roleId: string) => ({ userId, roleId, roleName: `name-${roleId}` });
    await replaceProjectAssignments({
      db,
      projectId: 'p',
      assignments: [a('u1', 'r2'), a('u1', 'r1'), a('u2', 'r1')],
    });
    await replaceProjectAssignments({ db, projectId: 'q', assignments: [a('u3', 'r1')] });
    expect(await listUsersProjectRoles({ db, projectId: 'p', userIds: ['u1', 'u2', 'u3'] })).toEqual(
      new Map([
        [
          'u1',
          [
            { roleId: 'r1', roleName: 'name-r1' },
            { roleId: 'r2', roleName: 'name-r2' },
          ],
        ],
        ['u2', [{ roleId: 'r1', roleName: 'name-r1' }]],
      ]),
    );
    expect(await listUsersProjectRoles({ db, projectId: 'p', userIds: [] })).toEqual(new Map());
  });

  it('records sync outcomes; a failure keeps the last success time', async () => {
    const db = store().db;
    await recordSyncResult({ db, subject: 'users', at: 't1' });
    await recordSyncResult({ db, subject: 'users', at: 't2', error: 'keystone down' });
    expect(await listSyncResults({ db })).toEqual([
      { subject: 'users', lastSuccessAt: 't1', lastErrorAt: 't2', lastError: 'keystone down' },
    ]);
    await recordSyncResult({ db, subject: 'project:p', at: 't3', error: 'boom' });
    expect((await listSyncResults({ db }))[0]).toEqual({
      subject: 'project:p',
      lastSuccessAt: null,
      lastErrorAt: 't3',
      lastError: 'boom',
    });
  });

  it('lists the Keystone ids the database names, each once', async () => {
    const db = store().db;
    expect(await listCloudReferences({ db })).toEqual({ projectIds: [], userIds: [] });
    const cluster = { name: 'a', projectName: 'p', adminRoleIds: [], createdAt: 't' };
    await insertCluster({ db, cluster: { ...cluster, id: 'c1', projectId: 'p2' } });
    await insertCluster({ db, cluster: { ...cluster, id: 'c2', name: 'b', projectId: 'p1' } });
    await insertCluster({ db, cluster: { ...cluster, id: 'c3', name: 'c', projectId: 'p2' } });
    await insertApiToken({ db, token: token('a', 'u2', 't') });
    await insertApiToken({ db, token: token('b', 'u2', 't') });
    await insertSession({
      db,
      session: {
        idHash: 'h',
        userId: 'u3',
        userName: 'carol',
        domainName: 'Default',
        csrfToken: 'c',
        createdAt: 't',
        lastSeenAt: 't',
        expiresAt: 't',
      },
    });
    const user = { name: 'n', domainId: 'default', domainName: 'Default', enabled: true };
    await replaceKeystoneUsers({
      db,
      users: [
        { ...user, id: 'u1' },
        { ...user, id: 'u2' },
      ],
      syncedAt: 't',
    });
    expect(await listCloudReferences({ db })).toEqual({
      projectIds: ['p1', 'p2'],
      userIds: ['u1', 'u2', 'u3'],
    });
  });
});
