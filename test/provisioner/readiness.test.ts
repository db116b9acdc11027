/**
 * Readiness read from the cluster itself, on kubelab (real kube-apiserver, controller-manager and
 * kwok Nodes registered by the booting-node stand-in for each server the provisioner booted on
 * cloudsim): the `nodes` wait step and `observed` in getCluster / `GET /api/v1/clusters/:id`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa } from '../../src/auth/pki.ts';
import type { PlanResource } from '../../src/cluster/plan.ts';
import { createKubeClient, type KubeAccess, type KubeClient } from '../../src/provisioner/kubeclient.ts';
import { refusedMessage } from '../../src/provisioner/identity.ts';
import type { ExecDeps } from '../../src/provisioner/steps/context.ts';
import { waitApi, waitNodes, WAIT_SKIPPED } from '../../src/provisioner/steps/kube.ts';
import { probeApi } from '../../src/cli/provisioner.ts';
import { errorHandler } from '../../src/server/errors.ts';
import type { Principal } from '../../src/server/principal.ts';
import { registerAdminRoutes } from '../../src/server/routes/admin.ts';
import { registerClusterRoutes } from '../../src/server/routes/clusters.ts';
import { registerPanelRoutes } from '../../src/server/routes/panel.ts';
import { findCluster } from '../../src/store/findCluster.ts';
import { replaceProjectAssignments } from '../../src/store/replaceProjectAssignments.ts';
import { defaultPatch } from '../../src/dev/kube/binaries.ts';
import { freePort } from '../../src/dev/kube/ports.ts';
import { KWOK_NODE_ANNOTATION } from '../../src/dev/kube/kubelab.ts';
import { getNode, isReady } from '../kubelab/nodes.ts';
import { breakGlassAccess, labExecDeps, provisionOnKubelab, type ClusterLab } from './clusterlab.ts';
import { cloudsimSuite, logger, testProvisioner, testSpec } from './support.ts';

type PlanNodes = Extract<PlanResource, { type: 'nodes' }>;

const suite = cloudsimSuite();
const NAME = 'rd';
const master = `kaas-${NAME}-master-0`;
const worker = (i: number) => `kaas-${NAME}-default-${i}`;
let c: ClusterLab;
/** The cluster's break-glass access (from its stored material), pointed at the lab. */
let access: KubeAccess;
const clients: KubeClient[] = [];

beforeAll(async () => {
  c = await provisionOnKubelab(suite, { name: NAME, workers: 2 });
  access = await breakGlassAccess(c, NAME);
}, 120_000);

afterAll(async () => {
  for (const client of clients) await client.close();
  await c?.stop();
});

function client(over: Partial<KubeAccess> = {}): KubeClient {
  const made = createKubeClient({ ...access, ...over });
  clients.push(made);
  return made;
}

interface Run {
  deps: ExecDeps;
  events: { message: string; level?: string }[];
  sleeps: number;
}

/** The executor's dependencies as a job of this cluster gets them; the API is `kube`'s. */
function execDeps(
  kube: KubeClient,
  over: { waitForApi?: boolean; waitTimeoutMs?: number; fetchApi?: ExecDeps['fetchApi'] } = {},
): Run {
  const run: Run = { events: [], sleeps: 0, deps: undefined as unknown as ExecDeps };
  run.deps = {
    ...labExecDeps(suite, c, {
      url: c.lab.url,
      kube,
      event: async (message, level) => void run.events.push({ message, ...(level ? { level } : {}) }),
      ...(over.waitForApi === undefined ? {} : { waitForApi: over.waitForApi }),
      waitTimeoutMs: over.waitTimeoutMs ?? 10_000,
      sleep: async (ms) => {
        run.sleeps++;
        await new Promise((r) => setTimeout(r, ms));
      },
    }),
    clusterCaPem: access.caPem,
    ...(over.fetchApi ? { fetchApi: over.fetchApi } : {}),
  };
  return run;
}

const step = (names: string[], condition: 'Ready' | 'Gone' = 'Ready'): PlanNodes => ({
  type: 'nodes',
  name: NAME,
  tags: [],
  params: { names, condition },
});

