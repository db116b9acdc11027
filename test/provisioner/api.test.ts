import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import { AuthError } from '../../src/errors.ts';
import type { Provisioner } from '../../src/provisioner/provisioner.ts';
import { errorHandler } from '../../src/server/errors.ts';
import { registerClusterRoutes } from '../../src/server/routes/clusters.ts';
import type { Store } from '../../src/store/db.ts';
import { minorOf, nextRelease } from '../../src/versions/index.ts';
import {
  testCloud,
  testWebhook,
  testProvisioner,
  provisionerStore,
  testSpec,
  TEST_VERSION,
} from './support.ts';

let sim: Cloudsim;
let store: Store;
let p: Provisioner;
let app: FastifyInstance;

beforeAll(async () => {
  sim = await startCloudsim({ port: 0 });
  store = await provisionerStore();
  p = testProvisioner(store, testCloud(sim), await testWebhook());
  app = Fastify();
  app.setErrorHandler(errorHandler);
  registerClusterRoutes(app, {
    provisioner: p,
    authorize: (request) => {
      if (request.headers.authorization !== 'Bearer ok') throw new AuthError('sign in first');
    },
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await store.close();
  await sim.close();
});

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
  app.inject({
    method,
    url,
    headers: { authorization: 'Bearer ok' },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

describe('cluster API', () => {
  it('creates, shows progress, resizes, upgrades, retries and deletes', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/v1/clusters' })).statusCode).toBe(401);
    // As the CLI asks: in kaas's own project (no login here to take a requester's from).
    const created = await call('POST', '/api/v1/clusters', {
      spec: testSpec('api1', 1),
      options: { waitForApi: false },
      defaultProject: 'kaas',
    });
    expect(created.statusCode).toBe(202);
    const { cluster, job, privateKey } = created.json();
    expect(privateKey).toContain('OPENSSH PRIVATE KEY');
    expect(
      (
        await call('POST', '/api/v1/clusters', {
          spec: testSpec('api1', 1),
          options: {},
          defaultProject: 'kaas',
        })
      ).statusCode,
    ).toBe(409);
    expect((await call('DELETE', `/api/v1/clusters/${cluster.id}`)).json().error.code).toBe(
      'operation_in_progress',
    );
    await p.runUntilIdle();
    const progress = (await call('GET', `/api/v1/clusters/${cluster.id}/jobs/${job.id}`)).json();
    expect(progress.job.state).toBe('succeeded');
    expect(progress.steps.every((s: { state: string }) => s.state === 'done')).toBe(true);
    expect(progress.events.length).toBeGreaterThan(10);
    expect((await call('GET', `/api/v1/clusters/api1`)).json().status).toBe('ready');
    expect((await call('GET', '/api/v1/clusters')).json().items).toHaveLength(1);
    expect((await call('GET', `/api/v1/clusters/${cluster.id}/jobs`)).json().items).toHaveLength(1);

    expect(
      (await call('POST', `/api/v1/clusters/api1/resize`, { group: 'default' })).json().error.field,
    ).toBe('count');
    expect((await call('POST', `/api/v1/clusters/api1/resize`, { count: 2 })).json().error.field).toBe(
      'group',
    );
    expect(
      (await call('POST', `/api/v1/clusters/api1/resize`, { group: 'default', count: 2 })).statusCode,
    ).toBe(202);
    await p.runUntilIdle();
    expect((await call('POST', `/api/v1/clusters/api1/upgrade`, {})).statusCode).toBe(400);
    expect(
      (await call('POST', `/api/v1/clusters/api1/upgrade`, { version: TEST_VERSION })).json().job,
    ).toBeNull();
    const refused = await call('POST', `/api/v1/clusters/api1/upgrade`, {
      version: nextRelease(minorOf(TEST_VERSION)!)!.patch,
    });
    expect([refused.statusCode, refused.json().error.code]).toEqual([409, 'upgrade_not_supported']);
    expect((await call('POST', `/api/v1/clusters/api1/retry`, {})).json().error.code).toBe('job_not_failed');
    expect((await call('GET', `/api/v1/clusters/api1/jobs/nope`)).statusCode).toBe(404);
    expect((await call('GET', `/api/v1/clusters/nope`)).statusCode).toBe(404);
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/api/v1/clusters/api1/resize',
          headers: { authorization: 'Bearer ok', 'content-type': 'application/json' },
          payload: '[1]',
        })
      ).statusCode,
    ).toBe(400);

    const del = await call('DELETE', `/api/v1/clusters/api1`);
    expect(del.statusCode).toBe(202);
    await p.runUntilIdle();
    expect((await call('GET', `/api/v1/clusters/api1`)).statusCode).toBe(404);
  });
});
