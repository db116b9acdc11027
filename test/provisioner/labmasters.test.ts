/**
 * Issue 14's master replacement on the real lab OpenStack (Nova's fake driver, Neutron, Octavia
 * with no-op drivers): a cluster of 3 masters behind a real Octavia load balancer with a floating
 * IP on a real external network, created one minor behind the default, is upgraded to the default.
 * Its Kubernetes API is a kubelab and its etcd a real 3-member etcd behind the masters' pods (as in
 * masters.test.ts); what the cloud does is real: each replacement master gets a new Neutron port and
 * a Nova server in the anti-affinity group, joins the load balancer's pool as a member, and the
 * old master's member, port and server are removed, one master at a time, while etcd keeps quorum.
 * Delete then leaves nothing tagged and no load balancer.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterNames, tagsFor } from '../../src/cluster/names.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import { defaultPatch, previousPatch } from '../../src/dev/kube/binaries.ts';
import { getNode, isReady } from '../kubelab/nodes.ts';
import {
  deleteLeftCluster,
  etcdHealthOf,
  installKubeadmAddons,
  labApiDeps,
  provisionForUpgrade,
  waitForApiFromNowOn,
  type ClusterLab,
} from './clusterlab.ts';
import { labFixtures, type LabFixtures } from './labfixtures.ts';
import { NONE_TAGGED, taggedCounts, testCloud } from './support.ts';

const NAME = `lm${randomBytes(3).toString('hex')}`;
const names = clusterNames(NAME);
const TO = defaultPatch();
let cloud: Cloud;
let fixtures: LabFixtures | undefined;
let c: ClusterLab | undefined;

beforeAll(async () => {
  cloud = testCloud('lab');
  fixtures = await labFixtures(cloud, NAME);
  c = await provisionForUpgrade(
    fixtures.suite,
    NAME,
    {
      ...fixtures.spec,
      masters: 3,
      loadBalancer: 'octavia',
      nodeGroups: [{ name: 'default', count: 1, flavor: fixtures.spec.masterFlavor, maxSurge: 1 }],
    },
    { etcd: true },
  );
  await installKubeadmAddons(c.lab, previousPatch(), names.master(0));
  await waitForApiFromNowOn(c);
}, 600_000);

afterAll(async () => {
  if (c) await deleteLeftCluster(c);
  await fixtures?.remove();
}, 600_000);

/** The load balancer's pool members and the masters' port addresses, through Octavia and Neutron. */
async function membersAndMasterPorts(clusterId: string) {
  const [lb] = await cloud.octavia.listLoadBalancers({ name: names.apiLoadBalancer });
  const members = (await cloud.octavia.listMembers(lb!.pools[0]!.id)).map((m) => m.address).sort();
  const ports = (await cloud.neutron.ports.list({ tags: tagsFor(clusterId) })).filter((p) =>
    p.name?.startsWith(`kaas-${NAME}-master-`),
  );
  return {
    lb: lb!,
    members,
    portNames: ports.map((p) => p.name).sort(),
    portAddresses: ports.map((p) => p.fixed_ips[0]?.ip_address).sort(),
  };
}

describe('master replacement on the lab OpenStack', () => {
  it(
    'replaces 3 masters one at a time on real Nova, Neutron and Octavia, keeping etcd quorum; delete leaves nothing',
    { timeout: 900_000 },
    async () => {
      const lab = c!;
      const tags = tagsFor(lab.clusterId);
      const oldServers = await cloud.nova.listServers({ tags });
      const before = await membersAndMasterPorts(lab.clusterId);
      expect(before.members).toEqual(before.portAddresses);
      expect(before.members).toHaveLength(3);

      const writer = lab.etcd!.keepWriting();
      const job = await lab.provisioner(labApiDeps(lab)).upgradeCluster(NAME, TO);
      await lab.provisioner(labApiDeps(lab)).runUntilIdle();
      const written = await writer.stop();
      const view = await lab.provisioner().getJob(job!.id);
      expect(view.job.state, JSON.stringify(view.job.error)).toBe('succeeded');
      console.log(
        `etcd writes during the lab upgrade: ${written.writes}, failed: ${written.failures.length}`,
      );
      expect(written.failures).toEqual([]);

      // The new masters and worker are new Nova servers; the old ones are gone.
      const fresh = [...[3, 4, 5].map(names.master), names.worker('default', 1)];
      const servers = await cloud.nova.listServers({ tags });
      expect(servers.map((s) => s.name).sort()).toEqual(fresh.sort());
      expect(servers.every((s) => s.status === 'ACTIVE')).toBe(true);
      expect(servers.some((s) => oldServers.some((o) => o.id === s.id))).toBe(false);
      // Octavia's pool holds exactly the new masters' Neutron port addresses; the VIP stayed.
      const after = await membersAndMasterPorts(lab.clusterId);
      expect(after.portNames).toEqual([3, 4, 5].map(names.masterPort));
      expect(after.members).toEqual(after.portAddresses);
      expect(after.lb).toMatchObject({ id: before.lb.id, vip_address: before.lb.vip_address });
      expect(after.lb.provisioning_status).toBe('ACTIVE');
      expect((await cloud.neutron.floatingIps.list({ tags })).map((f) => f.port_id)).toEqual([
        after.lb.vip_port_id,
      ]);
      // etcd: exactly the new masters, healthy; every Node runs the new kubelet.
      expect((await etcdHealthOf(lab)).map((m) => [m.name, m.healthy]).sort()).toEqual(
        [3, 4, 5].map((i) => [names.master(i), true]),
      );
      for (const name of fresh) {
        const node = await getNode(lab.lab, name);
        expect(isReady(node), name).toBe(true);
        expect(node?.status?.nodeInfo?.kubeletVersion, name).toBe(`v${TO}`);
      }

      const del = await lab.provisioner().deleteCluster(lab.clusterId);
      await lab.provisioner().runUntilIdle();
      expect((await lab.provisioner().getJob(del.id)).job.state).toBe('succeeded');
      expect(await taggedCounts(cloud, lab.clusterId)).toEqual(NONE_TAGGED);
      expect(await cloud.octavia.listLoadBalancers({ name: names.apiLoadBalancer })).toEqual([]);
      expect(await cloud.neutron.floatingIps.list({ tags })).toEqual([]);
    },
  );
});
