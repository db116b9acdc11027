import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.ts';
import { resolveCloudConfig } from './config.ts';
import { isOpenStackError, type OpenStackError } from './errors.ts';
import { createSession, type SessionDeps } from './session.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let base: string;
let routes: Record<string, Handler> = {};
let authCount = 0;
let tokenLifetimeMs = 3_600_000;
const seenTokens: string[] = [];
let logText = '';

function json(res: ServerResponse, status: number, doc: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(doc));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const path = (req.url ?? '').replace(/\?.*$/, '');
      if (req.method === 'POST' && path === '/v3/auth/tokens') {
        const doc = JSON.parse(body) as { auth: { identity: { password: { user: { password: string } } } } };
        if (doc.auth.identity.password.user.password !== 'secret') {
          json(
            res,
            401,
            {
              error: {
                code: 401,
                title: 'Unauthorized',
                message: 'The request you have made requires authentication.',
              },
            },
            {
              'x-openstack-request-id': 'req-auth',
            },
          );
          return;
        }
        authCount++;
        const expires = new Date(Date.now() + tokenLifetimeMs).toISOString();
        json(
          res,
          201,
          {
            token: {
              expires_at: expires,
              methods: ['password'],
              user: { id: 'u1', name: 'admin', domain: { id: 'default', name: 'Default' } },
              project: { id: 'p1', name: 'admin', domain: { id: 'default', name: 'Default' } },
              roles: [{ id: 'r1', name: 'admin' }],
              catalog: [
                {
                  type: 'compute',
                  endpoints: [
                    { interface: 'public', region: 'RegionOne', url: `${base}/compute` },
                    { interface: 'internal', region: 'RegionOne', url: `${base}/internal` },
                  ],
                },
              ],
            },
          },
          { 'x-subject-token': `tok-${authCount}` },
        );
        return;
      }
      seenTokens.push(String(req.headers['x-auth-token']));
      const handler = routes[`${req.method} ${path}`];
      if (handler) handler(req, res, body);
      else json(res, 404, { itemNotFound: { message: `no route ${req.method} ${path}` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  routes = {};
  authCount = 0;
  tokenLifetimeMs = 3_600_000;
  seenTokens.length = 0;
  logText = '';
});

function session(overrides: Partial<SessionDeps> & { password?: string; authUrl?: string } = {}) {
  const sleeps: number[] = [];
  const config = resolveCloudConfig({
    env: {
      OS_AUTH_URL: overrides.authUrl ?? `${base}/v3`,
      OS_USERNAME: 'admin',
      OS_PASSWORD: overrides.password ?? 'secret',
      OS_PROJECT_NAME: 'admin',
      OS_REGION_NAME: 'RegionOne',
    },
  });
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logText += chunk.toString();
      cb();
    },
  });
  const s = createSession({
    config,
    logger: createLogger({ level: 'debug', destination }),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    retry: { random: () => 0.5, maxAttempts: 3 },
    ...overrides,
  });
  return { s, sleeps };
}

