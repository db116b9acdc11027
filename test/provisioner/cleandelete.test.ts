/**
 * Delete leaves nothing, on the real lab OpenStack: a cluster the provisioner created there (Nova's
 * fake driver, Neutron, an external network the test makes) whose API is a kubelab started from its
 * master-0 input, with the real openstack-cloud-controller-manager running on the kaas-rendered
 * cloud.conf and the cluster's own application credential (member + load-balancer_member). It
 * holds what a used cluster holds: a LoadBalancer Service with its Octavia load balancer and
 * floating IP, a Cinder volume carrying Cinder CSI's cluster metadata, and the etcd-backup, Velero
 * and registry Swift containers with objects. Delete removes the Service through
 * the API (the cloud controller removes the load balancer), sweeps the rest, and its step outputs
 * name what went; afterwards the APIs count zero of each.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudConf } from '../../src/addons/cloudconf.ts';
import { CINDER_CLUSTER_METADATA } from '../../src/addons/storage.ts';
import { clusterNames, tagsFor } from '../../src/cluster/names.ts';
import { isOpenStackError, type Cloud } from '../../src/openstack/index.ts';
import { defaultContext } from '../addons/default-context.ts';
import {
  loadBalancerCounts,
  kubelabCluster,
  startCloudController,
  type CloudController,
} from '../kubelab/cloudcontroller.ts';
import { deleteLeftCluster, provisionOnKubelab, type ClusterLab } from './clusterlab.ts';
import { labFixtures, type LabFixtures } from './labfixtures.ts';
import type { ClusterMaterial } from '../../src/provisioner/material.ts';
import { open } from '../../src/provisioner/secretbox.ts';
import { findClusterSecret } from '../../src/store/findClusterSecret.ts';
import { taggedCounts, testCloud, NONE_TAGGED, TEST_SECRET_KEY } from './support.ts';

const run = randomBytes(3).toString('hex');
const name = `cd${run}`;
const names = clusterNames(name);
let cloud: Cloud;
let c: ClusterLab | undefined;
let occm: CloudController | undefined;
let fixtures: LabFixtures | undefined;
/** The load-balancer_member grant this run gave the lab's admin (Octavia's policy wants it), to undo. */
let granted: { projectId: string; roleId: string; userId: string; madeRole: boolean } | undefined;

beforeAll(async () => {
  cloud = testCloud('lab');
  // kaas passes load-balancer_member on to the cluster's credential only if its own user holds it.
  const admin = await cloud.session.token();
  let role = (await cloud.keystone.listRoles({ name: 'load-balancer_member' }))[0];
  const madeRole = !role;
  role ??= await cloud.keystone.createRole({ name: 'load-balancer_member' });
  const grant = { projectId: admin.project!.id, roleId: role.id, userId: admin.user.id };
  if ((await cloud.keystone.listRoleAssignments(grant)).length === 0) {
    await cloud.keystone.assignProjectRole(grant);
    granted = { ...grant, madeRole };
  }
  // The provisioner's session must see the role: a new client, so a new token.
  cloud = testCloud('lab');
  fixtures = await labFixtures(cloud, name);
  c = await provisionOnKubelab(fixtures.suite, {
    name,
    workers: 1,
    spec: {
      ...fixtures.spec,
      nodeGroups: [{ name: 'default', count: 1, flavor: fixtures.spec.masterFlavor }],
    },
  });
}, 600_000);

afterAll(async () => {
  await occm?.stop();
  if (c) await deleteLeftCluster(c);
  if (granted) {
    await cloud.keystone.unassignProjectRole(granted).catch(() => undefined);
    if (granted.madeRole) await cloud.keystone.deleteRole(granted.roleId).catch(() => undefined);
  }
  await fixtures?.remove();
}, 600_000);

/** What the APIs find of the cluster: tagged resources, its Services' Octavia objects, volumes, containers. */
async function count(clusterId: string) {
  const containers = [names.artifactsContainer, ...names.backupContainers];
  let swift = 0;
  for (const container of containers) {
    swift += await cloud.swift.headContainer(container).then(
      () => 1,
      (error: unknown) => {
        if (isOpenStackError(error, 'openstack_not_found')) return 0;
        throw error;
      },
    );
  }
  return {
    ...(await taggedCounts(cloud, clusterId)),
    ...(await loadBalancerCounts(cloud, clusterId, fixtures!.external.id)),
    externalPorts: (await cloud.neutron.ports.list({ network_id: fixtures!.external.id })).length,
    volumes: (await cloud.cinder.listVolumes()).filter(
      (v) => v.metadata[CINDER_CLUSTER_METADATA] === clusterId,
    ).length,
    containers: swift,
  };
}

