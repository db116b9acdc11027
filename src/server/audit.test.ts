import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aliceAndBob, memoryDirectory } from '../../test/auth/memoryDirectory.ts';
import { createAuthService, type AuthService } from '../auth/service.ts';
import { createLogger } from '../log.ts';
import { openStore, type Store } from '../store/db.ts';
import { up as panelUp } from '../store/migrations/0005_panel.ts';
import { registerAudit } from './audit.ts';
import { errorHandler } from './errors.ts';
import { registerPrincipal } from './principal.ts';
import { registerAdminRoutes } from './routes/admin.ts';
import { registerSessionRoutes } from './routes/session.ts';
import { registerTokenRoutes } from './routes/tokens.ts';
import { prodClusterStore } from '../../test/support/server.ts';

/**
 * The audit hook over the real session, token and admin routes (memory Keystone, SQLite), plus a
 * stand-in cluster route whose answer carries a secret the log must not keep.
 */
describe('audit hook', () => {
  let store: Store;
  let app: FastifyInstance;
  let auth: AuthService;
  let logLines: string[];
  const t0 = Date.parse('2030-01-01T00:00:00.000Z');
  let tick = 0;
  /** Each reading advances 1 ms, so audit rows sort in the order the requests ran. */
  const clock = () => new Date(t0 + tick++);

  async function build(storeForAudit: Store): Promise<void> {
    const sink = { write: (line: string) => void logLines.push(line) };
    const logger = createLogger({ level: 'info', destination: sink as never });
    auth = createAuthService({ store, directory: directory.directory, logger, now: clock });
    app = Fastify({ loggerInstance: logger }) as unknown as FastifyInstance;
    app.setErrorHandler(errorHandler);
    await app.register(cookie);
    registerPrincipal(app, auth);
    registerAudit(app, { store: storeForAudit, now: clock });
    registerSessionRoutes(app, auth);
    registerTokenRoutes(app, auth);
    registerAdminRoutes(app, { store, logger, now: clock, auth });
    app.post('/api/v1/clusters', async (_request, reply) =>
      reply.status(202).send({
        cluster: { id: 'c9', name: 'new' },
        job: { id: 'j1' },
        privateKey: 'PRIVATE-KEY-SECRET',
      }),
    );
    app.get('/api/v1/other', async () => ({ ok: true }));
    await auth.sync();
  }

  let directory: ReturnType<typeof memoryDirectory>;
  beforeEach(async () => {
    logLines = [];
    store = await prodClusterStore({ createdAt: clock().toISOString() });
    await panelUp(store.db as never);
    directory = aliceAndBob([
      { userId: 'u1', roleId: 'r-admin', roleName: 'admin' },
      { userId: 'u2', roleId: 'r-member', roleName: 'member' },
    ]);
  });
  afterEach(async () => {
    await auth?.close();
    await app?.close();
    await store.close();
  });

  async function login(username: string, password: string) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/login',
      payload: { username, password },
      remoteAddress: '10.1.2.3',
    });
    const c = res.cookies.find((x) => x.name === 'kaas_session');
    const headers = { cookie: `kaas_session=${c?.value}`, 'x-csrf-token': res.json().csrfToken };
    /** A request in this session. */
    const send = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) =>
      app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
    return { res, send };
  }
  const rows = () => store.db.selectFrom('audit_events').selectAll().orderBy('at').execute();

  it('records logins (good and bad, never the password), logout and token create/delete', async () => {
    await build(store);
    await login('alice', 'wrong-password-123');
    await login('nobody', 'whatever-456');
    const { send } = await login('alice', 'pw-alice');
    const created = await send('POST', '/api/v1/tokens', { name: 'ci' });
    expect(created.statusCode).toBe(201);
    const { id, token } = created.json() as { id: string; token: string };
    await send('DELETE', `/api/v1/tokens/${id}`);
    await send('GET', '/api/v1/tokens');
    await send('GET', '/api/v1/other');
    await send('POST', '/api/v1/logout');

    const events = await rows();
    const dump = JSON.stringify(events);
    for (const secret of ['wrong-password-123', 'whatever-456', 'pw-alice', token])
      expect(dump).not.toContain(secret);
    expect(events.map((e) => [e.action, e.outcome, e.actor_user_id, e.actor_name])).toEqual([
      ['login', 'failure', 'u1', 'alice@Default'],
      ['login', 'failure', null, 'nobody@Default'],
      ['login', 'success', 'u1', 'alice@Default'],
      ['token.create', 'success', 'u1', 'alice@Default'],
      ['token.delete', 'success', 'u1', 'alice@Default'],
      ['logout', 'success', 'u1', 'alice@Default'],
    ]);
    const byAction = Object.fromEntries(events.map((e) => [e.action, e]));
    expect(byAction['token.create']).toMatchObject({ target: id, cluster_id: null });
    expect(JSON.parse(byAction['token.create']!.details)).toEqual({
      status: 201,
      name: 'ci',
      expiresAt: expect.any(String),
    });
    expect(byAction['token.delete']?.target).toBe(id);
    const again = await login('alice', 'pw-alice');
    const restricted = await again.send('POST', '/api/v1/tokens', { name: 'prod-only', clusters: ['prod'] });
    expect(restricted.statusCode).toBe(201);
    const restrictedEvent = (await rows()).find((e) => e.target === restricted.json().id);
    expect(JSON.parse(restrictedEvent!.details)).toMatchObject({ name: 'prod-only', clusters: ['c1'] });
    expect(JSON.parse(events[0]!.details)).toMatchObject({ status: 401, error: expect.any(String) });
    expect(events[2]?.source_ip).toBe('10.1.2.3');
    expect(events.every((e) => e.request_id)).toBe(true);
  });

  it('records cluster and role-binding changes with the cluster id, and members refused with 403', async () => {
    await build(store);
    const alice = await login('alice', 'pw-alice');
    const bob = await login('bob', 'pw-bob');
    const created = await alice.send('POST', '/api/v1/clusters', { defaultProject: 'kaas' });
    expect(created.statusCode).toBe(202);
    const put = await alice.send('PUT', '/api/v1/clusters/c1/role-bindings', {
      items: [{ keystoneRoleId: 'r-member', kind: 'ClusterRole', roleName: 'view' }],
    });
    expect(put.statusCode).toBe(200);
    const refused = await bob.send('PUT', '/api/v1/clusters/c1/role-bindings', { items: [] });
    expect(refused.statusCode).toBe(403);
    const anonymous = await app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'x' } });
    expect(anonymous.statusCode).toBe(401);

    const events = (await rows()).filter((e) => e.action !== 'login');
    expect(JSON.stringify(events)).not.toContain('PRIVATE-KEY-SECRET');
    expect(events.map((e) => [e.action, e.outcome, e.actor_name, e.cluster_id, e.target])).toEqual([
      ['cluster.create', 'success', 'alice@Default', 'c9', 'new'],
      ['rolebindings.update', 'success', 'alice@Default', 'c1', 'c1'],
      ['rolebindings.update', 'failure', 'bob@Default', 'c1', 'c1'],
    ]);
    expect(JSON.parse(events[0]!.details)).toEqual({ status: 202, jobId: 'j1' });
    expect(JSON.parse(events[1]!.details)).toEqual({ status: 200, revision: 1, bindings: 1 });
    expect(JSON.parse(events[2]!.details)).toMatchObject({ status: 403, error: 'forbidden' });
  });

  it('records an administrator revoking a member token', async () => {
    await build(store);
    const bob = await login('bob', 'pw-bob');
    const created = await bob.send('POST', '/api/v1/tokens', { name: 'b' });
    const tokenId = created.json().id as string;
    const alice = await login('alice', 'pw-alice');
    const res = await alice.send('DELETE', `/api/v1/clusters/c1/admin/tokens/${tokenId}`);
    expect(res.statusCode).toBe(204);
    const revoke = (await rows()).find((e) => e.action === 'token.revoke');
    expect(revoke).toMatchObject({
      actor_user_id: 'u1',
      cluster_id: 'c1',
      target: tokenId,
      outcome: 'success',
    });
  });

  it('answers the request and logs the error when the audit insert fails', async () => {
    const broken = openStore('sqlite::memory:');
    await broken.close();
    await build(broken);
    const { res } = await login('alice', 'pw-alice');
    expect(res.statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    expect(logLines.join('')).toContain('could not write the audit log entry');
  });
});
