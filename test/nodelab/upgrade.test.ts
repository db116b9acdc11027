/**
 * kaas's rolling upgrade on real nodes with a highly available control plane: the provisioner
 * creates 3 masters + 2 workers at the minor before the default, behind an API load balancer
 * (loadBalancer=octavia; lb.ts serves cloudsim's load balancer on the lab bridge, standing in for
 * Octavia's data plane), on cloudsim + nodelab + the release staged in the cloud's Swift. master-0
 * runs `kubeadm init`, the two others a real `kubeadm join --control-plane`: etcd has three
 * members. `upgrade` to the default replaces every node: each new master joins etcd (kaas waits
 * for its member through a port-forward to its etcd pod), then the old one it replaces is drained,
 * leaves the pool and etcd and is deleted, one master at a time, so etcd keeps its quorum; then
 * each worker is replaced, the new one first, the old drained (a workload under a
 * PodDisruptionBudget moves with it). Afterwards every Node reports the new version and is Ready,
 * the workload runs, etcd lists the three new masters only; delete leaves nothing in the cloud or
 * on the host. The console line gives each phase's wall time and the nodes' memory (sum of RSS).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tagsFor } from '../../src/cluster/names.ts';
import { defaultPatch, previousPatch } from '../../src/dev/kube/binaries.ts';
import { KUBERNETES_RELEASES } from '../../src/versions/index.ts';
import type { CloudController } from '../kubelab/cloudcontroller.ts';
import * as nodelab from './kaas.ts';
import { serveLoadBalancers, type LbStandIn } from './lb.ts';
import { nodelabCache, type LabNode } from './node.ts';
import { watchServers, type ServerWatch } from './watch.ts';

/** Apart from the other nodelab suites' networks. */
const CIDR = '10.242.0.0/24';
const NAME = 'nlup';
const FROM = previousPatch();
const TO = defaultPatch();
const master = (i: number) => `kaas-${NAME}-master-${i}`;
const worker = (i: number) => `kaas-${NAME}-default-${i}`;
/** The created nodes, and the nodes an upgrade replaces them with (on the lowest free indexes). */
const CREATED = [master(0), master(1), master(2), worker(0), worker(1)];
const UPGRADED = [master(3), master(4), master(5), worker(2), worker(3)];
const MASTERS = (names: readonly string[]) => names.filter((n) => n.includes('-master-'));
/** A workload of two pods that may lose only one at a time. */
const SURVIVOR = 'nodelab-survivor';

/** etcd's members, by name (sorted), as master `node`'s own member lists them. */
async function etcdMembers(node: LabNode): Promise<string[]> {
  const pki = '/etc/kubernetes/pki/etcd';
  const answer = await node.exec([
    'curl',
    '-sf',
    '--cacert',
    `${pki}/ca.crt`,
    '--cert',
    `${pki}/healthcheck-client.crt`,
    '--key',
    `${pki}/healthcheck-client.key`,
    '-X',
    'POST',
    '-d',
    '{}',
    'https://127.0.0.1:2379/v3/cluster/member/list',
  ]);
  return (JSON.parse(answer) as { members: { name: string }[] }).members.map((m) => m.name).sort();
}

interface NodeList {
  items: {
    metadata: { name: string };
    status: { nodeInfo: { kubeletVersion: string }; conditions: { type: string; status: string }[] };
  }[];
}