interface ServiceObject {
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
}

describe('delete on the lab with the cloud controller running', () => {
  it(
    "removes the cloud controller's load balancer through the API, then sweeps volumes, floating IPs and backup containers: zero left",
    { timeout: 900_000 },
    async () => {
      const lab = c!.lab;
      const clusterId = c!.clusterId;
      // The cluster's own credential, as create made it (kaas's user's, member + load-balancer_member).
      const sealed = (await findClusterSecret({ db: c!.store.db, clusterId })) as string;
      const made = (JSON.parse(open({ current: TEST_SECRET_KEY }, sealed, clusterId)) as ClusterMaterial)
        .credential!;
      expect(made.roles).toEqual(['member', 'load-balancer_member']);
      const [subnet] = await cloud.neutron.subnets.list({ tags: tagsFor(clusterId) });
      occm = await startCloudController(
        kubelabCluster(lab),
        { ...defaultContext(), clusterName: name, clusterId },
        cloudConf({
          authUrl: process.env.OS_AUTH_URL ?? 'http://127.0.0.1:5000/v3',
          region: process.env.OS_REGION_NAME ?? 'RegionOne',
          applicationCredentialId: made.id,
          applicationCredentialSecret: made.secret,
          floatingNetworkId: fixtures!.external.id,
          subnetId: subnet!.id,
        }),
      );
      const created = await lab.request('POST', '/api/v1/namespaces/default/services', {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'default' },
        spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
      });
      expect(created.status).toBe(201);
      await lab.waitFor(
        'the Service to get its load balancer address',
        async () => {
          if (occm!.proc.child.exitCode !== null)
            throw new Error(`the cloud controller exited: ${await occm!.log()}`);
          const got = await lab.request('GET', '/api/v1/namespaces/default/services/web');
          return (got.body as ServiceObject).status?.loadBalancer?.ingress?.[0]?.ip !== undefined;
        },
        300_000,
      );
      // What Cinder CSI (--cluster=<id>) makes for a claim, and what the backup services write.
      const volume = await cloud.cinder.createVolume({
        name: `pvc-${run}`,
        size: 1,
        metadata: { [CINDER_CLUSTER_METADATA]: clusterId, 'csi.storage.k8s.io/pvc/name': 'data' },
      });
      await cloud.cinder.waitForVolumeStatus(volume.id);
      for (const container of names.backupContainers) {
        await cloud.swift.createContainer(container);
        await cloud.swift.putObject(container, 'backup-1', Buffer.from('x'));
      }
      const tagged = await cloud.neutron.floatingIps.list({ tags: tagsFor(clusterId) });
      expect(await count(clusterId)).toMatchObject({
        loadBalancers: 1,
        listeners: 1,
        pools: 1,
        // The cloud controller's for the Service, and kaas's own (tagged) ones.
        floatingIps: 1 + tagged.length,
        volumes: 1,
        containers: 4,
      });

      const p = c!.provisioner({
        kubeCleanupTimeoutMs: 240_000,
        pollIntervalMs: 500,
        waitTimeoutMs: 240_000,
      });
      const del = await p.deleteCluster(clusterId);
      await p.runUntilIdle();
      const job = await p.getJob(del.id);
      expect(job.job.error).toBeNull();
      expect(job.job.state).toBe('succeeded');
      const outputs = Object.fromEntries(job.steps.map((s) => [s.stepId, s.output]));
      expect(outputs['delete:load-balancer-services']).toMatchObject({
        reachable: true,
        removed: 1,
        ids: ['default/web'],
        remaining: [],
      });
      expect(outputs['sweep:volume']).toEqual({ removed: 1, ids: [volume.id] });
      // The Service's floating IP went with its load balancer; the sweep removed kaas's own.
      expect(outputs['sweep:floating-ip']).toEqual({ removed: tagged.length, ids: tagged.map((f) => f.id) });
      for (const container of names.backupContainers)
        expect(outputs[`delete:${container}`]).toEqual({
          removed: 2,
          ids: [container, `${container}/backup-1`],
        });
      // Last, the cluster's credential the cloud controller acted with.
      expect(outputs['delete:credential']).toEqual({ removed: 1, ids: [made.id] });
      await occm!.stop();

      expect(await count(clusterId)).toEqual({
        ...NONE_TAGGED,
        loadBalancers: 0,
        listeners: 0,
        pools: 0,
        floatingIps: 0,
        externalPorts: 0,
        volumes: 0,
        containers: 0,
      });
    },
  );
});
