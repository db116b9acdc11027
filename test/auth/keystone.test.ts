import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { labAdminCloud } from '../support/openstack.ts';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keystoneDirectory } from '../../src/auth/directory.ts';
import { createAuthService, type AuthService } from '../../src/auth/service.ts';
import { createLogger } from '../../src/log.ts';
import { createCloud, resolveCloudConfig, type Cloud } from '../../src/openstack/index.ts';
import { buildApp } from '../../src/server/app.ts';
import type { Store } from '../../src/store/db.ts';
import { insertCluster } from '../../src/store/insertCluster.ts';
import { engines, freshStore } from '../support/databases.ts';
import { authenticatedAnswer, reviewRequest } from '../support/tokenreview.ts';

/**
 * Against the lab's REAL Keystone. kaas runs with a dedicated service user that holds only `reader`
 * on the Default domain (domain-scoped token): the least privilege Keystone's default policy
 * accepts for listing users and role assignments (a project reader gets 403; see the report).
 */
const authUrl = process.env.OS_AUTH_URL ?? 'http://127.0.0.1:5000/v3';
const logger = createLogger({ level: 'silent' });
const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

/** The headers that act in the session a login answer opened: its cookie and CSRF token. */
function sessionHeaders(res: LightMyRequestResponse): Record<string, string> {
  return {
    cookie: `kaas_session=${res.cookies.find((c) => c.name === 'kaas_session')?.value}`,
    'x-csrf-token': res.json().csrfToken as string,
  };
}

