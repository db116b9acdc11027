import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOpenStackError, type Cloud } from '../../src/openstack/index.ts';
import type { WebhookTarget } from '../../src/provisioner/material.ts';
import type { Provisioner } from '../../src/provisioner/provisioner.ts';
import type { Store } from '../../src/store/db.ts';
import {
  testCloud,
  testWebhook,
  testProvisioner,
  provisionerStore,
  testSpec,
  queueWorkerRollout,
  taggedCounts,
  NONE_TAGGED,
  TEST_VERSION,
} from './support.ts';
import { bootedNode, storeEnroller } from '../../src/dev/kube/nodes.ts';
import { minorOf, nextRelease } from '../../src/versions/index.ts';

const NEXT = nextRelease(minorOf(TEST_VERSION)!)!.patch;

/**
 * Against the real lab (Keystone, Nova with the fake driver, Neutron, Glance, Swift, Octavia with
 * no-op amphorae, Cinder). The lab has no external network, so clusters are provisioned with
 * requireExternalNetwork false (router without gateway, no floating IP).
 */
const run = randomBytes(3).toString('hex');
const name = `lab${run}`;
let cloud: Cloud;
let store: Store;
let material: WebhookTarget;
let p: Provisioner;
let flavorId: string;
let imageId: string;
/** Clusters the tests created, deleted in afterAll if a test failed before deleting them. */
const clusterIds: string[] = [];

beforeAll(async () => {
  cloud = testCloud('lab');
  store = await provisionerStore();
  material = await testWebhook();
  flavorId = (await cloud.nova.createFlavor({ name: `kaas-${name}`, ram: 512, vcpus: 1, disk: 1 })).id;
  const image = await cloud.glance.createImage({
    name: `kaas-${name}`,
    diskFormat: 'raw',
    containerFormat: 'bare',
  });
  await cloud.glance.uploadImage(image.id, randomBytes(64 * 1024));
  imageId = image.id;
  p = testProvisioner(store, cloud, material, { pollIntervalMs: 500, waitTimeoutMs: 180_000 });
});

afterAll(async () => {
  for (const id of clusterIds) {
    const existing = await p.getCluster(id).catch(() => undefined);
    if (existing) {
      await p.deleteCluster(id).catch(() => undefined);
      await p.runUntilIdle();
    }
  }
  await cloud.nova.deleteFlavor(flavorId).catch(() => undefined);
  await cloud.glance.deleteImage(imageId, { ignoreMissing: true });
  await store.close();
});

/** The cluster's resources, counted through the APIs; `cluster` names the untaggable ones. */
async function count(id: string, cluster = name) {
  return {
    ...(await taggedCounts(cloud, id)),
    keypairs: await cloud.nova.getKeypair(`kaas-${cluster}-keypair`).then(
      () => 1,
      () => 0,
    ),
    serverGroups: (await cloud.nova.listServerGroups()).filter(
      (g) => g.name === `kaas-${cluster}-servergroup-masters`,
    ).length,
    objects: await cloud.swift.listObjects(`kaas-${cluster}-artifacts`).then(
      (o) => o.length,
      () => 0,
    ),
    // The cluster's own application credential, owned by kaas's user (steps/credential.ts).
    credentials: (
      await cloud.keystone.listApplicationCredentials((await cloud.session.token()).user.id)
    ).filter((c) => c.name.startsWith(`kaas-cluster-${id}-`)).length,
  };
}

/** What {@link count} finds once a cluster is deleted. */
const NOTHING_LEFT = {
  ...NONE_TAGGED,
  keypairs: 0,
  serverGroups: 0,
  objects: 0,
  credentials: 0,
};

/** Creates a cluster with `workers` on this run's flavor and image and runs its job, which must succeed. */
async function createOnLab(clusterName: string, workers: number, over: Record<string, unknown> = {}) {
  const spec = testSpec(clusterName, workers, {
    masterFlavor: `kaas-${name}`,
    image: `kaas-${name}`,
    nodeGroups: [{ name: 'default', count: workers, flavor: `kaas-${name}` }],
    ...over,
  });
  const { cluster, job } = await p.createCluster(spec, { waitForApi: false, requireExternalNetwork: false });
  clusterIds.push(cluster.id);
  await p.runUntilIdle();
  const created = await p.getJob(job.id);
  expect(created.job.error).toBeNull();
  expect(created.job.state).toBe('succeeded');
  return cluster;
}