async function failure(p: Promise<unknown>): Promise<OpenStackError> {
  try {
    await p;
  } catch (e) {
    if (isOpenStackError(e)) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('session', () => {
  it('authenticates, picks the public endpoint of the region and caches the token', async () => {
    routes['GET /compute/servers'] = (_q, res) =>
      json(res, 200, { servers: [] }, { 'x-compute-request-id': 'req-c' });
    const { s } = session();
    const r = await s.request<{ servers: unknown[] }>('compute', 'GET', '/servers', {
      query: { name: 'x', tags: ['a', 'b'] },
    });
    await s.request('compute', 'GET', '/servers');
    expect(r.body).toEqual({ servers: [] });
    expect(r.requestId).toBe('req-c');
    expect(authCount).toBe(1);
    expect(seenTokens).toEqual(['tok-1', 'tok-1']);
    expect(logText).not.toContain('tok-1');
    expect(logText).not.toContain('secret');
  });

  it('fails with openstack_unreachable and a clear message when the endpoint port is closed', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const { s } = session({ authUrl: `http://127.0.0.1:${port}/v3` });
    const err = await failure(s.token());
    expect(err.code).toBe('openstack_unreachable');
    expect(err.status).toBeUndefined();
    expect(err.message).toMatch(
      new RegExp(`Cannot reach identity at http://127.0.0.1:${port} \\(ECONNREFUSED\\).*OS_AUTH_URL`),
    );
  });

  it('maps a wrong password to openstack_unauthorized', async () => {
    const { s } = session({ password: 'wrong' });
    const err = await failure(s.request('compute', 'GET', '/servers'));
    expect(err.code).toBe('openstack_unauthorized');
    expect(err.message).toMatch(/wrong username or password/);
    expect(err.message).not.toContain('wrong"');
    expect(err.requestId).toBe('req-auth');
  });

  it('re-authenticates once and replays when a service rejects the token mid-call', async () => {
    routes['GET /compute/servers'] = (req, res) =>
      req.headers['x-auth-token'] === 'tok-1'
        ? json(res, 401, { error: { message: 'token expired' } })
        : json(res, 200, { servers: [{ id: 's1' }] });
    const { s } = session();
    const r = await s.request<{ servers: unknown[] }>('compute', 'GET', '/servers');
    expect(r.body.servers).toEqual([{ id: 's1' }]);
    expect(authCount).toBe(2);
    expect(seenTokens).toEqual(['tok-1', 'tok-2']);
  });

  it('gives up after one re-authentication when the service keeps answering 401', async () => {
    routes['GET /compute/servers'] = (_q, res) => json(res, 401, { error: { message: 'nope' } });
    const { s } = session();
    const err = await failure(s.request('compute', 'GET', '/servers'));
    expect(err.code).toBe('openstack_unauthorized');
    expect(authCount).toBe(2);
  });

  it('re-authenticates shortly before the token expires', async () => {
    tokenLifetimeMs = 60_000;
    routes['GET /compute/x'] = (_q, res) => json(res, 200, {});
    const { s } = session();
    await s.request('compute', 'GET', '/x');
    await s.request('compute', 'GET', '/x');
    expect(authCount).toBe(2);
  });

  it('retries a 429 storm honouring Retry-After, then gives up with openstack_rate_limited and the request id', async () => {
    let calls = 0;
    routes['POST /compute/servers'] = (_q, res) => {
      calls++;
      json(
        res,
        429,
        { overLimit: { message: 'Too many requests' } },
        { 'retry-after': '2', 'x-openstack-request-id': `req-429-${calls}` },
      );
    };
    const { s, sleeps } = session();
    const err = await failure(s.request('compute', 'POST', '/servers', { json: {} }));
    expect(calls).toBe(3);
    expect(sleeps).toEqual([2000, 2000]);
    expect(err.code).toBe('openstack_rate_limited');
    expect(err.status).toBe(429);
    expect(err.requestId).toBe('req-429-3');
    expect(err.message).toMatch(/Too many requests.*\[request req-429-3\].*gave up after 3 attempts/);
  });

  it('turns malformed JSON into openstack_bad_response with the request id', async () => {
    routes['GET /compute/servers'] = (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-openstack-request-id': 'req-bad' });
      res.end('{"servers": [');
    };
    const { s } = session();
    const err = await failure(s.request('compute', 'GET', '/servers'));
    expect(err.code).toBe('openstack_bad_response');
    expect(err.requestId).toBe('req-bad');
    expect(err.message).toMatch(/malformed JSON \[request req-bad\]/);
  });

  it('does not retry a 5xx on POST, but does on GET', async () => {
    let posts = 0;
    let gets = 0;
    routes['POST /compute/servers'] = (_q, res) => {
      posts++;
      json(res, 503, { message: 'down' });
    };
    routes['GET /compute/servers'] = (_q, res) => {
      gets++;
      if (gets < 2) json(res, 503, { message: 'down' });
      else json(res, 200, { ok: true });
    };
    const { s, sleeps } = session();
    const err = await failure(s.request('compute', 'POST', '/servers', { json: {} }));
    expect(err.code).toBe('openstack_unavailable');
    expect(posts).toBe(1);
    expect((await s.request('compute', 'GET', '/servers')).body).toEqual({ ok: true });
    expect(gets).toBe(2);
    expect(sleeps).toEqual([375]);
  });

  it('times out with openstack_timeout', async () => {
    routes['POST /compute/slow'] = () => undefined;
    const { s } = session({ timeoutMs: 300 });
    await s.token();
    const err = await failure(s.request('compute', 'POST', '/slow', { json: {} }));
    expect(err.code).toBe('openstack_timeout');
    expect(err.message).toMatch(/compute POST \/compute\/slow timed out after 300 ms/);
  });

  it('paginates by links and by marker', async () => {
    routes['GET /compute/servers/detail'] = (req, res) => {
      if ((req.url ?? '').includes('marker=a')) json(res, 200, { servers: [{ id: 'b' }], servers_links: [] });
      else
        json(res, 200, {
          servers: [{ id: 'a' }],
          servers_links: [{ rel: 'next', href: `${base}/compute/servers/detail?marker=a` }],
        });
    };
    routes['GET /compute/objects'] = (req, res) => {
      const marker = new URL(req.url ?? '', base).searchParams.get('marker');
      const pages: Record<string, { name: string }[]> = {
        '': [{ name: 'o1' }, { name: 'o2' }],
        o2: [{ name: 'o3' }],
        o3: [],
      };
      json(res, 200, pages[marker ?? ''] ?? []);
    };
    const { s } = session();
    const ids: string[] = [];
    for await (const x of s.paginate<{ id: string }>('compute', '/servers/detail', { itemsKey: 'servers' }))
      ids.push(x.id);
    expect(ids).toEqual(['a', 'b']);
    const names: string[] = [];
    for await (const o of s.paginate<{ name: string }>('compute', '/objects', { markerField: 'name' }))
      names.push(o.name);
    expect(names).toEqual(['o1', 'o2', 'o3']);
  });

  it('honours endpoint overrides and says what to set when the catalog lacks a service', async () => {
    const { s } = session();
    const err = await s.endpoint('load-balancer').catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      /no public endpoint for "load-balancer" in region RegionOne.*load_balancer_endpoint_override/,
    );
    const config = { ...s.config, endpointOverrides: { 'load-balancer': 'http://lb.example/v2' } };
    const s2 = createSession({ config, logger: createLogger({ level: 'silent' }) });
    expect(await s2.endpoint('load-balancer')).toBe('http://lb.example');
  });
});
