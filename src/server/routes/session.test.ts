import type { FastifyInstance } from 'fastify';
import { afterEach, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAuthService, type AuthService } from '../../auth/service.ts';
import type { KeystoneDirectory } from '../../auth/directory.ts';
import { createLogger } from '../../log.ts';
import { buildApp } from '../app.ts';
import { memoryDirectory } from '../../../test/auth/memoryDirectory.ts';
import { describeOnEngines } from '../../../test/support/databases.ts';

/** The memory Keystone, answering after a delay (so parallel logins overlap) and counting password checks. */
function slowCountingKeystone() {
  const ks = memoryDirectory();
  ks.addUser('u1', 'alice', 'pw-alice');
  let checks = 0;
  const directory: KeystoneDirectory = {
    ...ks.directory,
    async authenticate(input) {
      checks++;
      await sleep(20);
      return ks.directory.authenticate(input);
    },
  };
  return { ks, directory, checks: () => checks };
}

describeOnEngines('login throttling over HTTP', ({ store }) => {
  let now = new Date('2030-01-01T00:00:00Z');
  const closers: (() => Promise<unknown>)[] = [];

  /** One kaas replica on the shared store, closed after the test. */
  async function replica(directory: KeystoneDirectory, trustedProxies?: string[]) {
    const logger = createLogger({ level: 'silent' });
    const auth: AuthService = createAuthService({ store: store(), directory, logger, now: () => now });
    const app = await buildApp({ store: store(), logger, now: () => now, auth }, { trustedProxies });
    closers.push(
      () => app.close(),
      () => auth.close(),
    );
    return app;
  }
  // Runs before the store closes (after-hooks run in reverse order of registration).
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  function login(
    app: FastifyInstance,
    password: string,
    remoteAddress: string,
    headers: Record<string, string> = {},
  ) {
    return app.inject({
      method: 'POST',
      url: '/api/v1/login',
      payload: { username: 'alice', password },
      remoteAddress,
      headers,
    });
  }

  it('lets only 5 of 50 parallel wrong passwords reach Keystone, across two replicas', async () => {
    now = new Date('2030-01-01T00:00:00Z');
    const keystone = slowCountingKeystone();
    const replicas = [await replica(keystone.directory), await replica(keystone.directory)];
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => login(replicas[i % 2]!, `wrong-${i}`, '203.0.113.5')),
    );
    const statuses = answers.map((r) => r.statusCode).sort();
    expect(keystone.checks()).toBe(5);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(45);
    const refused = answers.find((r) => r.statusCode === 429)!;
    expect(refused.headers['retry-after']).toBe('30');
    expect(refused.json().error.code).toBe('too_many_attempts');
    // Even the right password waits out the backoff, on either replica.
    expect((await login(replicas[1]!, 'pw-alice', '203.0.113.5')).statusCode).toBe(429);
    expect(keystone.checks()).toBe(5);
  });

  it('cannot lock the victim out: the backoff binds the attacking source only, and is not a hard lock', async () => {
    now = new Date('2030-01-01T00:00:00Z');
    const keystone = slowCountingKeystone();
    const app = await replica(keystone.directory);
    for (let i = 0; i < 40; i++) await login(app, `guess-${i}`, '198.51.100.66');
    expect(keystone.checks()).toBe(5);
    expect((await login(app, 'pw-alice', '192.0.2.10')).statusCode).toBe(200);
    // The attacker's own key backs off exponentially but reopens: 30 s after the fifth guess,
    // then one guess per doubled wait.
    now = new Date(now.getTime() + 30_000);
    expect((await login(app, 'guess-x', '198.51.100.66')).statusCode).toBe(401);
    const next = await login(app, 'guess-y', '198.51.100.66');
    expect(next.statusCode).toBe(429);
    expect(next.headers['retry-after']).toBe('60');
    expect(keystone.checks()).toBe(7);
  });

  it('ignores X-Forwarded-For from untrusted peers and believes it from configured proxies', async () => {
    now = new Date('2030-01-01T00:00:00Z');
    const keystone = slowCountingKeystone();
    const app = await replica(keystone.directory, ['10.9.0.0/16']);
    // A direct caller rotating spoofed addresses is still one source.
    for (let i = 0; i < 5; i++) {
      const res = await login(app, 'wrong', '192.0.2.7', { 'x-forwarded-for': `198.51.100.${i}` });
      expect(res.statusCode).toBe(401);
    }
    const spoofed = await login(app, 'wrong', '192.0.2.7', { 'x-forwarded-for': '198.51.100.200' });
    expect(spoofed.statusCode).toBe(429);
    // Behind the trusted proxy, each client is its own source; what a client puts in front of
    // the address the proxy appends is not believed either.
    const viaProxy = (client: string, forged = '203.0.113.250') =>
      login(app, 'wrong', '10.9.0.1', { 'x-forwarded-for': `${forged}, ${client}` });
    for (let i = 0; i < 5; i++)
      expect((await viaProxy('198.51.100.1', `203.0.113.${i}`)).statusCode).toBe(401);
    expect((await viaProxy('198.51.100.1')).statusCode).toBe(429);
    const other = await login(app, 'pw-alice', '10.9.0.1', { 'x-forwarded-for': '198.51.100.2' });
    expect(other.statusCode).toBe(200);
    expect(keystone.checks()).toBe(11);
  });

  it('does not count attempts Keystone could not decide, and a success clears the backoff', async () => {
    now = new Date('2030-01-01T00:00:00Z');
    const keystone = slowCountingKeystone();
    const app = await replica(keystone.directory);
    keystone.ks.state.failing = true;
    for (let i = 0; i < 8; i++) expect((await login(app, 'pw-alice', '192.0.2.1')).statusCode).toBe(502);
    keystone.ks.state.failing = false;
    for (let i = 0; i < 4; i++) expect((await login(app, 'wrong', '192.0.2.1')).statusCode).toBe(401);
    expect((await login(app, 'pw-alice', '192.0.2.1')).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await login(app, 'wrong', '192.0.2.1')).statusCode).toBe(401);
    expect((await login(app, 'pw-alice', '192.0.2.1')).statusCode).toBe(429);
  });
});