describe('provisioner against the OpenStack lab', () => {
  it(
    'creates 1 master + 3 workers, resizes to 5 and back to 2, rolls the workers onto the next minor, and deletes every resource',
    { timeout: 900_000 },
    async () => {
      const cluster = await createOnLab(name, 3);
      expect(await count(cluster.id)).toEqual({
        servers: 4,
        networks: 1,
        subnets: 1,
        routers: 1,
        securityGroups: 2,
        ports: 1,
        keypairs: 1,
        serverGroups: 1,
        objects: 1,
        credentials: 1,
      });
      for (const server of await cloud.nova.listServers({ tags: [`kaas-cluster=${cluster.id}`] })) {
        expect(server.status).toBe('ACTIVE');
        expect(server.tags).toContain(`kaas-cluster=${cluster.id}`);
        expect(await cloud.nova.getServerUserData(server.id)).toMatch(/^#cloud-config/);
      }

      await p.resizeCluster(cluster.id, 'default', 5);
      await p.runUntilIdle();
      expect((await count(cluster.id)).servers).toBe(6);
      await p.resizeCluster(cluster.id, 'default', 2);
      await p.runUntilIdle();
      expect((await count(cluster.id)).servers).toBe(3);

      // The worker rollout of an upgrade on real Nova: replacements on the next indexes with the
      // new version's user data, the old servers deleted (the API is unreachable: no drains).
      const rollout = await queueWorkerRollout({ store, cloud, clusterId: cluster.id, to: NEXT });
      await p.runUntilIdle();
      expect((await p.getJob(rollout.id)).job.state).toBe('succeeded');
      const workers = (await cloud.nova.listServers({ tags: [`kaas-cluster=${cluster.id}`] })).filter(
        (s) => s.metadata['kaas-group'] === 'default',
      );
      expect(workers.map((s) => [s.name, s.metadata['kaas-index']]).sort()).toEqual([
        [`kaas-${name}-default-2`, '2'],
        [`kaas-${name}-default-3`, '3'],
      ]);
      for (const s of workers) {
        expect(s.status).toBe('ACTIVE');
        // The user data as real Nova kept it, enrolled as the node would at first boot.
        const userData = (await cloud.nova.getServerUserData(s.id)) ?? '';
        const enrolled = await storeEnroller(store.db)(userData);
        expect(enrolled).toBeDefined();
        expect(bootedNode(userData, enrolled).kubeletVersion).toBe(NEXT);
      }

      const del = await p.deleteCluster(cluster.id);
      await p.runUntilIdle();
      expect((await p.getJob(del.id)).job.state).toBe('succeeded');
      expect(await count(cluster.id)).toEqual(NOTHING_LEFT);
    },
  );

  it(
    'puts 3 masters behind a real Octavia load balancer; delete leaves no load balancer, listener, pool, port, floating IP or volume',
    { timeout: 900_000 },
    async () => {
      const ha = `${name}ha`;
      const cluster = await createOnLab(ha, 1, { masters: 3 });
      const tags = [`kaas-cluster=${cluster.id}`];
      const [lb] = await cloud.octavia.listLoadBalancers({ tags });
      expect(lb).toMatchObject({ name: `kaas-${ha}-api-lb`, provisioning_status: 'ACTIVE' });
      const pool = await cloud.octavia.getPool(lb!.pools[0]!.id);
      expect(pool.healthmonitor_id).toBeTruthy();
      // One member per master, at that master's port address on the cluster subnet.
      const masters = (await cloud.nova.listServers({ tags })).filter((s) => s.name.includes('-master-'));
      expect(masters).toHaveLength(3);
      const masterPorts = (await cloud.neutron.ports.list({ tags })).filter((port) =>
        masters.some((m) => m.id === port.device_id),
      );
      expect((await cloud.octavia.listMembers(pool.id)).map((m) => m.address).sort()).toEqual(
        masterPorts.map((port) => port.fixed_ips[0]?.ip_address).sort(),
      );
      // The VIP is a real Neutron port on the cluster subnet.
      const vip = await cloud.neutron.ports.get(lb!.vip_port_id);
      expect(vip.fixed_ips.map((ip) => ip.ip_address)).toContain(lb!.vip_address);
      // A load balancer the cloud controller would have made for a Service: swept by name.
      const subnet = (await cloud.neutron.subnets.list({ tags }))[0]!;
      const ccm = await cloud.octavia.createLoadBalancer({
        name: `kube_service_${cluster.id}_default_web`,
        vipSubnetId: subnet.id,
      });
      await cloud.octavia.waitForLoadBalancer(ccm.id, 'ACTIVE', { timeoutMs: 120_000 });
      const listenerIds = [...lb!.listeners.map((l) => l.id)];

      const del = await p.deleteCluster(cluster.id);
      await p.runUntilIdle();
      const deleted = await p.getJob(del.id);
      expect(deleted.job.state).toBe('succeeded');
      expect(deleted.steps.find((st) => st.stepId === 'sweep:load-balancer')?.output).toEqual({
        removed: 2,
        ids: expect.arrayContaining([lb!.id, ccm.id]),
      });
      const missing = (call: Promise<unknown>) =>
        call.then(
          () => false,
          (e) => isOpenStackError(e, 'openstack_not_found'),
        );
      expect({
        loadBalancers: (await cloud.octavia.listLoadBalancers()).filter(
          (l) => l.id === lb!.id || l.id === ccm.id || l.name.includes(ha),
        ).length,
        listenersGone: (
          await Promise.all(listenerIds.map((id) => missing(cloud.octavia.getListener(id))))
        ).every(Boolean),
        poolGone: await missing(cloud.octavia.getPool(pool.id)),
        vipPortsGone: [
          await missing(cloud.neutron.ports.get(lb!.vip_port_id)),
          await missing(cloud.neutron.ports.get(ccm.vip_port_id)),
        ],
        floatingIps: (await cloud.neutron.floatingIps.list({ tags })).length,
        volumes: (await cloud.cinder.listVolumes()).filter((v) => v.name?.includes(ha)).length,
        ...(await count(cluster.id, ha)),
      }).toEqual({
        loadBalancers: 0,
        listenersGone: true,
        poolGone: true,
        vipPortsGone: [true, true],
        floatingIps: 0,
        volumes: 0,
        ...NOTHING_LEFT,
      });
    },
  );
});
