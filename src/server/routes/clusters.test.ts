import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { adminConfig } from '../../../test/support/openstack.ts';
import { createLogger } from '../../log.ts';
import { createCloud } from '../../openstack/index.ts';
import { createProvisioner, type Provisioner } from '../../provisioner/provisioner.ts';
import { findJob } from '../../store/findJob.ts';
import { insertJob } from '../../store/insertJob.ts';
import { insertProvisionedCluster } from '../../store/insertProvisionedCluster.ts';
import { clusterGuard, registerClusterRoutes } from './clusters.ts';
import { panelTestApp } from '../../../test/support/panelApp.ts';

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
    ...(method === 'POST' ? { payload: { spec: {} } } : {}),
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

describe('retry through the cluster API', () => {
  it("reaches a job only through its own cluster: an admin of c1 cannot retry c3's failed job", async () => {
    const logger = createLogger({ level: 'silent' });
    const fixture = await panelTestApp({
      register: (a, store) =>
        registerClusterRoutes(a, {
          // A real provisioner on the fixture's store; retrying touches no cloud, so its client
          // points nowhere and would fail if it were called.
          provisioner: createProvisioner({
            store,
            logger,
            now: () => new Date('2030-02-01T00:00:00.000Z'),
            cloud: createCloud({ config: adminConfig('http://127.0.0.1:9/v3'), logger }),
            secretKey: randomBytes(32),
          }),
          listRoute: false,
          authorize: clusterGuard(store, undefined),
        }),
    });
    try {
      const db = fixture.store.db;
      // What the endpoint report reads of a spec.
      const spec = { masters: 1, nodeGroups: [{ name: 'default', count: 1 }], kubernetesVersion: '1.31.4' };
      for (const id of ['c1', 'c3']) {
        const at = '2030-01-05T00:00:00.000Z';
        await insertProvisionedCluster({
          db,
          cluster: { id, name: id, spec, options: {}, status: 'failed', createdAt: at, updatedAt: at },
        });
        await insertJob({
          db,
          job: { id: `job-${id}`, clusterId: id, kind: 'resize', input: {}, stepIds: ['a'], createdAt: at },
        });
        await db.updateTable('jobs').set({ state: 'failed' }).where('id', '=', `job-${id}`).execute();
      }
      const retry = (clusterId: string, jobId: string) =>
        fixture.app.inject({
          method: 'POST',
          url: `/api/v1/clusters/${clusterId}/retry`,
          headers: { 'x-test-user': 'admin' },
          payload: { jobId },
        });
      const foreign = await retry('c1', 'job-c3');
      expect(foreign.statusCode).toBe(404);
      expect(foreign.json().error.code).toBe('job_not_found');
      expect((await findJob({ db, id: 'job-c3' }))?.state).toBe('failed');
      expect((await retry('c3', 'job-c3')).statusCode).toBe(404);

      const own = await retry('c1', 'job-c1');
      expect(own.statusCode).toBe(202);
      expect(own.json().job).toMatchObject({ id: 'job-c1', state: 'queued' });
    } finally {
      await fixture.close();
    }
  });
});
