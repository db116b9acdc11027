import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { adminConfig } from '../../../test/support/openstack.ts';
import { createLogger } from '../../log.ts';
import { createCloud } from '../../openstack/index.ts';
import { createProvisioner, type Provisioner } from '../../provisioner/provisioner.ts';
import { findJob } from '../../store/findJob.ts';
import { insertJob } from '../../store/insertJob.ts';
import { insertClusterSecret } from '../../store/insertClusterSecret.ts';
import { insertProvisionedCluster } from '../../store/insertProvisionedCluster.ts';
import type { Db } from '../../store/db.ts';
import { seal } from '../../provisioner/secretbox.ts';
import { registerAudit } from '../audit.ts';
import { clusterGuard, registerClusterRoutes } from './clusters.ts';
import { callAs, panelTestApp } from '../../../test/support/panelApp.ts';
import { engines, type Engine } from '../../../test/support/databases.ts';
import { testSpec } from '../../../test/provisioner/support.ts';
import { validateSpec } from '../../cluster/validate.ts';

// Authorization only: the provisioner behind the routes is tested in test/provisioner/api.test.ts,
// so here it just echoes which operation reached it.
const reached: string[] = [];
const provisioner = {
  createCluster: async (_spec: unknown, _options: unknown, choice: { projectId?: string }) => {
    reached.push(`create in ${choice.projectId ?? "kaas's project"}`);
    return { cluster: { id: 'new' } };
  },
  requesterProject: async (userId: string, ref: string | undefined) => {
    reached.push(`project of ${userId}: ${ref ?? 'default'}`);
    return { id: `p-${ref ?? 'default'}`, name: ref ?? 'default' };
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
    expect(reached.at(-1)).toBe('create in p-default');
  });

  it("creates in the project asked for, else the caller's default one, or with defaultProject=kaas in kaas's own", async () => {
    const create = (payload: object) =>
      app.inject({
        method: 'POST',
        url: '/api/v1/clusters',
        headers: { 'x-test-user': 'admin' },
        payload: { spec: {}, ...payload },
      });
    reached.length = 0;
    expect((await create({ project: 'team-a' })).statusCode).toBe(202);
    expect((await create({})).statusCode).toBe(202);
    expect((await create({ defaultProject: 'requester' })).statusCode).toBe(202);
    expect((await create({ defaultProject: 'kaas' })).statusCode).toBe(202);
    // A project named outright is checked against the caller's even beside defaultProject=kaas.
    expect((await create({ project: 'team-a', defaultProject: 'kaas' })).statusCode).toBe(202);
    expect(reached).toEqual([
      'project of u-admin: team-a',
      'create in p-team-a',
      'project of u-admin: default',
      'create in p-default',
      'project of u-admin: default',
      'create in p-default',
      "create in kaas's project",
      'project of u-admin: team-a',
      'create in p-team-a',
    ]);
    for (const bad of [{ defaultProject: 'mine' }, { project: '' }, { project: 7 }]) {
      const res = await create(bad);
      expect(res.statusCode).toBe(400);
    }
    expect(reached).toHaveLength(9);
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

const SECRET_KEY = randomBytes(32);
/** What the endpoint report reads of a spec. */
const SPEC = { masters: 1, nodeGroups: [{ name: 'default', count: 1 }], kubernetesVersion: '1.31.4' };

/**
 * Runs `test` on the panel fixture on `engine` (c1, c2 on p1 where `admin` is admin; c3 on p2) with the audit hook and the
 * cluster routes over a real provisioner on its store. These routes touch no cloud, so its client
 * points nowhere and would fail if it were called.
 */
async function withProvisionerApp(
  engine: Engine,
  test: (fixture: Awaited<ReturnType<typeof panelTestApp>>) => Promise<void>,
): Promise<void> {
  const logger = createLogger({ level: 'silent' });
  // Each reading advances 1 ms, so audit entries sort in the order the requests ran.
  let tick = 0;
  const now = () => new Date(Date.parse('2030-02-01T00:00:00.000Z') + tick++);
  const fixture = await panelTestApp({
    engine,
    register: (a, store) => {
      registerAudit(a, { store, now });
      registerClusterRoutes(a, {
        provisioner: createProvisioner({
          store,
          logger,
          now,
          cloud: createCloud({ config: adminConfig('http://127.0.0.1:9/v3'), logger }),
          secretKey: SECRET_KEY,
        }),
        listRoute: false,
        authorize: clusterGuard(store, undefined),
      });
    },
  });
  try {
    await test(fixture);
  } finally {
    await fixture.close();
  }
}

/** Records cluster `id` as provisioned, with sealed (empty) secrets. */
async function provisioned(db: Db, id: string, status: string, options: object = {}) {
  const at = '2030-01-05T00:00:00.000Z';
  await insertProvisionedCluster({
    db,
    cluster: { id, name: id, spec: SPEC, options, status, createdAt: at, updatedAt: at },
  });
  await insertClusterSecret({ db, clusterId: id, sealed: seal(SECRET_KEY, '{}', id), now: at });
}

describe.each(engines)("another cluster's job through the cluster API on %s", (engine) => {
  it('answers exactly like a job that does not exist (GET and retry) and leaves that job untouched', async () => {
    await withProvisionerApp(engine, async (fixture) => {
      const db = fixture.store.db;
      const at = '2030-01-05T00:00:00.000Z';
      // Job ids that name no cluster, so an answer that mentions the other cluster is visible as such.
      for (const [clusterId, jobId] of [
        ['c1', 'job-own'],
        ['c3', 'job-other'],
      ] as const) {
        await provisioned(db, clusterId, 'failed');
        await insertJob({
          db,
          job: { id: jobId, clusterId, kind: 'delete', input: {}, stepIds: ['a'], createdAt: at },
        });
        await db.updateTable('jobs').set({ state: 'failed' }).where('id', '=', jobId).execute();
      }
      const before = await db.selectFrom('jobs').selectAll().where('id', '=', 'job-other').executeTakeFirst();
      const show = (jobId: string) =>
        callAs(fixture.app, 'admin', 'GET', `/api/v1/clusters/c1/jobs/${jobId}`);
      const retry = (jobId: string) =>
        callAs(fixture.app, 'admin', 'POST', '/api/v1/clusters/c1/retry', { jobId });

      for (const call of [show, retry]) {
        const foreign = await call('job-other');
        // Byte for byte the same answer, once the id the caller sent is swapped.
        const unknown = await call('job-ghost');
        expect([foreign.statusCode, unknown.statusCode]).toEqual([404, 404]);
        expect(foreign.json().error.code).toBe('job_not_found');
        expect(foreign.body).toBe(unknown.body.replaceAll('job-ghost', 'job-other'));
        expect(foreign.body).not.toMatch(/c3|gamma|p2|delete|failed/);
      }
      expect(
        await db.selectFrom('jobs').selectAll().where('id', '=', 'job-other').executeTakeFirst(),
      ).toEqual(before);
      const other = await db
        .selectFrom('provisioned_clusters')
        .select('status')
        .where('id', '=', 'c3')
        .executeTakeFirst();
      expect(other?.status).toBe('failed');
      expect(
        (await callAs(fixture.app, 'admin', 'POST', '/api/v1/clusters/c3/retry', { jobId: 'job-other' }))
          .statusCode,
      ).toBe(404);

      expect((await show('job-own')).json().job).toMatchObject({ id: 'job-own', state: 'failed' });
      const own = await retry('job-own');
      expect(own.statusCode).toBe(202);
      expect(own.json().job).toMatchObject({ id: 'job-own', state: 'queued' });
    });
  });
});

describe('credential rotation through the cluster API', () => {
  it('queues the rotate job for a cluster admin (audited), 409 while a job runs or kaas does not reach the API, 403/404 otherwise', async () => {
    await withProvisionerApp('sqlite', async (fixture) => {
      const db = fixture.store.db;
      await provisioned(db, 'c1', 'ready', { waitForApi: true });
      await provisioned(db, 'c2', 'ready', { waitForApi: false });
      await provisioned(db, 'c3', 'ready', { waitForApi: true });
      const rotate = (user: string, clusterId: string) =>
        fixture.app.inject({
          method: 'POST',
          url: `/api/v1/clusters/${clusterId}/rotate-credentials`,
          headers: { 'x-test-user': user },
        });

      expect((await rotate('member', 'c1')).statusCode).toBe(403);
      expect((await rotate('admin', 'c3')).statusCode).toBe(404);
      expect((await rotate('nobody', 'c1')).statusCode).toBe(401);
      const queued = await rotate('admin', 'c1');
      expect(queued.statusCode).toBe(202);
      const job = queued.json().job;
      expect(job).toMatchObject({ clusterId: 'c1', kind: 'rotate', state: 'queued' });
      expect((await findJob({ db, id: job.id }))?.kind).toBe('rotate');
      const busy = await rotate('admin', 'c1');
      expect([busy.statusCode, busy.json().error.code]).toEqual([409, 'operation_in_progress']);
      const unreached = await rotate('admin', 'c2');
      expect([unreached.statusCode, unreached.json().error.code]).toEqual([409, 'cluster_api_not_reached']);
      expect((await db.selectFrom('jobs').select('id').execute()).map((j) => j.id)).toEqual([job.id]);

      const audited = await db
        .selectFrom('audit_events')
        .select(['action', 'outcome', 'actor_name', 'cluster_id', 'details'])
        .orderBy('at')
        .execute();
      expect(audited.map((e) => [e.action, e.outcome, e.actor_name, e.cluster_id])).toEqual([
        ['cluster.credentials.rotate', 'failure', 'max@Default', 'c1'],
        ['cluster.credentials.rotate', 'failure', 'ada@Default', 'c3'],
        ['cluster.credentials.rotate', 'success', 'ada@Default', 'c1'],
        ['cluster.credentials.rotate', 'failure', 'ada@Default', 'c1'],
        ['cluster.credentials.rotate', 'failure', 'ada@Default', 'c2'],
      ]);
      expect(JSON.parse(audited[2]!.details)).toEqual({ status: 202, jobId: job.id });
    });
  });
});

describe('the auto-heal switch through the cluster API', () => {
  it('lets a cluster admin turn it off and on, for the cluster or a group (audited); bad bodies name the field; 403/404 otherwise', async () => {
    await withProvisionerApp('sqlite', async (fixture) => {
      const db = fixture.store.db;
      await provisioned(db, 'c1', 'ready');
      await provisioned(db, 'c3', 'ready');
      const patch = (user: string, clusterId: string, payload: object) =>
        fixture.app.inject({
          method: 'PATCH',
          url: `/api/v1/clusters/${clusterId}`,
          headers: { 'x-test-user': user },
          payload,
        });

      const off = await patch('admin', 'c1', { autoHeal: false });
      expect(off.statusCode).toBe(200);
      expect(off.json()).toMatchObject({ id: 'c1', status: 'ready', spec: { autoHeal: false } });
      const group = await patch('admin', 'c1', { autoHeal: false, group: 'default' });
      expect(group.json().spec.nodeGroups[0]).toMatchObject({ name: 'default', autoHeal: false });
      expect((await patch('admin', 'c1', { autoHeal: true })).json().spec.autoHeal).toBe(true);

      for (const [payload, field] of [
        [{ autoHeal: 'no' }, 'autoHeal'],
        [{}, 'autoHeal'],
        [{ autoHeal: true, count: 3 }, 'count'],
        [{ autoHeal: true, group: 'gpu' }, 'group'],
      ] as const) {
        const bad = await patch('admin', 'c1', payload);
        expect([bad.statusCode, bad.json().error.field], JSON.stringify(payload)).toEqual([400, field]);
      }
      expect((await patch('member', 'c1', { autoHeal: false })).statusCode).toBe(403);
      expect((await patch('admin', 'c3', { autoHeal: false })).statusCode).toBe(404);
      const stored = await db
        .selectFrom('provisioned_clusters')
        .select('spec')
        .where('id', '=', 'c1')
        .executeTakeFirst();
      expect(JSON.parse(stored!.spec)).toMatchObject({ autoHeal: true, nodeGroups: [{ autoHeal: false }] });

      const audited = await db
        .selectFrom('audit_events')
        .select(['outcome', 'actor_name', 'details'])
        .where('action', '=', 'cluster.autoheal.set')
        .orderBy('at')
        .execute();
      expect(audited.map((e) => [e.outcome, e.actor_name, JSON.parse(e.details).autoHeal ?? null])).toEqual([
        ['success', 'ada@Default', 'off'],
        ['success', 'ada@Default', 'off'],
        ['success', 'ada@Default', 'on (off for group default)'],
        ...Array.from({ length: 4 }, () => ['failure', 'ada@Default', null]),
        ['failure', 'max@Default', null],
        ['failure', 'ada@Default', null],
      ]);
    });
  });
});

describe('deleting through the cluster API', () => {
  it("keeps the volumes or the backup containers when asked (the panel's and the CLI's choices); contradictions and bad flags name the field; 403/404 otherwise", async () => {
    await withProvisionerApp('sqlite', async (fixture) => {
      const db = fixture.store.db;
      for (const id of ['c1', 'c2', 'c3']) await provisioned(db, id, 'ready');
      const remove = (user: string, clusterId: string, query = '') =>
        fixture.app.inject({
          method: 'DELETE',
          url: `/api/v1/clusters/${clusterId}${query}`,
          headers: { 'x-test-user': user },
        });
      /** The steps of the delete job an answer queued. */
      const steps = (res: Awaited<ReturnType<typeof remove>>) => {
        expect(res.statusCode, res.body).toBe(202);
        const job = res.json().job as { kind: string; input: { steps: { id: string }[] } };
        expect(job.kind).toBe('delete');
        return job.input.steps.map((s) => s.id);
      };

      for (const [query, field] of [
        ['?keepVolumes=yes', 'keepVolumes'],
        ['?keepBackups=1', 'keepBackups'],
        ['?deleteVolumes=true&keepVolumes=true', 'keepVolumes'],
        ['?keepEverything=true', 'keepEverything'],
      ] as const) {
        const bad = await remove('admin', 'c1', query);
        expect([bad.statusCode, bad.json().error.field], query).toEqual([400, field]);
      }
      expect((await remove('member', 'c1', '?keepVolumes=true')).statusCode).toBe(403);
      expect((await remove('admin', 'c3', '?keepVolumes=true')).statusCode).toBe(404);
      expect(await db.selectFrom('jobs').select('id').execute()).toEqual([]);

      const keptVolumes = steps(await remove('admin', 'c1', '?keepVolumes=true'));
      expect(keptVolumes).not.toContain('sweep:volume');
      expect(keptVolumes).toEqual(expect.arrayContaining(['sweep:server', 'delete:kaas-c1-velero']));
      const keptBackups = steps(await remove('admin', 'c2', '?keepBackups=true'));
      expect(keptBackups).toContain('sweep:volume');
      expect(keptBackups.filter((id) => /^delete:kaas-c2-(etcd|velero|registry)$/.test(id))).toEqual([]);
      expect(keptBackups).toContain('delete:artifacts');
    });
  });
});

describe.each(engines)('autoscaling bounds through the cluster API on %s', (engine) => {
  it('lets a cluster admin change them (audited), refuses bad bodies naming the field and any change while a job runs; 403/404 otherwise', async () => {
    await withProvisionerApp(engine, async (fixture) => {
      const db = fixture.store.db;
      const at = '2030-01-05T00:00:00.000Z';
      const spec = validateSpec(
        testSpec('c1', 2, {
          nodeGroups: [
            { name: 'default', count: 2, minSize: 1, maxSize: 3, flavor: 'm1.small' },
            { name: 'gpu', count: 1, flavor: 'm1.small' },
          ],
        }),
      );
      for (const id of ['c1', 'c3']) {
        await insertProvisionedCluster({
          db,
          cluster: {
            id,
            name: id,
            spec: { ...spec, name: id },
            options: {},
            status: 'ready',
            createdAt: at,
            updatedAt: at,
          },
        });
      }
      const patch = (user: string, clusterId: string, payload: object) =>
        callAs(fixture.app, user, 'PATCH', `/api/v1/clusters/${clusterId}`, payload);
      const stored = async () =>
        JSON.parse(
          (await db
            .selectFrom('provisioned_clusters')
            .select('spec')
            .where('id', '=', 'c1')
            .executeTakeFirst())!.spec,
        ).nodeGroups;

      // Still autoscaled and the size inside: only the stored spec changes, no job.
      const wider = await patch('admin', 'c1', { group: 'default', maxSize: 5 });
      expect(wider.statusCode, wider.body).toBe(200);
      expect(wider.json().spec.nodeGroups[0]).toMatchObject({ count: 2, minSize: 1, maxSize: 5 });
      const both = await patch('admin', 'c1', { group: 'default', minSize: 2, maxSize: 4 });
      expect(both.json().spec.nodeGroups[0]).toMatchObject({ minSize: 2, maxSize: 4 });
      expect(await stored()).toMatchObject([{ minSize: 2, maxSize: 4 }, { name: 'gpu' }]);
      expect(await db.selectFrom('jobs').select('id').execute()).toEqual([]);

      for (const [payload, field, code] of [
        [{ group: 'default' }, 'autoHeal', 'invalid_input'],
        [{ group: 'default', minSize: 'two' }, 'minSize', 'invalid_input'],
        [{ group: 'default', maxSize: 2.5 }, 'maxSize', 'invalid_input'],
        [{ group: 'default', minSize: -1 }, 'minSize', 'invalid_input'],
        [{ group: 'default', minSize: 5, maxSize: 4 }, 'minSize', 'invalid_size_bounds'],
        [{ group: 'default', maxSize: 1 }, 'maxSize', 'invalid_size_bounds'],
        [{ group: 'default', maxSize: 5000 }, 'maxSize', 'invalid_input'],
        [{ group: 'default', maxSize: 400 }, 'maxSize', 'invalid_size_bounds'],
        [{ maxSize: 4 }, 'group', 'group_required'],
        [{ group: 'tpu', maxSize: 4 }, 'group', 'group_not_found'],
        [{ autoHeal: false, maxSize: 4 }, 'autoHeal', 'invalid_input'],
        [{ group: 'default', maxSize: 4, count: 3 }, 'count', 'invalid_input'],
      ] as const) {
        const bad = await patch('admin', 'c1', payload);
        expect(
          [bad.statusCode, bad.json().error.field, bad.json().error.code],
          JSON.stringify(payload),
        ).toEqual([400, field, code]);
      }
      expect((await patch('member', 'c1', { group: 'default', maxSize: 6 })).statusCode).toBe(403);
      expect((await patch('admin', 'c3', { group: 'default', maxSize: 6 })).statusCode).toBe(404);
      expect((await patch('nobody', 'c1', { group: 'default', maxSize: 6 })).statusCode).toBe(401);

      // The cluster's one-job lock: refused while any job is queued or running, nothing written.
      await insertJob({
        db,
        job: { id: 'job-busy', clusterId: 'c1', kind: 'upgrade', input: {}, stepIds: ['a'], createdAt: at },
      });
      const busy = await patch('admin', 'c1', { group: 'default', maxSize: 6 });
      expect([busy.statusCode, busy.json().error.code]).toEqual([409, 'operation_in_progress']);
      expect(busy.json().error.message).toContain('job-busy');
      await db.updateTable('jobs').set({ state: 'running' }).where('id', '=', 'job-busy').execute();
      expect((await patch('admin', 'c1', { group: 'default', maxSize: 6 })).statusCode).toBe(409);
      expect(await stored()).toMatchObject([{ minSize: 2, maxSize: 4 }, { name: 'gpu' }]);

      const audited = await db
        .selectFrom('audit_events')
        .select(['action', 'outcome', 'actor_name', 'details'])
        .where('action', '=', 'cluster.bounds.set')
        .orderBy('at')
        .execute();
      expect(audited.map((e) => [e.outcome, e.actor_name])).toEqual([
        ['success', 'ada@Default'],
        ['success', 'ada@Default'],
        // Every bad body naming a bound (the first names none: an auto-heal change without its switch).
        ...Array.from({ length: 11 }, () => ['failure', 'ada@Default']),
        ['failure', 'max@Default'],
        ['failure', 'ada@Default'],
        ['failure', 'ada@Default'],
        ['failure', 'ada@Default'],
      ]);
      expect(JSON.parse(audited[1]!.details)).toEqual({
        status: 200,
        group: 'default',
        minSize: 2,
        maxSize: 4,
      });
    });
  });
});
