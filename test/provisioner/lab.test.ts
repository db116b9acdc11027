import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cloud } from '../../src/openstack/index.ts';
import type { WebhookTarget } from '../../src/provisioner/material.ts';
import type { Provisioner } from '../../src/provisioner/provisioner.ts';
import type { Store } from '../../src/store/db.ts';
import {
  adminConfig,
  testCloud,
  testWebhook,
  testProvisioner,
  provisionerStore,
  testSpec,
} from './support.ts';

/**
 * Against the real lab (Keystone, Nova with the fake driver, Neutron, Glance, Swift). The lab has
 * no external network and no Octavia, so the cluster is provisioned with requireExternalNetwork
 * false (router without gateway, no floating IP) and one master (no load balancer).
 */
const run = randomBytes(3).toString('hex');
const name = `lab${run}`;
let cloud: Cloud;
let store: Store;
let material: WebhookTarget;
let p: Provisioner;
let flavorId: string;
let imageId: string;
let clusterId: string | undefined;

beforeAll(async () => {
  cloud = testCloud(
    adminConfig(process.env.OS_AUTH_URL ?? 'http://127.0.0.1:5000/v3', process.env.OS_PASSWORD ?? 'secret'),
  );
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
  if (clusterId) {
    const existing = await p.getCluster(clusterId).catch(() => undefined);
    if (existing) {
      await p.deleteCluster(clusterId).catch(() => undefined);
      await p.runUntilIdle();
    }
  }
  await cloud.nova.deleteFlavor(flavorId).catch(() => undefined);
  await cloud.glance.deleteImage(imageId, { ignoreMissing: true });
  await store.close();
});

async function count(id: string) {
  const tags = [`kaas-cluster=${id}`];
  const servers = await cloud.nova.listServers({ tags });
  return {
    servers: servers.length,
    networks: (await cloud.neutron.networks.list({ tags })).length,
    subnets: (await cloud.neutron.subnets.list({ tags })).length,
    routers: (await cloud.neutron.routers.list({ tags })).length,
    securityGroups: (await cloud.neutron.securityGroups.list({ tags })).length,
    ports: (await cloud.neutron.ports.list({ tags })).length,
    keypairs: await cloud.nova.getKeypair(`kaas-${name}-keypair`).then(
      () => 1,
      () => 0,
    ),
    serverGroups: (await cloud.nova.listServerGroups()).filter(
      (g) => g.name === `kaas-${name}-servergroup-masters`,
    ).length,
    objects: await cloud.swift.listObjects(`kaas-${name}-artifacts`).then(
      (o) => o.length,
      () => 0,
    ),
  };
}

describe('provisioner against the OpenStack lab', () => {
  it(
    'creates 1 master + 3 workers, resizes to 5 and back to 2, and deletes every resource',
    { timeout: 900_000 },
    async () => {
      const spec = testSpec(name, 3, {
        masterFlavor: `kaas-${name}`,
        image: `kaas-${name}`,
        nodeGroups: [{ name: 'default', count: 3, flavor: `kaas-${name}` }],
      });
      const { cluster, job } = await p.createCluster(spec, {
        waitForApi: false,
        requireExternalNetwork: false,
      });
      clusterId = cluster.id;
      await p.runUntilIdle();
      const created = await p.getJob(job.id);
      expect(created.job.error).toBeNull();
      expect(created.job.state).toBe('succeeded');
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

      const del = await p.deleteCluster(cluster.id);
      await p.runUntilIdle();
      expect((await p.getJob(del.id)).job.state).toBe('succeeded');
      expect(await count(cluster.id)).toEqual({
        servers: 0,
        networks: 0,
        subnets: 0,
        routers: 0,
        securityGroups: 0,
        ports: 0,
        keypairs: 0,
        serverGroups: 0,
        objects: 0,
      });
    },
  );
});