/** Takes `name` away from kwok and reports it NotReady, as a kubelet whose runtime is down would. */
async function makeNotReady(name: string): Promise<void> {
  await c.lab.kubectl(['annotate', 'node', name, `${KWOK_NODE_ANNOTATION}=detached`, '--overwrite']);
  const now = new Date().toISOString();
  const res = await c.lab.request('GET', `/api/v1/nodes/${name}`);
  const node = res.body as { status: { conditions: Record<string, unknown>[] } };
  node.status.conditions = node.status.conditions.map((cond) =>
    cond['type'] === 'Ready'
      ? {
          ...cond,
          status: 'False',
          reason: 'KubeletNotReady',
          message: 'container runtime is down',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        }
      : cond,
  );
  const put = await c.lab.request('PUT', `/api/v1/nodes/${name}/status`, node);
  if (put.status !== 200)
    throw new Error(`status update answered ${put.status}: ${JSON.stringify(put.body)}`);
  // kwok must not flip it back: it stays NotReady for a while.
  await new Promise((r) => setTimeout(r, 1_000));
  if (isReady(await getNode(c.lab, name))) throw new Error(`kwok still manages ${name}`);
}

describe('the api wait step', () => {
  it("probes the step's path (/readyz), verifying the cluster CA, and says skipped when not waiting", async () => {
    const probed: string[] = [];
    const run = execDeps(client(), {
      fetchApi: (url, signal, caPem) => {
        probed.push(url);
        return probeApi(url, signal, caPem);
      },
    });
    const api: Extract<PlanResource, { type: 'api' }> = {
      type: 'api',
      name: NAME,
      tags: [],
      params: { path: '/readyz' },
    };
    expect(await waitApi(run.deps, api)).toEqual({
      url: c.lab.url,
      path: '/readyz',
      healthy: true,
    });
    expect(probed).toEqual([`${c.lab.url}/readyz`]);
    const skipped = execDeps(client(), { waitForApi: false });
    expect(await waitApi(skipped.deps, api)).toEqual({
      skipped: WAIT_SKIPPED,
      url: c.lab.url,
    });
    expect(skipped.events).toEqual([
      { message: `API /readyz not waited for: ${WAIT_SKIPPED}`, level: 'warn' },
    ]);
  });

  it('fails with api_unreachable naming the path when the API is not the cluster CA’s', async () => {
    const other = await createCa({ commonName: 'other' });
    const run = execDeps(client(), {
      waitTimeoutMs: 300,
      fetchApi: (url, signal) => probeApi(url, signal, other.certPem),
    });
    await expect(
      waitApi(run.deps, { type: 'api', name: NAME, tags: [], params: { path: '/readyz' } }),
    ).rejects.toMatchObject({
      code: 'api_unreachable',
      message: expect.stringContaining(
        `the Kubernetes API at ${c.lab.url} did not answer /readyz within 0 s`,
      ),
    });
  });
});

describe('the nodes wait step', () => {
  it('succeeds once every named Node exists and is Ready', async () => {
    const run = execDeps(client());
    const names = [master, worker(0), worker(1)];
    expect(await waitNodes(run.deps, step(names))).toEqual({
      api: c.lab.url,
      nodes: names,
      condition: 'Ready',
    });
  });

  it('fails naming the node that never registered, though every other node is Ready', async () => {
    const run = execDeps(client(), { waitTimeoutMs: 1_500 });
    const error = await waitNodes(run.deps, step([worker(0), worker(7)])).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'nodes_not_ready',
      message: `node(s) not Ready after 2 s: ${worker(7)}: not registered`,
    });
    expect(run.sleeps).toBeGreaterThan(3);
  });

  it('says skipped, with a warning, when the cluster was created with waitForApi=false', async () => {
    const run = execDeps(client(), { waitForApi: false });
    expect(await waitNodes(run.deps, step([worker(7)]))).toEqual({
      skipped: WAIT_SKIPPED,
      nodes: [worker(7)],
    });
    expect(run.events).toEqual([
      { message: `node(s) ${worker(7)} not waited for: ${WAIT_SKIPPED}`, level: 'warn' },
    ]);
  });

  it('waits for Gone: absent nodes pass, a registered one fails', async () => {
    const run = execDeps(client(), { waitTimeoutMs: 500 });
    expect(await waitNodes(run.deps, step([worker(7)], 'Gone'))).toMatchObject({ nodes: [worker(7)] });
    await expect(waitNodes(run.deps, step([worker(7), worker(1)], 'Gone'))).rejects.toMatchObject({
      code: 'nodes_not_gone',
      message: expect.stringMatching(new RegExp(`: ${worker(1)}: still registered$`)),
    });
  });

  it('fails with the reason when the API cannot be reached, and at once when it refuses the certificate', async () => {
    const closed = execDeps(client({ server: `https://127.0.0.1:${await freePort()}` }), {
      waitTimeoutMs: 300,
    });
    await expect(waitNodes(closed.deps, step([worker(0)]))).rejects.toMatchObject({
      code: 'nodes_not_ready',
      message: expect.stringContaining('connection refused: nothing listens on the API address'),
    });
    const stranger = await createCa({ commonName: 'stranger' });
    const refused = execDeps(client({ certPem: stranger.certPem, keyPem: stranger.keyPem }));
    await expect(waitNodes(refused.deps, step([worker(0)]))).rejects.toMatchObject({
      code: 'kube_api_refused',
      message: `Kubernetes API node list: ${refusedMessage(401)}`,
    });
    expect(refused.sleeps).toBe(0);
  });
});