describe('nodelab: rolling upgrade on real nodes', () => {
  let kaas: nodelab.NodelabKaas | undefined;
  let watch: ServerWatch | undefined;
  let lbs: LbStandIn | undefined;
  let occm: CloudController | undefined;
  let sampling = false;
  afterAll(async () => {
    sampling = false;
    // The watch tears the nodes down before kaas and the lab stop, even when it fails.
    await (occm?.stop() ?? Promise.resolve())
      .finally(() => watch?.stop())
      .finally(() => lbs?.stop())
      .finally(() => kaas?.stop());
  });

  it(
    `creates 3 masters + 2 workers at ${FROM} behind a load balancer, upgrades every node to ${TO}, deletes, leaves nothing`,
    async () => {
      nodelabCache(FROM);
      kaas = await nodelab.startNodelabKaas(CIDR);
      const { lab, cloud, provisioner, imageRepository } = kaas;
      const started = Date.now();
      const { cluster, job } = await kaas.createCluster(NAME, 2, {
        kubernetesVersion: FROM,
        loadBalancer: 'octavia',
        masters: 3,
      });
      lbs = serveLoadBalancers(cloud, cluster.id, lab.bridge);
      watch = watchServers(lab, cloud, cluster.id, kaas.sim.knobs);
      const booted = watch;
      await provisioner.runUntilIdle();
      expect((await provisioner.getJob(job.id)).job.state).toBe('succeeded');
      const [lb] = await cloud.octavia.listLoadBalancers({ tags: tagsFor(cluster.id) });
      if (!lb) throw new Error('kaas made no API load balancer');
      // Every client of the cluster (kubelets, kubeadm, kaas, the suite) goes through the VIP.
      kaas.apiAddress = lb.vip_address;

      // The nodes' memory, sampled while the test runs: the peak of their sum.
      let peak = { bytes: 0, nodes: 0 };
      sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const nodes = [...booted.fates.values()].flatMap((f) => (f.state === 'booted' ? [f.node] : []));
          const sum = (await Promise.all(nodes.map((n) => n.rssBytes().catch(() => 0)))).reduce(
            (a, b) => a + b,
            0,
          );
          if (sum > peak.bytes) peak = { bytes: sum, nodes: nodes.length };
          await new Promise((r) => setTimeout(r, 5000));
        }
      })();

      /** etcd, asked on the last of `masters`, lists exactly them; the load balancer forwards to exactly their API servers. */
      const expectControlPlane = async (masters: string[]) => {
        const booted = await Promise.all(masters.map((n) => watch!.booted(n, 0)));
        expect(await etcdMembers(booted.at(-1)!)).toEqual(masters);
        expect([...(lbs!.served().get(`${lb.vip_address}:6443`) ?? [])].sort()).toEqual(
          booted.map((n) => `${n.address}:6443`).sort(),
        );
      };
      await watch.booted(master(0), 5 * nodelab.MINUTE);
      const { kubectl, apply, ready, applyPodNetwork } = await kaas.breakGlass(cluster.id);
      await applyPodNetwork();
      // The cloud controller initializes every Node, the replacements too (kaas.ts).
      occm = await nodelab.startNodelabCloudController(kaas, cluster.id);
      for (const name of CREATED) {
        await watch.booted(name, 5 * nodelab.MINUTE);
        await ready(name);
      }
      const createMs = Date.now() - started;
      const createdNodes: LabNode[] = [];
      for (const name of CREATED) createdNodes.push(await watch.booted(name, 0));
      // A real control plane of three: etcd has a member per master, the load balancer forwards
      // to every master's API server.
      await expectControlPlane(MASTERS(CREATED));
      const createdRss = (await Promise.all(createdNodes.map((n) => n.rssBytes()))).reduce(
        (a, b) => a + b,
        0,
      );
      const nodes = async () =>
        (JSON.parse((await kubectl('get', 'nodes', '-o', 'json')).stdout) as NodeList).items;
      const versions = async () =>
        Object.fromEntries((await nodes()).map((n) => [n.metadata.name, n.status.nodeInfo.kubeletVersion]));
      expect(await versions()).toEqual(Object.fromEntries(CREATED.map((n) => [n, `v${FROM}`])));

      // Two pods, one per worker, of which the PodDisruptionBudget lets drains evict one at a time.
      await apply({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'policy/v1',
            kind: 'PodDisruptionBudget',
            metadata: { name: SURVIVOR, namespace: 'default' },
            spec: { minAvailable: 1, selector: { matchLabels: { app: SURVIVOR } } },
          },
          nodelab.spreadDeployment(SURVIVOR, 2, 'ScheduleAnyway', kaas.busybox),
        ],
      });
      const available = async () => {
        const { stdout } = await kubectl(
          'get',
          'deployment',
          SURVIVOR,
          '-o',
          'jsonpath={.status.availableReplicas}',
        );
        return Number(stdout || 0);
      };
      await nodelab.until(`${SURVIVOR} available`, 3 * nodelab.MINUTE, async () =>
        (await available()) === 2 ? true : undefined,
      );

      // Upgraded: masters 0-2 are replaced by masters 3-5, workers 0 and 1 by workers 2 and 3. The
      // workload's availability is sampled meanwhile (an unanswered look counts as nothing).
      const upgraded = Date.now();
      let fewest = 2;
      const watcher = (async () => {
        while (sampling && fewest > 0) {
          const now = await available().catch(() => undefined);
          if (now !== undefined) fewest = Math.min(fewest, now);
          await new Promise((r) => setTimeout(r, 3000));
        }
      })();
      const upgrade = await provisioner.upgradeCluster(cluster.id, TO);
      if (!upgrade) throw new Error(`kaas saw nothing to upgrade from ${FROM} to ${TO}`);
      await provisioner.runUntilIdle();
      const upgradeView = await provisioner.getJob(upgrade.id);
      expect(upgradeView.job.state, JSON.stringify(upgradeView.events.slice(-5))).toBe('succeeded');
      // kaas's Node waits are skipped for a cluster created with waitForApi=false (kaas.ts): the
      // suite waits for the last worker itself.
      for (const name of UPGRADED) {
        await watch.booted(name, 5 * nodelab.MINUTE);
        await ready(name);
      }
      for (const name of CREATED) await watch.stopped(name, 2 * nodelab.MINUTE);
      const upgradeMs = Date.now() - upgraded;
      sampling = false;
      await watcher;
      expect(await versions()).toEqual(Object.fromEntries(UPGRADED.map((n) => [n, `v${TO}`])));
      expect(
        (await nodes()).every((n) =>
          n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
        ),
      ).toBe(true);
      // kube-proxy and CoreDNS moved on with the API servers (what `kubeadm upgrade apply` does),
      // still from the cluster's image repository.
      const coredns = (patch: string) => KUBERNETES_RELEASES.find((r) => r.patch === patch)?.images.coredns;
      expect(upgradeView.steps.find((s) => s.stepId === 'kubeadm-addons')?.output).toEqual({
        'kube-proxy': {
          from: `${imageRepository}/kube-proxy:v${FROM}`,
          to: `${imageRepository}/kube-proxy:v${TO}`,
        },
        coredns: {
          from: `${imageRepository}/coredns:${coredns(FROM)}`,
          to: `${imageRepository}/coredns:${coredns(TO)}`,
        },
      });
      // The workload runs on the new workers and never lost both pods.
      await nodelab.until(`${SURVIVOR} available again`, 3 * nodelab.MINUTE, async () =>
        (await available()) === 2 ? true : undefined,
      );
      const { stdout: placed } = await kubectl(
        'get',
        'pods',
        '-l',
        `app=${SURVIVOR}`,
        '-o',
        'jsonpath={.items[*].spec.nodeName}',
      );
      expect(placed.split(' ').every((n) => n === worker(2) || n === worker(3))).toBe(true);
      expect(fewest).toBeGreaterThanOrEqual(1);
      // etcd, asked on a new master: the new masters' members only. The load balancer forwards
      // to the new masters only.
      await expectControlPlane(MASTERS(UPGRADED));

      // Deleted: nothing of the cluster is left in the cloud or on the host.
      const deleted = Date.now();
      const remove = await provisioner.deleteCluster(cluster.id);
      await provisioner.runUntilIdle();
      expect((await provisioner.getJob(remove.id)).job.state).toBe('succeeded');
      for (const name of UPGRADED) await watch.stopped(name, 2 * nodelab.MINUTE);
      await nodelab.until('the load balancer torn down', nodelab.MINUTE, async () =>
        lbs?.served().size === 0 ? true : undefined,
      );
      const deleteMs = Date.now() - deleted;
      await sampler;
      expect(occm.proc.child.exitCode, await occm.log()).toBeNull();
      await occm.stop();
      occm = undefined;
      await watch.stop();
      watch = undefined;
      await lbs.stop();
      lbs = undefined;
      await nodelab.stopLeavingNothing(kaas, cluster.id, NAME);
      kaas = undefined;
      const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
      const s = (ms: number) => Math.round(ms / 1000);
      console.info(
        `nodelab upgrade: 3 masters + 2 workers at v${FROM} Ready ${s(createMs)} s after create ` +
          `(${mib(createdRss)} MiB resident); upgrade to v${TO} (3 masters, 2 workers replaced) ` +
          `${s(upgradeMs)} s, fewest ${SURVIVOR} pods available ${fewest}; delete ${s(deleteMs)} s; ` +
          `peak ${mib(peak.bytes)} MiB resident over ${peak.nodes} nodes`,
      );
    },
    20 * nodelab.MINUTE,
  );
});