describe('auth service against the real Keystone', () => {
  const admin = labAdminCloud(logger);
  const created: { users: string[]; roles: string[]; projects: string[] } = {
    users: [],
    roles: [],
    projects: [],
  };
  let project: { id: string; name: string };
  let project2: { id: string; name: string };
  let roleAdmin: { id: string; name: string };
  let roleView: { id: string; name: string };
  let alice: { id: string; name: string };
  let carol: { id: string; name: string };
  let serviceCloud: Cloud;
  const password = `pw-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    project = await admin.keystone.createProject({ name: `kaas-auth-${suffix}` });
    project2 = await admin.keystone.createProject({ name: `kaas-auth2-${suffix}` });
    created.projects.push(project.id, project2.id);
    roleAdmin = await admin.keystone.createRole({ name: `kaas-adm-${suffix}` });
    roleView = await admin.keystone.createRole({ name: `kaas-view-${suffix}` });
    created.roles.push(roleAdmin.id, roleView.id);
    alice = await admin.keystone.createUser({ name: `kaas-alice-${suffix}`, password });
    carol = await admin.keystone.createUser({ name: `kaas-carol-${suffix}`, password });
    const svc = await admin.keystone.createUser({ name: `kaas-svc-${suffix}`, password });
    const disabled = await admin.keystone.createUser({
      name: `kaas-dis-${suffix}`,
      password,
      enabled: false,
    });
    created.users.push(alice.id, carol.id, svc.id, disabled.id);
    for (const role of [roleAdmin, roleView]) {
      await admin.keystone.assignProjectRole({ projectId: project.id, userId: alice.id, roleId: role.id });
    }
    await admin.keystone.assignProjectRole({ projectId: project.id, userId: carol.id, roleId: roleView.id });
    await admin.keystone.assignProjectRole({ projectId: project2.id, userId: alice.id, roleId: roleView.id });
    const reader = (await admin.keystone.listRoles({ name: 'reader' }))[0];
    if (!reader) throw new Error('the lab Keystone has no reader role');
    await admin.session.request('identity', 'PUT', `/v3/domains/default/users/${svc.id}/roles/${reader.id}`);
    serviceCloud = createCloud({
      config: resolveCloudConfig({
        env: {
          OS_AUTH_URL: authUrl,
          OS_USERNAME: svc.name,
          OS_PASSWORD: password,
          OS_USER_DOMAIN_NAME: 'Default',
          OS_DOMAIN_NAME: 'Default',
        },
      }),
      logger,
    });
  });

  afterAll(async () => {
    for (const id of created.users) await admin.keystone.deleteUser(id).catch(() => undefined);
    for (const id of created.roles) await admin.keystone.deleteRole(id).catch(() => undefined);
    for (const id of created.projects) await admin.keystone.deleteProject(id).catch(() => undefined);
  });

  it('the directory reads users, effective assignments and the project with reader-only credentials', async () => {
    const dir = keystoneDirectory(serviceCloud);
    const users = await dir.listUsers();
    expect(users.find((u) => u.id === alice.id)).toEqual({
      id: alice.id,
      name: alice.name,
      domainId: 'default',
      domainName: 'Default',
      enabled: true,
    });
    expect(users.find((u) => u.name === `kaas-dis-${suffix}`)?.enabled).toBe(false);
    const assignments = await dir.listRoleAssignments(project.id);
    expect(
      assignments
        .filter((a) => a.userId === alice.id)
        .map((a) => a.roleId)
        .sort(),
    ).toEqual([roleAdmin.id, roleView.id].sort());
    expect(await dir.getProject(project.id)).toEqual({
      id: project.id,
      name: project.name,
      domainId: 'default',
    });
    await expect(dir.authenticate({ username: alice.name, password: 'wrong' })).rejects.toThrow(
      'wrong username or password',
    );
  });

  describe.each(engines)('HTTP flows on %s', (engine) => {
    let store: Store;
    let auth: AuthService;
    let app: FastifyInstance;
    let now = new Date();

    beforeAll(async () => {
      store = await freshStore(engine);
      const cluster = (id: string, name: string, p: { id: string; name: string }) => ({
        ...{ id, name, projectId: p.id, projectName: p.name },
        ...{ adminRoleIds: [roleAdmin.id], createdAt: now.toISOString() },
      });
      await insertCluster({ db: store.db, cluster: cluster(`c-${engine}`, `k8s-${engine}`, project) });
      // A second cluster, on a project where alice holds a role and carol none.
      await insertCluster({ db: store.db, cluster: cluster(`c2-${engine}`, `k8s2-${engine}`, project2) });
      auth = createAuthService({ store, directory: keystoneDirectory(serviceCloud), logger, now: () => now });
      app = await buildApp({ store, logger, now: () => now, auth });
      await auth.sync();
    });
    afterAll(async () => {
      await auth.close();
      await app.close();
      await store.close();
    });

    const login = (username: string, pw: string) =>
      app.inject({
        method: 'POST',
        url: '/api/v1/login',
        payload: { username, password: pw, domain: 'Default' },
      });
    async function tokenFor(username: string, extra: Record<string, unknown> = {}) {
      const res = await login(username, password);
      expect(res.statusCode).toBe(200);
      const t = await app.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: sessionHeaders(res),
        payload: { name: 'test', ...extra },
      });
      expect(t.statusCode).toBe(201);
      return t.json() as { id: string; token: string };
    }
    const tr = (body: unknown, cluster = `c-${engine}`) =>
      app.inject({ method: 'POST', url: `/tokenreview/${cluster}?timeout=30s`, payload: body as object });

    it('logs in with the right password; refuses a bad password and a disabled user', async () => {
      const ok = await login(alice.name, password);
      expect(ok.json().user).toEqual({ id: alice.id, name: alice.name, domain: 'Default' });
      expect((await login(alice.name, 'wrong')).statusCode).toBe(401);
      expect((await login(`kaas-dis-${suffix}`, password)).statusCode).toBe(401);
    });

    it('lets only 5 of 50 parallel wrong passwords reach Keystone; the victim, elsewhere, still logs in', async () => {
      const passwordChecks = async () =>
        (await auth.metrics.keystoneCalls.get()).values
          .filter((v) => v.labels.operation === 'authenticate')
          .reduce((n, v) => n + v.value, 0);
      const before = await passwordChecks();
      const from = (remoteAddress: string, pw: string) =>
        app.inject({
          method: 'POST',
          url: '/api/v1/login',
          payload: { username: carol.name, password: pw, domain: 'Default' },
          remoteAddress,
        });
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => from('198.51.100.66', `guess-${i}`)),
      );
      expect(await passwordChecks()).toBe(before + 5);
      expect(answers.filter((r) => r.statusCode === 429)).toHaveLength(45);
      // The five that reached Keystone were refused by it (401) or, when a pooled connection to the
      // lab Keystone drops under the burst (UND_ERR_SOCKET), answered 502: undecided, so the last
      // of them may be refunded, which is why the attacker's next try is not asserted here.
      const reached = answers.filter((r) => r.statusCode !== 429);
      expect(reached.every((r) => r.statusCode === 401 || r.statusCode === 502)).toBe(true);
      expect(reached.some((r) => r.statusCode === 401)).toBe(true);
      expect((await from('192.0.2.10', password)).statusCode).toBe(200);
      expect(await passwordChecks()).toBe(before + 6);
    });

    it('creates, lists and deletes tokens', async () => {
      const t = await tokenFor(alice.name);
      const headers = { authorization: `Bearer ${t.token}` };
      const list = await app.inject({ method: 'GET', url: '/api/v1/tokens', headers });
      expect(list.json().items.map((i: { id: string }) => i.id)).toContain(t.id);
      expect(
        (await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${t.id}`, headers })).statusCode,
      ).toBe(204);
    });

    it.each(['authentication.k8s.io/v1', 'authentication.k8s.io/v1beta1'])(
      'reviews a valid token in %s without calling Keystone',
      async (apiVersion) => {
        const t = await tokenFor(alice.name);
        const before = await auth.metrics.keystoneCalls.get();
        const res = await tr(reviewRequest(t.token, apiVersion));
        expect(res.json()).toEqual(
          authenticatedAnswer(apiVersion, {
            username: alice.name,
            uid: alice.id,
            groups: [roleAdmin.id, roleView.id].sort(),
            extra: {
              'kaas.io/role-names': [roleAdmin, roleView]
                .sort((a, b) => a.id.localeCompare(b.id))
                .map((r) => r.name),
              'kaas.io/project-id': [project.id],
              'kaas.io/project-name': [project.name],
              'kaas.io/user-domain': ['Default'],
            },
          }),
        );
        expect(await auth.metrics.keystoneCalls.get()).toEqual(before);
        expect(await auth.isClusterAdmin({ userId: alice.id, clusterId: `c-${engine}` })).toBe(true);
      },
    );

    it('rejects a deleted token and an expired token', async () => {
      const t = await tokenFor(alice.name, { expiresInDays: 1 });
      await app.inject({
        method: 'DELETE',
        url: `/api/v1/tokens/${t.id}`,
        headers: { authorization: `Bearer ${t.token}` },
      });
      expect((await tr(reviewRequest(t.token))).json().status).toEqual({
        authenticated: false,
        error: 'token is unknown or was deleted',
      });
      const e = await tokenFor(alice.name, { expiresInDays: 1 });
      expect((await tr(reviewRequest(e.token))).json().status.authenticated).toBe(true);
      const saved = now;
      now = new Date(now.getTime() + 86_400_000 + 1000);
      try {
        await auth.sync(); // a day without a sync would fail closed (tested below)
        expect((await tr(reviewRequest(e.token))).json().status).toEqual({
          authenticated: false,
          error: 'token has expired',
        });
      } finally {
        now = saved;
      }
    });

    it('lets only a password session create tokens: an API token gets 403 session_required', async () => {
      const t = await tokenFor(alice.name, { expiresInDays: 1 });
      const minted = await app.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: { authorization: `Bearer ${t.token}` },
        payload: { name: 'outlives-me', expiresInDays: 730 },
      });
      expect(minted.statusCode).toBe(403);
      expect(minted.json().error).toMatchObject({ code: 'session_required' });
      const list = await app.inject({
        method: 'GET',
        url: '/api/v1/tokens',
        headers: { authorization: `Bearer ${t.token}` },
      });
      expect(list.json().items.map((i: { name: string }) => i.name)).not.toContain('outlives-me');
    });

    it('restricts a token to chosen clusters; TokenReview from another cluster is refused', async () => {
      const only2 = await tokenFor(alice.name, { clusters: [`k8s2-${engine}`] });
      expect((await tr(reviewRequest(only2.token), `c2-${engine}`)).json().status).toMatchObject({
        authenticated: true,
        user: { uid: alice.id, groups: [roleView.id] },
      });
      expect((await tr(reviewRequest(only2.token))).json().status).toEqual({
        authenticated: false,
        error: `token is restricted to other clusters than k8s-${engine}`,
      });
      const list = await app.inject({
        method: 'GET',
        url: '/api/v1/tokens',
        headers: { authorization: `Bearer ${only2.token}` },
      });
      expect(list.json().items.find((i: { id: string }) => i.id === only2.id).clusters).toEqual([
        `c2-${engine}`,
      ]);
      // The kaas API honours it too: the other cluster's routes answer 404 (admin role or not).
      const overview = (token: string) =>
        app.inject({
          method: 'GET',
          url: `/api/v1/clusters/c-${engine}/admin/overview`,
          headers: { authorization: `Bearer ${token}` },
        });
      expect((await overview(only2.token)).statusCode).toBe(404);
      // It lists only its clusters, and cannot make another one active.
      const bearer = { authorization: `Bearer ${only2.token}` };
      const clusters = await app.inject({ method: 'GET', url: '/api/v1/clusters', headers: bearer });
      expect(clusters.json().items.map((i: { id: string }) => i.id)).toEqual([`c2-${engine}`]);
      const activate = await app.inject({
        method: 'PUT',
        url: '/api/v1/session/active-cluster',
        headers: bearer,
        payload: { clusterId: `c-${engine}` },
      });
      expect(activate.statusCode).toBe(404);
      const both = await tokenFor(alice.name, { clusters: [`c-${engine}`, `c2-${engine}`] });
      expect((await overview(both.token)).statusCode).toBe(200);
      expect((await tr(reviewRequest(both.token))).json().status.authenticated).toBe(true);
      expect((await tr(reviewRequest(both.token), `c2-${engine}`)).json().status.authenticated).toBe(true);
    });

    it('refuses a restriction to a cluster the user has no role on, unknown clusters and bad lists', async () => {
      const res = await login(carol.name, password);
      const headers = sessionHeaders(res);
      const create = (clusters: unknown) =>
        app.inject({ method: 'POST', url: '/api/v1/tokens', headers, payload: { name: 'x', clusters } });
      for (const clusters of [[`c2-${engine}`], ['no-such-cluster']]) {
        const r = await create(clusters);
        expect(r.statusCode).toBe(400);
        expect(r.json().error).toMatchObject({ code: 'cluster_not_found', field: 'clusters' });
      }
      for (const clusters of [[], 'c-1', [7], Array.from({ length: 51 }, (_, i) => `c${i}`)]) {
        const r = await create(clusters);
        expect(r.statusCode).toBe(400);
        // The schema names the offending element (`clusters[0]` for the number).
        expect(r.json().error.field).toMatch(/^clusters(\[\d+\])?$/);
      }
    });

    /** A new Keystone user holding the admin role of this engine's cluster, synced. */
    async function newClusterAdmin(name: string) {
      const user = await admin.keystone.createUser({ name: `kaas-${name}-${engine}-${suffix}`, password });
      created.users.push(user.id);
      await admin.keystone.assignProjectRole({
        projectId: project.id,
        userId: user.id,
        roleId: roleAdmin.id,
      });
      await auth.sync();
      return user;
    }
    const overview = (headers: Record<string, string>) =>
      app.inject({ method: 'GET', url: `/api/v1/clusters/c-${engine}/admin/overview`, headers });

    it('ends sessions and tokens within one sync of the user being disabled, losing the role, or deleted', async () => {
      const dave = await newClusterAdmin('dave');
      const signIn = async () => {
        const res = await login(dave.name, password);
        expect(res.statusCode).toBe(200);
        return sessionHeaders(res);
      };
      const s = await signIn();
      const t = await tokenFor(dave.name);
      const mint = (headers: Record<string, string>) =>
        app.inject({ method: 'POST', url: '/api/v1/tokens', headers, payload: { name: 'late' } });
      const bearer = { authorization: `Bearer ${t.token}` };
      expect((await overview(s)).statusCode).toBe(200);
      expect((await overview(bearer)).statusCode).toBe(200);
      expect((await tr(reviewRequest(t.token))).json().status.authenticated).toBe(true);

      // Disabled in Keystone: after one sync the session is gone (401 everywhere), the token too.
      await admin.keystone.setUserEnabled(dave.id, false);
      await auth.sync();
      expect((await app.inject({ method: 'GET', url: '/api/v1/session', headers: s })).statusCode).toBe(401);
      expect((await overview(s)).statusCode).toBe(401);
      expect((await mint(s)).statusCode).toBe(401);
      expect((await overview(bearer)).statusCode).toBe(401);
      expect((await tr(reviewRequest(t.token))).json().status).toEqual({
        authenticated: false,
        error: 'the token owner is disabled in Keystone',
      });

      // Enabled again but without the role: admin routes and TokenReview refuse after one sync.
      await admin.keystone.setUserEnabled(dave.id, true);
      await auth.sync();
      const s2 = await signIn();
      expect((await overview(s2)).statusCode).toBe(200);
      await admin.keystone.unassignProjectRole({
        projectId: project.id,
        userId: dave.id,
        roleId: roleAdmin.id,
      });
      await auth.sync();
      expect((await overview(s2)).statusCode).toBe(404);
      expect((await overview(bearer)).statusCode).toBe(404);
      expect((await tr(reviewRequest(t.token))).json().status).toEqual({
        authenticated: false,
        error: `user has no role on the project of cluster k8s-${engine}`,
      });

      // Deleted from Keystone: the session and the token are dead after one sync.
      await admin.keystone.deleteUser(dave.id);
      await auth.sync();
      expect((await app.inject({ method: 'GET', url: '/api/v1/session', headers: s2 })).statusCode).toBe(401);
      expect((await mint(s2)).statusCode).toBe(401);
      expect((await tr(reviewRequest(t.token))).json().status).toEqual({
        authenticated: false,
        error: 'the token owner no longer exists in Keystone',
      });
    }, 120_000);

    it('shuts out a user deleted from Keystone (roles and all) after making an API token: 401 on the API, TokenReview unauthenticated, after one sync', async () => {
      const erin = await newClusterAdmin('erin');
      const t = await tokenFor(erin.name);
      const bearer = { authorization: `Bearer ${t.token}` };
      const tokens = () => app.inject({ method: 'GET', url: '/api/v1/tokens', headers: bearer });
      expect((await overview(bearer)).statusCode).toBe(200);
      expect((await tokens()).statusCode).toBe(200);
      expect((await tr(reviewRequest(t.token))).json().status.authenticated).toBe(true);

      await admin.keystone.deleteUser(erin.id);
      await auth.sync();
      for (const res of [await overview(bearer), await tokens()]) {
        expect(res.statusCode).toBe(401);
        expect(res.body).not.toContain(t.token);
      }
      expect((await tr(reviewRequest(t.token))).json().status).toEqual({
        authenticated: false,
        error: 'the token owner no longer exists in Keystone',
      });
    }, 120_000);

    it('fails TokenReview closed, with a metric, once Keystone sync has failed for longer than the bound (default 10 min, or configured)', async () => {
      // A second replica on the same database whose Keystone credentials no longer work.
      const broken = createCloud({
        config: resolveCloudConfig({
          env: {
            OS_AUTH_URL: authUrl,
            OS_USERNAME: `kaas-svc-${suffix}`,
            OS_PASSWORD: 'not-the-password',
            OS_USER_DOMAIN_NAME: 'Default',
            OS_DOMAIN_NAME: 'Default',
          },
        }),
        logger,
      });
      // The default bound (no option: 10 min) and a configured one (4 min).
      for (const [options, boundS] of [
        [{}, 600],
        [{ syncMaxAgeMs: 4 * 60_000 }, 240],
      ] as const) {
        const replica = createAuthService({
          store,
          directory: keystoneDirectory(broken),
          logger,
          now: () => now,
          options,
        });
        const replicaApp = await buildApp({ store, logger, now: () => now, auth: replica });
        const saved = now;
        try {
          const t = await tokenFor(alice.name);
          await auth.sync();
          const trReplica = () =>
            replicaApp.inject({
              method: 'POST',
              url: `/tokenreview/c-${engine}`,
              payload: reviewRequest(t.token),
            });
          // A minute inside the bound, failed syncs still leave the last good mirror in use.
          now = new Date(saved.getTime() + (boundS - 60) * 1000);
          expect((await replica.sync()).failed).toContain('users');
          expect((await trReplica()).json().status.authenticated).toBe(true);

          now = new Date(saved.getTime() + (boundS + 60) * 1000);
          expect((await replica.sync()).failed).toContain('users');
          const refused = await trReplica();
          expect(refused.statusCode).toBe(200);
          expect(refused.json().status).toEqual({
            authenticated: false,
            error: `kaas cannot vouch for anyone: its last successful Keystone sync (users) was ${boundS + 60} s ago, over the ${boundS} s limit`,
          });
          expect(refused.body).not.toContain(t.token);
          const metrics = await replicaApp.inject({ method: 'GET', url: '/metrics' });
          expect(metrics.body).toContain('kaas_tokenreview_stale_sync_total 1');

          // A good sync by any replica (shared database) ends it, once the replica's cache lets go.
          await auth.sync();
          now = new Date(now.getTime() + replica.options.cacheTtlMs + 1);
          expect((await trReplica()).json().status.authenticated).toBe(true);
        } finally {
          now = saved;
          await auth.sync();
          await replica.close();
          await replicaApp.close();
        }
      }
    }, 120_000);

    it('answers an empty token 200 authenticated:false, on any cluster path', async () => {
      for (const cluster of [`c-${engine}`, 'no-such-cluster']) {
        const res = await tr(reviewRequest(''), cluster);
        expect(res.statusCode).toBe(200);
        expect(res.json().status).toEqual({ authenticated: false, error: 'token is empty' });
      }
    });

    it('accepts role bindings only for roles held on the cluster project', async () => {
      const res = await login(alice.name, password);
      const headers = sessionHeaders(res);
      const put = (keystoneRoleId: string) =>
        app.inject({
          method: 'PUT',
          url: `/api/v1/clusters/c-${engine}/role-bindings`,
          headers,
          payload: { items: [{ keystoneRoleId, kind: 'ClusterRole', roleName: 'view' }] },
        });
      expect((await put(roleView.id)).statusCode).toBe(200);
      // `reader` exists in Keystone, but nobody holds it on this project.
      const reader = (await admin.keystone.listRoles({ name: 'reader' }))[0];
      for (const id of [reader?.id ?? 'reader', 'no-such-role']) {
        const refused = await put(id);
        expect(refused.statusCode).toBe(400);
        expect(refused.json().error).toMatchObject({
          code: 'unknown_role',
          field: 'items[0].keystoneRoleId',
        });
      }
    });

    it('names two users called alice in two Keystone domains as two Kubernetes users', async () => {
      const domainName = `kaas-dom-${engine}-${suffix}`;
      const domain = (
        await admin.session.request<{ domain: { id: string } }>('identity', 'POST', '/v3/domains', {
          json: { domain: { name: domainName } },
        })
      ).body.domain;
      // Listing users of every domain needs more than a Default-domain reader: kaas' service user
      // must be able to read each domain whose users it serves; the admin stands in for that here.
      const multi = createAuthService({ store, directory: keystoneDirectory(admin), logger, now: () => now });
      const multiApp = await buildApp({ store, logger, now: () => now, auth: multi });
      try {
        const twin = await admin.keystone.createUser({ name: alice.name, password, domainId: domain.id });
        await admin.keystone.assignProjectRole({
          projectId: project.id,
          userId: twin.id,
          roleId: roleView.id,
        });
        await multi.sync();
        const tokenOf = async (domainLabel: string) => {
          const res = await multiApp.inject({
            method: 'POST',
            url: '/api/v1/login',
            payload: { username: alice.name, password, domain: domainLabel },
          });
          expect(res.statusCode).toBe(200);
          const t = await multiApp.inject({
            method: 'POST',
            url: '/api/v1/tokens',
            headers: sessionHeaders(res),
            payload: { name: 'twin' },
          });
          return t.json().token as string;
        };
        const reviewed = async (token: string) =>
          (
            await multiApp.inject({
              method: 'POST',
              url: `/tokenreview/c-${engine}`,
              payload: reviewRequest(token),
            })
          ).json().status.user as { username: string; uid: string; extra: Record<string, string[]> };
        const home = await reviewed(await tokenOf('Default'));
        const away = await reviewed(await tokenOf(domainName));
        expect(home).toMatchObject({ username: alice.name, uid: alice.id });
        expect(away).toMatchObject({ username: `${alice.name}@${domainName}`, uid: twin.id });
        expect(away.extra['kaas.io/user-domain']).toEqual([domainName]);
      } finally {
        await multi.close();
        await multiApp.close();
        // Deleting a (disabled) domain deletes its users.
        await admin.session
          .request('identity', 'PATCH', `/v3/domains/${domain.id}`, { json: { domain: { enabled: false } } })
          .catch(() => undefined);
        await admin.session.request('identity', 'DELETE', `/v3/domains/${domain.id}`).catch(() => undefined);
      }
    }, 120_000);

    it('answers 4xx for garbage, oversized bodies and wrong apiVersion/kind', async () => {
      const garbage = await app.inject({
        method: 'POST',
        url: `/tokenreview/c-${engine}`,
        headers: { 'content-type': 'application/json' },
        payload: '\u0000{]',
      });
      expect(garbage.statusCode).toBe(400);
      expect((await tr({ ...reviewRequest('x'), padding: 'y'.repeat(200_000) })).statusCode).toBe(413);
      expect((await tr({ ...reviewRequest('x'), apiVersion: 'v1' })).statusCode).toBe(400);
      expect((await tr({ ...reviewRequest('x'), kind: 'TokenRequest' })).statusCode).toBe(400);
    });

    it('drops a removed role and then a disabled user after one sync', async () => {
      const t = await tokenFor(carol.name);
      expect((await tr(reviewRequest(t.token))).json().status.user.groups).toEqual([roleView.id]);
      const a = await tokenFor(alice.name);
      await admin.keystone.unassignProjectRole({
        projectId: project.id,
        userId: alice.id,
        roleId: roleAdmin.id,
      });
      try {
        await auth.sync();
        expect((await tr(reviewRequest(a.token))).json().status.user.groups).toEqual([roleView.id]);
        await admin.keystone.setUserEnabled(carol.id, false);
        await auth.sync();
        expect((await tr(reviewRequest(t.token))).json().status).toEqual({
          authenticated: false,
          error: 'the token owner is disabled in Keystone',
        });
      } finally {
        await admin.keystone.assignProjectRole({
          projectId: project.id,
          userId: alice.id,
          roleId: roleAdmin.id,
        });
        await admin.keystone.setUserEnabled(carol.id, true);
      }
    });
  });
});