/** A TCP server that accepts connections and never answers (an API that hangs). */
async function silentServer(): Promise<{ url: string; server: Server }> {
  const server = createServer(() => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

describe('observed state', () => {
  it('counts Ready nodes per group with kubelet versions, through GET /api/v1/clusters/:id', async () => {
    const app = Fastify();
    app.setErrorHandler(errorHandler);
    let dialled = 0;
    const p = c.provisioner({
      kubeClient: (a) => {
        dialled++;
        return createKubeClient({ ...a, server: c.lab.url });
      },
    });
    registerClusterRoutes(app, { provisioner: p, authorize: () => undefined });
    try {
      // Polling a job's progress does not contact the cluster; showing the cluster does, once.
      const [job] = await p.listJobs(NAME);
      const progress = await app.inject({ method: 'GET', url: `/api/v1/clusters/${NAME}/jobs/${job?.id}` });
      expect(progress.statusCode).toBe(200);
      expect(dialled).toBe(0);
      const res = await app.inject({ method: 'GET', url: `/api/v1/clusters/${NAME}` });
      expect(res.statusCode).toBe(200);
      expect(dialled).toBe(1);
      const kubelet = `v${defaultPatch()}`;
      expect(res.json().observed).toEqual({
        checkedAt: expect.any(String),
        reachable: true,
        nodes: { ready: 3, total: 3 },
        groups: [
          { name: 'masters', ready: 1, total: 1, kubeletVersions: [kubelet] },
          { name: 'default', ready: 2, total: 2, kubeletVersions: [kubelet] },
        ],
      });
    } finally {
      await app.close();
    }
  });

  it('is in the panel: the overview shows administrators the groups, members see Ready/total only', async () => {
    const record = await findCluster({ db: c.store.db, id: c.clusterId });
    if (!record) throw new Error('the create recorded no panel cluster');
    const [adminRole = ''] = record.adminRoleIds;
    await replaceProjectAssignments({
      db: c.store.db,
      projectId: record.projectId,
      assignments: [
        { userId: 'u-admin', roleId: adminRole, roleName: 'admin' },
        { userId: 'u-member', roleId: 'r-member', roleName: 'member' },
      ],
    });
    const users: Record<string, Principal> = {
      admin: { userId: 'u-admin', userName: 'ada', domainName: 'Default', via: 'session' },
      member: { userId: 'u-member', userName: 'max', domainName: 'Default', via: 'session' },
      outsider: { userId: 'u-out', userName: 'otto', domainName: 'Default', via: 'session' },
    };
    const p = c.provisioner();
    const app = Fastify();
    app.setErrorHandler(errorHandler);
    app.decorateRequest('principal', undefined);
    app.addHook('onRequest', async (request) => {
      request.principal = users[String(request.headers['x-test-user'])];
    });
    const deps = {
      store: c.store,
      logger,
      now: () => new Date(),
      observe: (id: string) => p.observeCluster(id),
    };
    registerPanelRoutes(app, deps);
    registerAdminRoutes(app, {
      ...deps,
      auth: { adminDeleteToken: async () => undefined },
      probe: async () => ({ ok: true, detail: 'ok' }),
    });
    try {
      const get = (url: string, user: string) =>
        app.inject({ method: 'GET', url, headers: { 'x-test-user': user } });
      const overview = await get(`/api/v1/clusters/${c.clusterId}/admin/overview`, 'admin');
      expect(overview.statusCode).toBe(200);
      expect(overview.json().observed).toMatchObject({
        reachable: true,
        nodes: { ready: 3, total: 3 },
        groups: [
          { name: 'masters', ready: 1, total: 1 },
          { name: 'default', ready: 2, total: 2 },
        ],
      });
      expect((await get(`/api/v1/clusters/${c.clusterId}/admin/overview`, 'member')).statusCode).toBe(403);
      const member = await get(`/api/v1/clusters/${c.clusterId}/nodes`, 'member');
      expect(member.json()).toEqual({
        observed: { checkedAt: expect.any(String), reachable: true, nodes: { ready: 3, total: 3 } },
      });
      // A user without a role on the cluster's project learns nothing, not even that it exists.
      expect((await get(`/api/v1/clusters/${c.clusterId}/nodes`, 'outsider')).statusCode).toBe(404);
      expect((await get(`/api/v1/clusters/${c.clusterId}/nodes`, 'nobody')).statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });

  it('shows a Node that goes NotReady, and the wait for it fails with its condition', async () => {
    await makeNotReady(worker(1));
    const view = await c.provisioner().getCluster(NAME);
    expect(view.observed).toMatchObject({
      reachable: true,
      nodes: { ready: 2, total: 3 },
      groups: [
        { name: 'masters', ready: 1, total: 1 },
        { name: 'default', ready: 1, total: 2 },
      ],
    });
    const run = execDeps(client(), { waitTimeoutMs: 500 });
    await expect(waitNodes(run.deps, step([master, worker(0), worker(1)]))).rejects.toMatchObject({
      code: 'nodes_not_ready',
      message: `node(s) not Ready after 1 s: ${worker(1)}: Ready=False (KubeletNotReady: container runtime is down)`,
    });
  });

  it('is unreachable with the reason: connection refused, timeout, TLS, 401', async () => {
    const at = (over: Partial<KubeAccess>, observeTimeoutMs?: number) =>
      c
        .provisioner({
          kubeClient: (a) => createKubeClient({ ...a, server: c.lab.url, ...over }),
          ...(observeTimeoutMs ? { observeTimeoutMs } : {}),
        })
        .getCluster(NAME)
        .then((v) => v.observed);
    const unreachable = (reason: unknown) => ({
      checkedAt: expect.any(String),
      reachable: false,
      reason,
      nodes: { ready: 0, total: 0 },
      groups: [],
    });
    expect(await at({ server: `https://127.0.0.1:${await freePort()}` })).toEqual(
      unreachable('connection refused: nothing listens on the API address'),
    );
    const silent = await silentServer();
    try {
      const started = Date.now();
      expect(await at({ server: silent.url }, 300)).toEqual(
        unreachable('timeout: the API did not answer in time'),
      );
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      silent.server.close();
    }
    const other = await createCa({ commonName: 'other' });
    expect(await at({ caPem: other.certPem })).toEqual(unreachable(expect.stringMatching(/^TLS: /)));
    expect(await at({ certPem: other.certPem, keyPem: other.keyPem })).toEqual(
      unreachable(`Kubernetes API node list: ${refusedMessage(401)}`),
    );
  });

  it('says so when the cluster credentials cannot be opened (a changed KAAS_SECRET_KEY)', async () => {
    expect((await c.provisioner({ secretKey: randomBytes(32) }).getCluster(NAME)).observed).toMatchObject({
      reachable: false,
      reason: expect.stringMatching(/^no credentials for the API: /),
    });
  });

  it('says there is no endpoint yet while the cluster is being created', async () => {
    const p = testProvisioner(await suite.store(), suite.cloud, suite.webhook);
    await p.createCluster(testSpec('rd2', 1), { waitForApi: false });
    expect((await p.getCluster('rd2')).observed).toMatchObject({
      reachable: false,
      notYet: true,
      reason: 'the cluster is creating',
    });
  });
});
