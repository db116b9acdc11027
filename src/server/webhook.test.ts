import type { FastifyInstance } from 'fastify';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCa, issueServerCert, type KeyPair } from '../auth/pki.ts';
import { createAuthService, type AuthService } from '../auth/service.ts';
import { generateToken } from '../auth/tokens.ts';
import { createLogger } from '../log.ts';
import type { Store } from '../store/db.ts';
import { memoryDirectory } from '../../test/auth/memoryDirectory.ts';
import { prodClusterStore } from '../../test/support/server.ts';
import { reviewRequest } from '../../test/support/tokenreview.ts';
import { buildApp, type ServerOptions } from './app.ts';

/** One answer, as compared between the plain handler (a real socket) and the route (app.inject). */
interface Answer {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** A request as a client sends it: `chunks` are written one by one, without a Content-Length. */
interface Sent {
  path: string;
  body: string | string[];
  contentType?: string;
}

describe('the TokenReview webhook in front of Fastify (real socket)', () => {
  let store: Store;
  let auth: AuthService;
  let app: FastifyInstance;
  let logText: string;
  let token: string;
  /** Requests that reached Fastify (its onRequest hook): those the plain handler left to the route. */
  let reachedFastify: number;
  let ca: KeyPair | undefined;
  let address: string;

  async function start(options: ServerOptions = {}) {
    const now = new Date('2030-01-01T00:00:00Z');
    logText = '';
    reachedFastify = 0;
    const sink = new Writable({
      write: (chunk, _e, cb) => {
        logText += chunk.toString();
        cb();
      },
    });
    store = await prodClusterStore({ createdAt: now.toISOString() });
    const ks = memoryDirectory();
    ks.addUser('u1', 'alice', 'pw-alice');
    ks.setRoles('p1', [{ userId: 'u1', roleId: 'r-member', roleName: 'member' }]);
    const logger = createLogger({ level: 'info', destination: sink });
    auth = createAuthService({ store, directory: ks.directory, logger, now: () => now });
    app = await buildApp({ store, logger, now: () => now, auth }, options);
    app.addHook('onRequest', async () => {
      reachedFastify++;
    });
    await auth.sync();
    token = (
      await auth.createToken(
        { userId: 'u1', userName: 'alice', domainName: 'Default', via: 'session' },
        { name: 'ci' },
      )
    ).token;
    address = await app.listen({ host: '127.0.0.1', port: 0 });
  }

  afterEach(async () => {
    await auth.close();
    await app.close();
    await store.close();
  });

  function overSocket(sent: Sent): Promise<Answer> {
    const { port } = app.server.address() as { port: number };
    const chunks = typeof sent.body === 'string' ? [sent.body] : sent.body;
    const headers: Record<string, string> = { 'content-type': sent.contentType ?? 'application/json' };
    if (typeof sent.body === 'string') headers['content-length'] = String(Buffer.byteLength(sent.body));
    const request = ca ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: sent.path,
          headers,
          ...(ca ? { ca: ca.certPem } : {}),
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(answerOf(res.statusCode ?? 0, res.headers, body)));
        },
      );
      req.on('error', reject);
      for (const chunk of chunks) req.write(chunk);
      req.end();
    });
  }

  async function throughRoute(sent: Sent): Promise<Answer> {
    const res = await app.inject({
      method: 'POST',
      url: sent.path,
      headers: { 'content-type': sent.contentType ?? 'application/json' },
      payload: typeof sent.body === 'string' ? sent.body : sent.body.join(''),
    });
    return answerOf(res.statusCode, res.headers, res.body);
  }

  const answerOf = (status: number, headers: Record<string, unknown>, body: string): Answer => ({
    status,
    contentType: headers['content-type'] as string | undefined,
    body,
  });

  /** The answer over the socket, checked identical to the route's; whether Fastify served the socket's. */
  async function bothWays(sent: Sent): Promise<{ answer: Answer; byFastify: boolean }> {
    const before = reachedFastify;
    const answer = await overSocket(sent);
    const byFastify = reachedFastify > before;
    expect(answer).toEqual(await throughRoute(sent));
    return { answer, byFastify };
  }

  const review = (body: unknown, path = '/tokenreview/c1?timeout=30s'): Sent => ({
    path,
    body: JSON.stringify(body),
  });

  describe('over HTTP', () => {
    beforeEach(async () => {
      ca = undefined;
      await start();
    });

    it('answers well-formed reviews itself, byte for byte as the route does', async () => {
      for (const apiVersion of ['authentication.k8s.io/v1', 'authentication.k8s.io/v1beta1']) {
        const good = await bothWays(review(reviewRequest(token, apiVersion)));
        expect(good.byFastify).toBe(false);
        expect(good.answer.status).toBe(200);
        expect(JSON.parse(good.answer.body).status).toMatchObject({
          authenticated: true,
          user: { username: 'alice', uid: 'u1', groups: ['r-member'] },
        });
      }
      const noAudiences = await bothWays(review(reviewRequest(token, undefined, undefined)));
      expect(noAudiences.byFastify).toBe(false);
      for (const refused of [generateToken(), 'not-a-kaas-token', '']) {
        const answer = await bothWays(review(reviewRequest(refused)));
        expect(answer.byFastify).toBe(false);
        expect(JSON.parse(answer.answer.body).status.authenticated).toBe(false);
      }
      const otherAudience = await bothWays(review(reviewRequest(token, undefined, ['https://other'])));
      expect(JSON.parse(otherAudience.answer.body).status.authenticated).toBe(false);
      const metrics = await app.inject({ method: 'GET', url: '/metrics' });
      // Each review counted once, whichever path answered it (the route's by app.inject too).
      expect(metrics.body).toContain('kaas_tokenreview_total{result="authenticated"} 6');
    });

    it('answers an unknown cluster with the route 404', async () => {
      const unknown = await bothWays(review(reviewRequest(token), '/tokenreview/nope'));
      expect(unknown.byFastify).toBe(false);
      expect(unknown.answer.status).toBe(404);
      expect(JSON.parse(unknown.answer.body).error.code).toBe('cluster_not_found');
    });

    it('leaves malformed, oversized, poisoned and wrongly shaped bodies to the route', async () => {
      const good = JSON.stringify(reviewRequest(token));
      const cases: Sent[] = [
        { path: '/tokenreview/c1', body: '{"kind":' },
        { path: '/tokenreview/c1', body: ' ' },
        review({ ...reviewRequest(token), padding: 'x'.repeat(100_000) }),
        review({ ...reviewRequest(token), kind: 'Pod' }),
        review({ ...reviewRequest(token), apiVersion: 'authentication.k8s.io/v2' }),
        review({ kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1' }),
        review({ ...reviewRequest(token), spec: { token: 42 } }),
        review({ ...reviewRequest(token), spec: { token, audiences: null } }),
        review({ ...reviewRequest(token), spec: { token, audiences: [1] } }),
        review([reviewRequest(token)]),
        { path: '/tokenreview/c1', body: good.replace('{', '{"__proto__":{"x":1},') },
        { path: '/tokenreview/c1', body: good, contentType: 'text/plain' },
        { path: '/tokenreview/c1', body: [good.slice(0, 20), good.slice(20)] },
        { path: '/tokenreview/c%31', body: good },
        { path: '/tokenreview/c1/', body: good },
      ];
      const statuses: number[] = [];
      for (const sent of cases) {
        const { answer, byFastify } = await bothWays(sent);
        expect(byFastify, JSON.stringify(sent).slice(0, 200)).toBe(true);
        statuses.push(answer.status);
      }
      // The last three are good reviews the route answers: chunked, and paths the router decodes.
      expect(statuses).toEqual([400, 400, 413, 400, 400, 400, 400, 400, 400, 400, 400, 400, 200, 200, 200]);
    });

    it('answers a store failure with the route 500 and its log line, without the token', async () => {
      await store.close();
      const unknown = generateToken();
      logText = '';
      const failed = await bothWays(review(reviewRequest(unknown)));
      expect(failed.byFastify).toBe(false);
      expect(failed.answer.status).toBe(500);
      const [plain, route] = logText
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.msg === 'request failed');
      const { time: _t1, reqId: plainId, ...plainRest } = plain as Record<string, unknown>;
      const { time: _t2, reqId: routeId, ...routeRest } = route as Record<string, unknown>;
      expect(plainRest).toMatchObject({ level: 50, msg: 'request failed' });
      expect(plainRest).toEqual(routeRest);
      expect([plainId, routeId]).toEqual([expect.stringMatching(/^req-/), expect.stringMatching(/^req-/)]);
      expect(plainId).not.toBe(routeId);
      expect(logText).not.toContain(unknown);
    });

    it('still serves every other route through Fastify', async () => {
      const before = reachedFastify;
      expect((await fetch(`${address}/healthz`)).status).toBe(200);
      expect((await fetch(`${address}/tokenreview/c1`)).status).toBe(404);
      expect(reachedFastify - before).toBe(2);
    });
  });

  describe('over HTTPS (kaas serve with a certificate)', () => {
    beforeEach(async () => {
      ca = await createCa({ commonName: 'webhook-test' });
      const cert = await issueServerCert({ ca, hosts: ['127.0.0.1'] });
      await start({ https: { key: cert.keyPem, cert: cert.certPem } });
    });

    it('answers reviews itself and leaves the rest to the route, over TLS', async () => {
      expect(address).toMatch(/^https:/);
      const good = await bothWays(review(reviewRequest(token)));
      expect(good.byFastify).toBe(false);
      expect(JSON.parse(good.answer.body).status.authenticated).toBe(true);
      const garbage = await bothWays({ path: '/tokenreview/c1', body: '{"kind":' });
      expect(garbage.byFastify).toBe(true);
      expect(garbage.answer.status).toBe(400);
    });
  });
});
