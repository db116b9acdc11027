import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCreate } from '../../src/cluster/plan.ts';
import { validateSpec } from '../../src/cluster/validate.ts';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import type { WebhookTarget } from '../../src/provisioner/material.ts';
import type { Store } from '../../src/store/db.ts';
import { nextRelease, minorOf } from '../../src/versions/index.ts';
import { open, seal } from '../../src/provisioner/secretbox.ts';
import { deleteClusterSecret } from '../../src/store/deleteClusterSecret.ts';
import { findClusterSecret } from '../../src/store/findClusterSecret.ts';
import { insertClusterSecret } from '../../src/store/insertClusterSecret.ts';
import { killedAfter } from '../support/hookFixture.ts';
import {
  testCloud,
  testWebhook,
  testProvisioner,
  provisionerStore,
  testSpec,
  TEST_SECRET_KEY,
  taggedCounts,
  NONE_TAGGED,
  TEST_VERSION,
} from './support.ts';

let sim: Cloudsim;
let cloud: Cloud;
let material: WebhookTarget;
const stores: Store[] = [];

beforeAll(async () => {
  sim = await startCloudsim({ port: 0, bootTimeMs: 20 });
  cloud = testCloud(sim);
  material = await testWebhook();
});
afterAll(async () => {
  for (const s of stores) await s.close();
  await sim.close();
});

async function store(): Promise<Store> {
  const s = await provisionerStore();
  stores.push(s);
  return s;
}

const options = () => ({ waitForApi: false });

/** Everything of the cluster that the cloud holds, counted through the API. */
/** What one single-master cluster without a load balancer holds, with `servers` servers. */
const oneClusterOf = (servers: number) => ({
  servers,
  networks: 1,
  subnets: 1,
  routers: 1,
  securityGroups: 2,
  ports: 1,
  floatingIps: 1,
  keypairs: 1,
  serverGroups: 1,
  containers: 1,
});

async function inventory(clusterId: string, name: string) {
  const tags = [`kaas-cluster=${clusterId}`];
  const servers = await cloud.nova.listServers({ tags });
  const containers = (await cloud.swift.listContainers()).filter((c) => c.name.startsWith(`kaas-${name}-`));
  return {
    ...(await taggedCounts(cloud, clusterId)),
    floatingIps: (await cloud.neutron.floatingIps.list({ tags })).length,
    loadBalancers: (await cloud.octavia.listLoadBalancers({ tags })).length,
    keypairs: await cloud.nova
      .getKeypair(`kaas-${name}-keypair`)
      .then(() => 1)
      .catch(() => 0),
    serverGroups: (await cloud.nova.listServerGroups()).filter((g) => g.name.startsWith(`kaas-${name}-`))
      .length,
    containers: containers.length,
    serverNames: servers.map((s) => s.name).sort(),
  };
}

