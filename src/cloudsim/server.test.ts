import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from './index.ts';
import { login } from './testing.ts';

let cloud: Cloudsim;
beforeEach(async () => {
  cloud = await startCloudsim();
});
afterEach(async () => {
  await cloud.close();
});

describe('cloudsim server', () => {
  it('answers 429 with Retry-After for an injected fault, then serves normally', async () => {
    const s = await login(cloud);
    cloud.knobs.faults.push({
      service: 'compute',
      method: 'GET',
      path: '/servers',
      status: 429,
      retryAfter: 7,
      times: 2,
    });
    for (let i = 0; i < 2; i++) {
      const r = await s.call('GET', '/compute/v2.1/servers');
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('7');
      expect(r.headers.get('x-openstack-request-id')).toMatch(/^req-[0-9a-f-]{36}$/);
      expect(await r.json()).toEqual({
        overLimit: { code: 429, message: 'Rate limit exceeded, retry later.' },
      });
    }
    expect((await s.call('GET', '/compute/v2.1/servers')).status).toBe(200);
    expect(cloud.knobs.faults).toEqual([]);
  });

  it('never half-applies a faulted call', async () => {
    const s = await login(cloud);
    cloud.knobs.faults.push({
      service: 'network',
      method: 'POST',
      path: /networks$/,
      status: 503,
      body: { custom: true },
    });
    const r = await s.call('POST', '/network/v2.0/networks', { network: { name: 'x' } });
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ custom: true });
    expect([...cloud.state.networks.values()].map((n) => n.name)).toEqual(['public']);
  });

  it('drops the connection when asked', async () => {
    const s = await login(cloud);
    cloud.knobs.faults.push({ service: 'identity', path: '/users', status: 0, dropConnection: true });
    await expect(s.call('GET', '/v3/users')).rejects.toThrow();
    expect((await s.call('GET', '/v3/users')).status).toBe(200);
  });

  it('adds the latency knob to every request', async () => {
    const s = await login(cloud);
    cloud.knobs.latencyMs = 150;
    const t0 = Date.now();
    await s.call('GET', '/compute/v2.1/flavors');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('counts requests by service and route template', async () => {
    const s = await login(cloud);
    cloud.stats.reset();
    await s.call('GET', '/compute/v2.1/servers/abc');
    await s.call('GET', '/compute/v2.1/servers/def');
    await s.call('GET', '/network/v2.0/networks');
    expect(cloud.stats.total).toBe(3);
    expect(cloud.stats.byService).toEqual({ compute: 2, network: 1 });
    expect(cloud.stats.byRoute['GET /compute/v2.1/servers/{id}']).toBe(2);
  });

  it('answers 401 without a token, 404 for unknown paths and 405 for wrong methods', async () => {
    const r = await fetch(`${cloud.url}/compute/v2.1/servers`);
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({
      error: {
        code: 401,
        title: 'Unauthorized',
        message: 'The request you have made requires authentication.',
      },
    });
    const s = await login(cloud);
    expect((await s.call('GET', '/network/v2.0/nothing')).status).toBe(404);
    expect((await s.call('PATCH', '/network/v2.0/networks')).status).toBe(405);
    const bad = await fetch(`${cloud.url}/network/v2.0/networks`, {
      method: 'POST',
      headers: { 'x-auth-token': s.token, 'content-type': 'application/json' },
      body: '{',
    });
    expect(bad.status).toBe(400);
  });
});
