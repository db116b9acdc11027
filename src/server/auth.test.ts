import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAuthService, type AuthService } from '../auth/service.ts';
import { generateToken } from '../auth/tokens.ts';
import { createLogger } from '../log.ts';
import type { Store } from '../store/db.ts';
import { aliceAndBob, memoryDirectory } from '../../test/auth/memoryDirectory.ts';
import { buildApp } from './app.ts';
import { postRaw, prodClusterStore } from '../../test/support/server.ts';
import { authenticatedAnswer, reviewRequest } from '../../test/support/tokenreview.ts';

describe('auth HTTP API and TokenReview (app.inject)', () => {
  let store: Store;
  let app: FastifyInstance;
  let auth: AuthService;
  let ks: ReturnType<typeof memoryDirectory>;
  let now: Date;
  let logText: string;

  beforeEach(async () => {
    now = new Date('2030-01-01T00:00:00Z');
    logText = '';
    const sink = new Writable({
      write: (chunk, _e, cb) => {
        logText += chunk.toString();
        cb();
      },
    });
    store = await prodClusterStore({ createdAt: now.toISOString() });
    ks = aliceAndBob([
      { userId: 'u1', roleId: 'r-admin', roleName: 'admin' },
      { userId: 'u1', roleId: 'r-member', roleName: 'member' },
      { userId: 'u2', roleId: 'r-member', roleName: 'member' },
    ]);
    const logger = createLogger({ level: 'trace', destination: sink });
    auth = createAuthService({ store, directory: ks.directory, logger, now: () => now });
    app = await buildApp({ store, logger, now: () => now, auth });
    await auth.sync();
  });
  afterEach(async () => {
    await auth.close();
    await app.close();
    await store.close();
  });

  async function login(username = 'alice', password = 'pw-alice', ip = '10.0.0.1') {
    return app.inject({
      method: 'POST',
      url: '/api/v1/login',
      payload: { username, password },
      remoteAddress: ip,
    });
  }
  async function session() {
    const res = await login();
    expect(res.statusCode).toBe(200);
    const cookie = res.cookies.find((c) => c.name === 'kaas_session');
    return { cookie: `kaas_session=${cookie?.value}`, csrf: res.json().csrfToken as string };
  }
  async function createToken(name = 'ci', extra: Record<string, unknown> = {}) {
    const s = await session();
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: { cookie: s.cookie, 'x-csrf-token': s.csrf },
      payload: { name, ...extra },
    });
    return res;
  }
  async function tokenReview(body: unknown, cluster = 'c1') {
    return app.inject({
      method: 'POST',
      url: `/tokenreview/${cluster}?timeout=30s`,
      payload: body as object,
    });
  }

  describe('login and sessions', () => {
    it('logs in, sets a strict session cookie and answers /session', async () => {
      const res = await login();
      expect(res.json()).toEqual({
        user: { id: 'u1', name: 'alice', domain: 'Default' },
        csrfToken: expect.any(String),
      });
      const cookie = res.cookies.find((c) => c.name === 'kaas_session');
      expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
      const s = await app.inject({
        method: 'GET',
        url: '/api/v1/session',
        headers: { cookie: `kaas_session=${cookie?.value}` },
      });
      expect(s.json()).toEqual({
        user: { id: 'u1', name: 'alice', domain: 'Default' },
        csrfToken: res.json().csrfToken,
        expiresAt: '2030-01-01T12:00:00.000Z',
      });
    });

    it('refuses a wrong password and a disabled user with 401', async () => {
      const bad = await login('alice', 'nope');
      expect(bad.statusCode).toBe(401);
      expect(bad.json().error).toEqual({ code: 'unauthenticated', message: 'wrong username or password' });
      ks.setEnabled('u2', false);
      expect((await login('bob', 'pw-bob')).statusCode).toBe(401);
    });

    it('validates the login body', async () => {
      const res = await app.inject({ method: 'POST', url: '/api/v1/login', payload: { username: 'alice' } });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.field).toBe('password');
      const dom = await app.inject({
        method: 'POST',
        url: '/api/v1/login',
        payload: { username: 'a', password: 'b', domain: 7 },
      });
      expect(dom.json().error.field).toBe('domain');
    });

    it('locks out after 5 failures per username+IP with 429 and Retry-After', async () => {
      for (let i = 0; i < 5; i++) expect((await login('alice', 'wrong')).statusCode).toBe(401);
      const locked = await login('alice', 'pw-alice');
      expect(locked.statusCode).toBe(429);
      expect(locked.headers['retry-after']).toBe('30');
      expect((await login('alice', 'pw-alice', '10.0.0.2')).statusCode).toBe(200);
      now = new Date(now.getTime() + 31_000);
      expect((await login('alice', 'pw-alice')).statusCode).toBe(200);
    });

    it('answers 401 without a session, after logout, and after idle or absolute expiry', async () => {
      expect((await app.inject({ method: 'GET', url: '/api/v1/session' })).statusCode).toBe(401);
      const s = await session();
      const out = await app.inject({
        method: 'POST',
        url: '/api/v1/logout',
        headers: { cookie: s.cookie, 'x-csrf-token': s.csrf },
      });
      expect(out.statusCode).toBe(204);
      expect(
        (await app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: s.cookie } }))
          .statusCode,
      ).toBe(401);

      const idle = await session();
      now = new Date(now.getTime() + 2 * 60 * 60_000);
      expect(
        (await app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: idle.cookie } }))
          .statusCode,
      ).toBe(401);

      const busy = await session();
      for (let i = 0; i < 13; i++) {
        now = new Date(now.getTime() + 60 * 60_000);
        const r = await app.inject({
          method: 'GET',
          url: '/api/v1/session',
          headers: { cookie: busy.cookie },
        });
        expect(r.statusCode).toBe(i < 11 ? 200 : 401);
      }
    });

    it('requires X-CSRF-Token for cookie-authenticated writes', async () => {
      const s = await session();
      const none = await app.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: { cookie: s.cookie },
        payload: { name: 'x' },
      });
      expect(none.statusCode).toBe(403);
      expect(none.json().error.code).toBe('csrf_failed');
      const wrong = await app.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: { cookie: s.cookie, 'x-csrf-token': 'nope' },
        payload: { name: 'x' },
      });
      expect(wrong.statusCode).toBe(403);
    });
  });

  describe('API tokens', () => {
    it('creates (shown once), lists without secrets and deletes', async () => {
      const res = await createToken('laptop', { expiresInDays: 30 });
      expect(res.statusCode).toBe(201);
      const body = res.json();
      expect(body).toEqual({
        id: expect.any(String),
        name: 'laptop',
        token: expect.stringMatching(/^kaas_/),
        createdAt: now.toISOString(),
        expiresAt: '2030-01-31T00:00:00.000Z',
      });
      const bearer = { authorization: `Bearer ${body.token}` };
      const list = await app.inject({ method: 'GET', url: '/api/v1/tokens', headers: bearer });
      expect(list.json()).toEqual({
        items: [
          {
            id: body.id,
            name: 'laptop',
            createdAt: body.createdAt,
            expiresAt: body.expiresAt,
            lastUsedAt: null,
          },
        ],
      });
      expect(list.body).not.toContain(body.token);
      const minted = await app.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: bearer,
        payload: { name: 'script' },
      });
      expect(minted.statusCode).toBe(403);
      expect(minted.json().error.code).toBe('session_required');
      const second = await createToken('script');
      expect(second.statusCode).toBe(201);
      expect(second.json().expiresAt).toBe('2031-01-01T00:00:00.000Z');
      expect(
        (await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${second.json().id}`, headers: bearer }))
          .statusCode,
      ).toBe(204);
      expect(
        (await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${body.id}`, headers: bearer }))
          .statusCode,
      ).toBe(204);
      expect((await app.inject({ method: 'GET', url: '/api/v1/tokens', headers: bearer })).statusCode).toBe(
        401,
      );
    });

    it('validates name and expiresInDays', async () => {
      expect((await createToken('')).json().error.field).toBe('name');
      const tooLong = await createToken('x', { expiresInDays: 731 });
      expect(tooLong.statusCode).toBe(400);
      expect(tooLong.json().error.field).toBe('expiresInDays');
    });

    it('lets only the owner delete a token', async () => {
      const alice = (await createToken()).json();
      const bobLogin = await login('bob', 'pw-bob');
      const bobCookie = `kaas_session=${bobLogin.cookies.find((c) => c.name === 'kaas_session')?.value}`;
      const res = await app.inject({
        method: 'DELETE',
        url: `/api/v1/tokens/${alice.id}`,
        headers: { cookie: bobCookie, 'x-csrf-token': bobLogin.json().csrfToken },
      });
      expect(res.statusCode).toBe(404);
      await auth.adminDeleteToken(alice.id);
      await expect(auth.adminDeleteToken(alice.id)).rejects.toThrow(/no token/);
    });

    it('refuses anonymous and malformed bearer calls with 401', async () => {
      expect((await app.inject({ method: 'GET', url: '/api/v1/tokens' })).statusCode).toBe(401);
      const res = await app.inject({
        method: 'GET',
        url: '/api/v1/tokens',
        headers: { authorization: 'Bearer kaas_typo' },
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('invalid_token');
    });

    it('records last use at most once a minute, off the response path', async () => {
      const t = (await createToken()).json();
      await tokenReview(reviewRequest(t.token));
      await auth.flushLastUsed();
      const first = (await auth.listTokens({ userId: 'u1' }))[0]?.lastUsedAt;
      expect(first).toBe(now.toISOString());
      now = new Date(now.getTime() + 30_000);
      await tokenReview(reviewRequest(t.token));
      await auth.flushLastUsed();
      expect((await auth.listTokens({ userId: 'u1' }))[0]?.lastUsedAt).toBe(first);
      now = new Date(now.getTime() + 31_000);
      await tokenReview(reviewRequest(t.token));
      await auth.flushLastUsed();
      expect((await auth.listTokens({ userId: 'u1' }))[0]?.lastUsedAt).toBe(now.toISOString());
    });
  });

  describe('TokenReview', () => {
    it.each(['authentication.k8s.io/v1', 'authentication.k8s.io/v1beta1'])(
      'authenticates a valid token in %s',
      async (apiVersion) => {
        const t = (await createToken()).json();
        const res = await tokenReview(reviewRequest(t.token, apiVersion));
        expect(res.statusCode).toBe(200);
        expect(res.json()).toEqual(
          authenticatedAnswer(apiVersion, {
            username: 'alice',
            uid: 'u1',
            groups: ['r-admin', 'r-member'],
            extra: {
              'kaas.io/role-names': ['admin', 'member'],
              'kaas.io/project-id': ['p1'],
              'kaas.io/project-name': ['proj'],
              'kaas.io/user-domain': ['Default'],
            },
          }),
        );
        expect(res.body).not.toContain(t.token);
      },
    );

    it('makes no Keystone call while reviewing', async () => {
      const t = (await createToken()).json();
      const before = ks.state.calls;
      for (let i = 0; i < 20; i++)
        expect((await tokenReview(reviewRequest(t.token))).json().status.authenticated).toBe(true);
      expect(ks.state.calls).toBe(before);
    });

    it('rejects a deleted token at once (cache invalidated)', async () => {
      const t = (await createToken()).json();
      expect((await tokenReview(reviewRequest(t.token))).json().status.authenticated).toBe(true);
      await app.inject({
        method: 'DELETE',
        url: `/api/v1/tokens/${t.id}`,
        headers: { authorization: `Bearer ${t.token}` },
      });
      expect((await tokenReview(reviewRequest(t.token))).json().status).toEqual({
        authenticated: false,
        error: 'token is unknown or was deleted',
      });
    });

    it('rejects an expired token', async () => {
      const t = (await createToken('short', { expiresInDays: 1 })).json();
      expect((await tokenReview(reviewRequest(t.token))).json().status.authenticated).toBe(true);
      now = new Date(now.getTime() + 86_400_000);
      await auth.sync(); // a day without a sync would fail closed (the stale-mirror test covers that)
      expect((await tokenReview(reviewRequest(t.token))).json().status).toEqual({
        authenticated: false,
        error: 'token has expired',
      });
    });

    it('rejects a user disabled or deleted in Keystone after one sync', async () => {
      const t = (await createToken()).json();
      expect((await tokenReview(reviewRequest(t.token))).json().status.authenticated).toBe(true);
      ks.setEnabled('u1', false);
      await auth.sync();
      expect((await tokenReview(reviewRequest(t.token))).json().status.error).toBe(
        'the token owner is disabled in Keystone',
      );
      ks.deleteUser('u1');
      await auth.sync();
      expect((await tokenReview(reviewRequest(t.token))).json().status.error).toBe(
        'the token owner no longer exists in Keystone',
      );
    });

    it('drops a removed role after one sync, and rejects a user left with no role', async () => {
      const t = (await createToken()).json();
      expect((await tokenReview(reviewRequest(t.token))).json().status.user.groups).toEqual([
        'r-admin',
        'r-member',
      ]);
      ks.setRoles('p1', [{ userId: 'u1', roleId: 'r-member', roleName: 'member' }]);
      await auth.sync();
      expect((await tokenReview(reviewRequest(t.token))).json().status.user.groups).toEqual(['r-member']);
      expect(await auth.isClusterAdmin({ userId: 'u1', clusterId: 'c1' })).toBe(false);
      expect(await auth.clusterRolesOf({ userId: 'u1', clusterId: 'c1' })).toEqual([
        { roleId: 'r-member', roleName: 'member' },
      ]);
      ks.setRoles('p1', []);
      await auth.sync();
      expect((await tokenReview(reviewRequest(t.token))).json().status.error).toBe(
        'user has no role on the project of cluster prod',
      );
    });

    it('keeps the last good data when a sync fails, and shows it in metrics', async () => {
      const t = (await createToken()).json();
      ks.state.failing = true;
      const outcome = await auth.sync();
      expect(outcome.failed).toEqual(['users', 'project:p1']);
      expect((await tokenReview(reviewRequest(t.token))).json().status.authenticated).toBe(true);
      now = new Date(now.getTime() + 90_000);
      const metrics = await app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toContain('kaas_keystone_sync_failures_total 1');
      expect(metrics.body).toContain('kaas_keystone_sync_age_seconds 90');
      expect(metrics.body).toContain('kaas_tokenreview_total{result="authenticated"} 1');
      expect(metrics.body).toContain('kaas_tokenreview_duration_seconds_bucket');
      expect(metrics.body).toContain('kaas_keystone_calls_total{operation="listUsers",outcome="error"} 1');
      expect(logText).toContain('keystone sync failed; keeping the last good data');
    });

    it('rejects garbage and foreign tokens without a lookup, and honours audiences', async () => {
      const t = (await createToken()).json();
      expect((await tokenReview(reviewRequest('not-a-kaas-token'))).json().status).toEqual({
        authenticated: false,
        error: 'token is not a valid kaas token',
      });
      expect((await tokenReview(reviewRequest(generateToken()))).json().status.error).toBe(
        'token is unknown or was deleted',
      );
      const other = await tokenReview(reviewRequest(t.token, undefined, ['https://other.example']));
      expect(other.json().status).toEqual({
        authenticated: false,
        error: 'none of the requested audiences is served by kaas',
      });
      const mixed = await tokenReview(
        reviewRequest(t.token, undefined, ['https://other.example', 'https://kubernetes.default.svc']),
      );
      expect(mixed.json().status.audiences).toEqual(['https://kubernetes.default.svc']);
      const none = await tokenReview({ ...reviewRequest(t.token), spec: { token: t.token } });
      expect(none.json().status.authenticated).toBe(true);
      expect(none.json().status.audiences).toBeUndefined();
    });

    it('answers clear 4xx for wrong apiVersion/kind, garbage and oversized bodies, and unknown clusters', async () => {
      const wrongVersion = await tokenReview({
        ...reviewRequest('x'),
        apiVersion: 'authentication.k8s.io/v2',
      });
      expect(wrongVersion.statusCode).toBe(400);
      expect(wrongVersion.json().error.field).toBe('apiVersion');
      expect((await tokenReview({ ...reviewRequest('x'), kind: 'Pod' })).json().error.field).toBe('kind');
      const garbage = await postRaw(app, '/tokenreview/c1', '{"kind":');
      expect(garbage.statusCode).toBe(400);
      const text = await postRaw(app, '/tokenreview/c1', 'hello', 'text/plain');
      expect(text.statusCode).toBe(400);
      expect(text.json().error.message).toBe('body must be object');
      const big = await tokenReview({ ...reviewRequest('x'), padding: 'x'.repeat(100_000) });
      expect(big.statusCode).toBe(413);
      expect(big.json().error.code).toBe('body_too_large');
      const unknown = await tokenReview(reviewRequest(generateToken()), 'nope');
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().error.code).toBe('cluster_not_found');
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    });

    it('answers 5xx only when it cannot decide: nothing synced yet, or the database is down', async () => {
      const fresh = await prodClusterStore({ createdAt: now.toISOString(), adminRoleIds: [] });
      let written = '';
      const destination = new Writable({
        write: (chunk, _e, cb) => {
          written += chunk.toString();
          cb();
        },
      });
      const logger = createLogger({ level: 'silent', destination });
      const svc = createAuthService({ store: fresh, directory: ks.directory, logger, now: () => now });
      const freshApp = await buildApp({ store: fresh, logger, now: () => now, auth: svc });
      await svc.login({ username: 'alice', password: 'pw-alice', ip: '1.1.1.1' });
      const created = await svc.createToken(
        { userId: 'u1', userName: 'alice', domainName: 'Default', via: 'session' },
        { name: 'x' },
      );
      const notSynced = await freshApp.inject({
        method: 'POST',
        url: '/tokenreview/c1',
        payload: reviewRequest(created.token),
      });
      expect(notSynced.statusCode).toBe(502);
      expect(notSynced.json().error.code).toBe('not_synced');
      await fresh.close();
      const down = await freshApp.inject({
        method: 'POST',
        url: '/tokenreview/c1',
        payload: reviewRequest(created.token),
      });
      expect(down.statusCode).toBe(500);
      // The webhook route logs warnings at most, never more than kaas's level lets through.
      expect(written).toBe('');
      await svc.close();
      await freshApp.close();
    });

    it('answers usernames as name@domain when configured', async () => {
      const logger = createLogger({ level: 'silent' });
      const svc = createAuthService({
        store,
        directory: ks.directory,
        logger,
        now: () => now,
        options: { usernameFormat: 'name@domain' },
      });
      const created = await svc.createToken(
        { userId: 'u1', userName: 'alice', domainName: 'Default', via: 'session' },
        { name: 'x' },
      );
      const result = await svc.reviewToken({ clusterId: 'c1', token: created.token, audiences: undefined });
      expect('user' in result && result.user.username).toBe('alice@Default');
      await svc.close();
    });
  });

  describe('logging', () => {
    it('writes no access line per TokenReview, and the webhook ignores cookies and Authorization', async () => {
      const t = (await createToken()).json();
      logText = '';
      const res = await app.inject({
        method: 'POST',
        url: '/tokenreview/c1?timeout=30s',
        payload: reviewRequest(t.token),
        // A webhook call carries neither; if it did, the API's principal hook must not judge it.
        headers: { authorization: 'Bearer not-a-kaas-token', cookie: 'kaas_session=bogus' },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().status.authenticated).toBe(true);
      expect(logText).not.toContain('/tokenreview/');
      await app.inject({ method: 'GET', url: '/api/v1/session' });
      expect(logText).toContain('/api/v1/session');
    });

    it('makes no logger for a TokenReview that logs nothing; a failing one logs its error and request id', async () => {
      const t = (await createToken()).json();
      const children = vi.spyOn(app.log, 'child');
      expect((await tokenReview(reviewRequest(t.token))).statusCode).toBe(200);
      expect(children).not.toHaveBeenCalled();
      logText = '';
      await store.close();
      const unknown = generateToken();
      expect((await tokenReview(reviewRequest(unknown))).statusCode).toBe(500);
      expect(children).toHaveBeenCalledTimes(1);
      const line = JSON.parse(logText.trim().split('\n').at(-1) as string);
      expect(line).toMatchObject({ level: 50, msg: 'request failed', reqId: expect.any(String) });
      expect(logText).not.toContain(unknown);
    });

    it('never writes tokens, passwords or cookies to the log', async () => {
      const res = await login('alice', 'pw-alice');
      const cookieValue = res.cookies.find((c) => c.name === 'kaas_session')?.value ?? '';
      const t = (await createToken()).json();
      await tokenReview(reviewRequest(t.token));
      await app.inject({
        method: 'GET',
        url: '/api/v1/tokens',
        headers: { authorization: `Bearer ${t.token}` },
      });
      app.log.info(
        {
          body: reviewRequest(t.token),
          headers: { authorization: `Bearer ${t.token}`, cookie: `kaas_session=${cookieValue}` },
        },
        'explicit',
      );
      app.log.info(
        {
          req: { headers: { authorization: `Bearer ${t.token}` } },
          spec: { token: t.token },
          password: 'pw-alice',
        },
        'explicit2',
      );
      expect(logText).toContain('explicit2');
      expect(logText).toContain('[redacted]');
      expect(logText).not.toContain(t.token);
      expect(logText).not.toContain('pw-alice');
      expect(logText).not.toContain(cookieValue);
    });
  });
});