describe('provisioner on cloudsim', () => {
  it('creates a cluster with tagged resources and user data, resizes it, and deletes everything', async () => {
    const p = testProvisioner(await store(), cloud, material);
    const created = await p.createCluster(testSpec('sim1', 3), options());
    expect(created.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(await p.runUntilIdle()).toBe(1);
    const id = created.cluster.id;
    expect((await p.getCluster(id)).status).toBe('ready');
    const inv = await inventory(id, 'sim1');
    expect(inv).toMatchObject(oneClusterOf(4));
    const [worker] = await cloud.nova.listServers({ name: '^kaas-sim1-default-0$' });
    const userData = await cloud.nova.getServerUserData(worker?.id as string);
    expect(userData).toMatch(/^#cloud-config/);
    expect(userData).toContain('temp_url_sig=');
    const objects = await cloud.swift.listObjects('kaas-sim1-artifacts');
    expect(objects.map((o) => o.name)).toEqual([expect.stringMatching(/^sha256\/[0-9a-f]{64}$/)]);

    await p.resizeCluster('sim1', 'default', 5);
    await p.runUntilIdle();
    expect((await inventory(id, 'sim1')).servers).toBe(6);
    await p.resizeCluster('sim1', 'default', 2);
    await p.runUntilIdle();
    expect((await inventory(id, 'sim1')).serverNames).toEqual([
      'kaas-sim1-default-0',
      'kaas-sim1-default-1',
      'kaas-sim1-master-0',
    ]);
    expect((await p.getCluster('sim1')).spec.nodeGroups[0]?.count).toBe(2);
    await expect(p.resizeCluster('sim1', 'default', 2)).rejects.toMatchObject({ code: 'no_change' });

    expect(await p.upgradeCluster('sim1', TEST_VERSION)).toBeUndefined();
    const next = nextRelease(minorOf(TEST_VERSION)!)!.patch;
    // Without a load balancer the API endpoint is master-0's own address, so no master can be
    // replaced: the upgrade is refused up front, no job, nothing changed.
    const jobsBefore = await p.listJobs('sim1');
    await expect(p.upgradeCluster('sim1', next)).rejects.toMatchObject({
      code: 'upgrade_not_supported',
      message: expect.stringMatching(
        /no Octavia load balancer, so its API endpoint .* is kaas-sim1-master-0's own fixed IP.*nothing was queued/,
      ),
    });
    expect(await p.listJobs('sim1')).toEqual(jobsBefore);
    expect(await p.getCluster('sim1')).toMatchObject({
      status: 'ready',
      spec: { kubernetesVersion: TEST_VERSION },
    });
    expect((await inventory(id, 'sim1')).servers).toBe(3);
    await expect(p.upgradeCluster('sim1', '0.0.1')).rejects.toMatchObject({ field: 'kubernetesVersion' });

    // What the cloud holds for the cluster, by ID, to compare with what each delete step says it removed.
    const tags = [`kaas-cluster=${id}`];
    const ids = (items: { id: string }[]) => items.map((i) => i.id).sort();
    const held = {
      'sweep:server': ids(await cloud.nova.listServers({ tags })),
      'sweep:floating-ip': ids(await cloud.neutron.floatingIps.list({ tags })),
      'sweep:router': ids(await cloud.neutron.routers.list({ tags })),
      'sweep:subnet': ids(await cloud.neutron.subnets.list({ tags })),
      'sweep:network': ids(await cloud.neutron.networks.list({ tags })),
      'sweep:security-group': ids(await cloud.neutron.securityGroups.list({ tags })),
      'delete:keypair': ['kaas-sim1-keypair'],
      'delete:server-group': ids(
        (await cloud.nova.listServerGroups()).filter((g) => g.name === 'kaas-sim1-servergroup-masters'),
      ),
    };
    const staged = await cloud.swift.listObjects('kaas-sim1-artifacts');
    const del = await p.deleteCluster('sim1');
    await p.runUntilIdle();
    const view = await p.getJob(del.id);
    expect(view.job.state).toBe('succeeded');
    const outputs = new Map(
      view.steps.map((s) => [s.stepId, s.output as { removed: number; ids: string[] }]),
    );
    for (const [stepId, expected] of Object.entries(held)) {
      expect(expected.length, stepId).toBeGreaterThan(0);
      expect([...outputs.get(stepId)!.ids].sort(), stepId).toEqual(expected);
      expect(outputs.get(stepId)!.removed, stepId).toBe(expected.length);
    }
    expect(outputs.get('sweep:server')!.removed).toBe(3);
    expect(outputs.get('sweep:security-group')!.removed).toBe(2);
    expect(outputs.get('delete:artifacts')).toEqual({
      removed: 1 + staged.length,
      ids: ['kaas-sim1-artifacts', ...staged.map((o) => `kaas-sim1-artifacts/${o.name}`)],
    });
    // The master's port and the router interface: one each, named by port ID.
    expect(outputs.get('sweep:port')!.removed).toBe(1);
    expect(outputs.get('sweep:router-interface')!.ids).toHaveLength(1);
    // The cluster API never answered (nothing boots on cloudsim): said in an event, and delete went on.
    expect(outputs.get('delete:load-balancer-services')).toEqual({
      reachable: false,
      removed: 0,
      ids: [],
      remaining: [],
    });
    expect(
      view.events.some(
        (e) =>
          e.level === 'warn' &&
          /LoadBalancer Services not deleted through it; going on with the cloud sweep/.test(e.message),
      ),
    ).toBe(true);
    const after = await inventory(id, 'sim1');
    expect(after).toMatchObject({
      ...NONE_TAGGED,
      floatingIps: 0,
      keypairs: 0,
      serverGroups: 0,
      containers: 0,
    });
    await expect(p.getCluster('sim1')).rejects.toMatchObject({ code: 'cluster_not_found' });
  });

  it("gives a new cluster the operator's image repository and keeps it when the setting changes", async () => {
    const db = await store();
    const p = testProvisioner(db, cloud, material, { imageRepository: 'registry.example:5000/mirror' });
    const sandbox = async (name: string) => {
      const [server] = await cloud.nova.listServers({ name: `^${name}$` });
      const userData = (await cloud.nova.getServerUserData(server?.id as string)) ?? '';
      return /sandbox_image = "([^"]+)"/.exec(userData)?.[1];
    };
    const { cluster } = await p.createCluster(testSpec('repo1', 1), options());
    await p.createCluster(testSpec('repo2', 0, { imageRepository: 'mirror.example/k8s' }), options());
    await p.runUntilIdle();
    expect((await p.getCluster('repo1')).spec.imageRepository).toBe('registry.example:5000/mirror');
    expect((await p.getCluster('repo2')).spec.imageRepository).toBe('mirror.example/k8s');
    expect(await sandbox('kaas-repo1-default-0')).toMatch(/^registry\.example:5000\/mirror\/pause:/);
    expect(await sandbox('kaas-repo2-master-0')).toMatch(/^mirror\.example\/k8s\/pause:/);
    // The operator moves the setting: the existing cluster's nodes still come from its own repository.
    const moved = testProvisioner(db, cloud, material, { imageRepository: 'other.example/m' });
    await moved.resizeCluster('repo1', 'default', 2);
    await moved.runUntilIdle();
    expect(await sandbox('kaas-repo1-default-1')).toMatch(/^registry\.example:5000\/mirror\/pause:/);
    expect((await moved.getCluster('repo1')).spec.imageRepository).toBe('registry.example:5000/mirror');
    for (const name of ['repo1', 'repo2']) await moved.deleteCluster(name);
    await moved.runUntilIdle();
    expect(await taggedCounts(cloud, cluster.id)).toEqual(NONE_TAGGED);
  });

  it('puts 3 masters behind an Octavia load balancer and garbage-collects it with cloud-controller ones', async () => {
    const p = testProvisioner(await store(), cloud, material);
    const { cluster, job } = await p.createCluster(testSpec('ha1', 1, { masters: 3 }), options());
    await p.runUntilIdle();
    expect((await p.getJob(job.id)).job.state).toBe('succeeded');
    const [lb] = await cloud.octavia.listLoadBalancers({ tags: [`kaas-cluster=${cluster.id}`] });
    expect(lb?.name).toBe('kaas-ha1-api-lb');
    const pool = await cloud.octavia.getPool(lb?.pools[0]?.id as string);
    expect(pool.members).toHaveLength(3);
    expect(pool.healthmonitor_id).toBeTruthy();
    const subnet = (await cloud.neutron.subnets.list({ tags: [`kaas-cluster=${cluster.id}`] }))[0];
    const ccm = await cloud.octavia.createLoadBalancer({
      name: `kube_service_${cluster.id}_default_web`,
      vipSubnetId: subnet?.id as string,
    });
    expect((await inventory(cluster.id, 'ha1')).servers).toBe(4);
    // Behind Octavia the upgrade is queued, masters first. Nothing boots on cloudsim, so no API
    // answers: the job fails at the first step that needs it, before any server is booted.
    const upgrade = await p.upgradeCluster('ha1', nextRelease(minorOf(TEST_VERSION)!)!.patch);
    expect(upgrade?.kind).toBe('upgrade');
    await p.runUntilIdle();
    const failed = await p.getJob(upgrade!.id);
    expect(failed.job.state).toBe('failed');
    expect(['kubeadm-config', 'kubeadm-certs']).toContain(failed.job.error?.stepId);
    expect(failed.job.error).toMatchObject({
      code: 'api_unreachable',
      message: expect.stringMatching(/does not answer \/healthz; retry the job once it does/),
    });
    expect((await inventory(cluster.id, 'ha1')).servers).toBe(4);
    expect(await p.getCluster('ha1', { observe: false })).toMatchObject({
      status: 'failed',
      spec: { kubernetesVersion: TEST_VERSION },
    });
    const del = await p.deleteCluster('ha1');
    await p.runUntilIdle();
    const view = await p.getJob(del.id);
    expect(view.steps.find((s) => s.stepId === 'sweep:load-balancer')?.output).toEqual({
      removed: 2,
      ids: expect.arrayContaining([lb!.id, ccm.id]),
    });
    expect((await cloud.octavia.listLoadBalancers()).filter((l) => l.name.includes('ha1'))).toHaveLength(0);
  });

  it('refuses an upgrade it could not finish: no load balancer in the cloud, no etcd CA in the material', async () => {
    const db = await store();
    const p = testProvisioner(db, cloud, material);
    const { cluster, job } = await p.createCluster(testSpec('ha2', 0, { masters: 3 }), options());
    await p.runUntilIdle();
    expect((await p.getJob(job.id)).job.state).toBe('succeeded');
    const next = nextRelease(minorOf(TEST_VERSION)!)!.patch;
    // A cluster made before kaas held its etcd CA: kaas could neither hand a joining master the
    // shared certificates nor remove the old master's member.
    const sealed = await findClusterSecret({ db: db.db, clusterId: cluster.id });
    const { etcdCa: _dropped, ...older } = JSON.parse(open(TEST_SECRET_KEY, sealed!, cluster.id)) as Record<
      string,
      unknown
    >;
    await deleteClusterSecret({ db: db.db, clusterId: cluster.id });
    await insertClusterSecret({
      db: db.db,
      clusterId: cluster.id,
      sealed: seal(TEST_SECRET_KEY, JSON.stringify(older), cluster.id),
      now: new Date().toISOString(),
    });
    await expect(p.upgradeCluster('ha2', next)).rejects.toMatchObject({
      code: 'control_plane_certs_missing',
    });
    // The spec says Octavia but the load balancer is gone (or the cloud had none at create, when the
    // endpoint fell back to master-0's address): refused, nothing queued.
    const [lb] = await cloud.octavia.listLoadBalancers({ name: 'kaas-ha2-api-lb' });
    await cloud.octavia.deleteLoadBalancer(lb!.id, { cascade: true });
    await expect(p.upgradeCluster('ha2', next)).rejects.toMatchObject({
      code: 'upgrade_not_supported',
      message: expect.stringContaining('its API load balancer kaas-ha2-api-lb does not exist'),
    });
    expect((await p.listJobs('ha2')).map((j) => j.kind)).toEqual(['create']);
    await p.deleteCluster('ha2');
    await p.runUntilIdle();
    await expect(p.getCluster('ha2')).rejects.toMatchObject({ code: 'cluster_not_found' });
  });

  it('deletes without the secrets (another KAAS_SECRET_KEY), saying the cluster API was not used', async () => {
    const s = await store();
    const p = testProvisioner(s, cloud, material);
    const { cluster } = await p.createCluster(testSpec('sim4', 1), options());
    await p.runUntilIdle();
    const stranger = testProvisioner(s, cloud, material, { secretKey: randomBytes(32) });
    const del = await stranger.deleteCluster(cluster.id);
    await stranger.runUntilIdle();
    const view = await stranger.getJob(del.id);
    expect(view.job.state).toBe('succeeded');
    expect(view.steps.find((st) => st.stepId === 'delete:load-balancer-services')?.output).toMatchObject({
      reachable: false,
    });
    expect(
      view.events.some(
        (e) =>
          e.level === 'warn' && e.message.includes('its credentials do not open with this KAAS_SECRET_KEY'),
      ),
    ).toBe(true);
    expect(await inventory(cluster.id, 'sim4')).toMatchObject({ servers: 0, networks: 0, containers: 0 });
  });

  it('refuses a second operation while one is queued', async () => {
    const p = testProvisioner(await store(), cloud, material);
    await p.createCluster(testSpec('sim2', 1), options());
    await expect(p.deleteCluster('sim2')).rejects.toMatchObject({ code: 'operation_in_progress' });
    await p.runUntilIdle();
    await p.deleteCluster('sim2');
    await p.runUntilIdle();
  });

  it('fails clearly when the API is expected but never answers', async () => {
    const p = testProvisioner(await store(), cloud, material, { waitTimeoutMs: 200 });
    const { job } = await p.createCluster(testSpec('sim3', 0), {});
    await p.runUntilIdle();
    const view = await p.getJob(job.id);
    expect(view.job.state).toBe('failed');
    expect(view.job.error).toMatchObject({ code: 'api_unreachable' });
    expect(view.job.error?.message).toMatch(/waitForApi=false/);
    await p.deleteCluster('sim3');
    await p.runUntilIdle();
  });

  it('fails on exceeded quota with a clear message and finishes on retry once quota is freed', async () => {
    const p = testProvisioner(await store(), cloud, material);
    const { cluster, job } = await p.createCluster(testSpec('sim4', 3), options());
    const project = (await cloud.session.token()).project?.id as string;
    const existing = (await cloud.nova.listServers()).length;
    sim.knobs.quotas.projects[project] = { ...sim.knobs.quotas.defaults, instances: existing + 2 };
    await p.runUntilIdle();
    const failed = await p.getJob(job.id);
    expect(failed.job.state).toBe('failed');
    expect(failed.job.error?.stepId).toBe('workers:default');
    expect(failed.job.error?.message).toMatch(/[Qq]uota exceeded for instances/);
    expect((await p.getCluster(cluster.id)).status).toBe('failed');
    sim.knobs.quotas.projects[project] = { ...sim.knobs.quotas.defaults };
    await p.retryJob(cluster.id, job.id);
    await p.runUntilIdle();
    const done = await p.getJob(job.id);
    expect(done.job.state).toBe('succeeded');
    expect(done.steps.find((s) => s.stepId === 'network')?.runs).toBe(1);
    expect((await inventory(cluster.id, 'sim4')).servers).toBe(4);
    await p.deleteCluster('sim4');
    await p.runUntilIdle();
  });

  it('rides out injected 5xx and 429 responses without duplicating resources', async () => {
    const p = testProvisioner(await store(), cloud, material, {
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))),
    });
    const { cluster, job } = await p.createCluster(testSpec('sim5', 3), options());
    sim.knobs.faults.push(
      { service: 'compute', method: 'POST', path: '/servers', status: 500, times: 2 },
      { service: 'compute', method: 'POST', path: '/servers', status: 429, times: 2, retryAfter: 0 },
      { service: 'network', method: 'POST', path: '/networks', status: 503, times: 1 },
      { service: 'network', method: 'GET', path: '/ports', status: 502, times: 1 },
    );
    await p.runUntilIdle();
    expect((await p.getJob(job.id)).job.state).toBe('succeeded');
    expect(sim.knobs.faults).toHaveLength(0);
    const inv = await inventory(cluster.id, 'sim5');
    expect(inv.servers).toBe(4);
    expect(inv.networks).toBe(1);
    await p.deleteCluster('sim5');
    await p.runUntilIdle();
  });

  const createStepIds = planCreate(
    validateSpec({ ...testSpec('x', 2), sshPublicKey: 'ssh-ed25519 AAAA x' }),
    'c0',
  ).map((s) => s.id);
  it.each(createStepIds)(
    'resumes a create killed right after step %s with no duplicate resources',
    async (crashAfter) => {
      const s = await store();
      const name = `crash-${createStepIds.indexOf(crashAfter)}`;
      const dying = testProvisioner(s, cloud, material, {
        owner: 'dying',
        hooks: killedAfter(crashAfter),
      });
      const { cluster, job } = await dying.createCluster(testSpec(name, 2), options());
      await expect(dying.runUntilIdle()).rejects.toThrow('killed');
      const later = testProvisioner(s, cloud, material, {
        owner: 'restarted',
        now: () => new Date(Date.now() + 60_000),
      });
      await later.runUntilIdle();
      const view = await later.getJob(job.id);
      expect(view.job.state).toBe('succeeded');
      // The last step is marked done only with the job's end, so a crash before that re-runs it.
      expect(view.steps.find((x) => x.stepId === crashAfter)?.runs).toBe(
        crashAfter === createStepIds.at(-1) ? 2 : 1,
      );
      expect(await inventory(cluster.id, name)).toMatchObject(oneClusterOf(3));
      expect((await cloud.swift.listObjects(`kaas-${name}-artifacts`)).length).toBe(1);
      for (const sg of await cloud.neutron.securityGroups.list({ tags: [`kaas-cluster=${cluster.id}`] })) {
        const rules = await cloud.neutron.securityGroupRules.list({ security_group_id: sg.id });
        const keys = rules.map((r) =>
          [
            r.direction,
            r.ethertype,
            r.protocol,
            r.port_range_min,
            r.port_range_max,
            r.remote_group_id,
            r.remote_ip_prefix,
          ].join('|'),
        );
        expect(new Set(keys).size).toBe(keys.length);
      }
      await later.deleteCluster(cluster.id);
      await later.runUntilIdle();
      expect((await inventory(cluster.id, name)).servers).toBe(0);
    },
  );
});
