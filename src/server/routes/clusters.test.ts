import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provisioner } from '../../provisioner/provisioner.ts';
import { clusterGuard, registerClusterRoutes } from './clusters.ts';
import { panelTestApp } from './panel-testing.ts';

// Authorization only: the provisioner behind the routes is tested in test/provisioner/api.test.ts,
// so here it just echoes which operation reached it.
const reached: string[] = [];
const provisioner = {
  createCluster: async () => {
    reached.push('create');
    return { cluster: { id: 'new' } };
  },
  getCluster: async (id: string) => {
    reached.push(`show ${id}`);
    return { id };
  },
  listJobs: async (id: string) => {
    reached.push(`jobs ${id}`);
    return [];
  },
} as unknown as Provisioner;

let app: FastifyInstance;
let close: () => Promise<void>;

beforeAll(async () => {
  const fixture = await panelTestApp({
    register: (a, store) =>
      registerClusterRoutes(a, {
        provisioner,
        listRoute: false,
        authorize: clusterGuard(store, async (p) => p.userId === 'u-admin'),
      }),
  });
  app = fixture.app;
  close = fixture.close;
});
afterAll(() => close());

const call = (user: string, method: 'GET' | 'POST', url: string) =>
  app.inject({
    method,
    url,
    headers: { 'x-test-user': user },
    ...(method === 'POST' ? { payload: {} } : {}),
  });

describe('cluster API authorization', () => {
  it('lets a cluster admin operate the cluster; a member gets 403, an outsider 404, anonymous 401', async () => {
    expect((await call('admin', 'GET', '/api/v1/clusters/c1')).statusCode).toBe(200);
    expect((await call('admin', 'GET', '/api/v1/clusters/c1/jobs')).statusCode).toBe(200);
    expect((await call('member', 'GET', '/api/v1/clusters/c1')).statusCode).toBe(403);
    expect((await call('outsider', 'GET', '/api/v1/clusters/c1')).statusCode).toBe(404);
    expect((await call('nobody', 'GET', '/api/v1/clusters/c1')).statusCode).toBe(401);
    expect(reached).toEqual(['show c1', 'jobs c1']);
  });

  it('lets only operators create clusters', async () => {
    expect((await call('member', 'POST', '/api/v1/clusters')).statusCode).toBe(403);
    expect((await call('admin', 'POST', '/api/v1/clusters')).statusCode).toBe(202);
    expect(reached.at(-1)).toBe('create');
  });

  it('refuses creation to everyone when no operator role is configured', async () => {
    const fixture = await panelTestApp({
      register: (a, store) =>
        registerClusterRoutes(a, {
          provisioner,
          listRoute: false,
          authorize: clusterGuard(store, undefined),
        }),
    });
    try {
      const res = await fixture.app.inject({
        method: 'POST',
        url: '/api/v1/clusters',
        headers: { 'x-test-user': 'admin' },
        payload: {},
      });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.message).toContain('KAAS_OPERATOR_ROLE');
    } finally {
      await fixture.close();
    }
  });
});
