/**
 * Issue 14's upgrade, end to end on kubelab + cloudsim: a cluster of 3 masters behind Octavia and
 * 3 workers, created one minor behind the default, is upgraded to the default by upgradeCluster.
 * The masters are replaced first, one at a time: kaas points kubeadm-config at the new version,
 * uploads kubeadm-certs sealed with the job's own certificate key, boots the replacement with
 * `join-control-plane` user data (the booting-node stand-in opens the certificates with that key,
 * checks the version and joins the cluster's real etcd as kubeadm would), waits for its Node and its
 * etcd member, then takes the old master out of the load balancer and out of etcd through the
 * cluster's API (etcdThroughApi over kwok port-forwards to a real 3-member etcd), drains it and
 * deletes its server, port and Node. Then the workers roll under a PodDisruptionBudget. A first run
 * that cannot reach etcd fails waiting for the new member, removing nothing; `retry` continues from
 * there, and the process is killed after every remaining step in turn and the upgrade completes on restart with no duplicate
 * servers; etcd keeps quorum throughout and has three healthy members after each master.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterNames, tagsFor } from '../../src/cluster/names.ts';
import type { ClusterSpec } from '../../src/cluster/spec.ts';
import { quorumOf } from '../../src/provisioner/etcd.ts';
import { etcdThroughApi } from '../../src/provisioner/etcdroute.ts';
import { defaultPatch, previousPatch } from '../../src/dev/kube/binaries.ts';
import { freePort } from '../../src/dev/kube/ports.ts';
import { getNode, isReady } from '../kubelab/nodes.ts';
import { runningWeb, webBehindBudget } from '../kubelab/workloads.ts';
import {
  etcdHealthOf,
  installKubeadmAddons,
  killAfterEachStep,
  labApiDeps,
  waitForApiFromNowOn,
  provisionForUpgrade,
  type ClusterLab,
} from './clusterlab.ts';
import { cloudsimSuite } from './support.ts';

const suite = cloudsimSuite();
const NAME = 'hm';
const TO = defaultPatch();
const FROM = previousPatch();
const names = clusterNames(NAME);
let c: ClusterLab;

beforeAll(async () => {
  c = await provisionForUpgrade(
    suite,
    NAME,
    {
      masters: 3,
      loadBalancer: 'octavia',
      nodeGroups: [{ name: 'default', count: 3, flavor: 'm1.small', maxSurge: 1 }],
    },
    { etcd: true },
  );
  // kube-proxy and CoreDNS as the real kubeadm init deploys them on this version.
  await installKubeadmAddons(c.lab, FROM, names.master(0));
  await waitForApiFromNowOn(c);
}, 240_000);

afterAll(async () => {
  await c?.stop();
});

const labDeps = () => labApiDeps(c);
const etcdHealth = () => etcdHealthOf(c);

describe('upgrade of a 3-master cluster by replacement', () => {
  it('replaces every master then every worker onto the new version, keeping etcd quorum and the PDB, across a kill after each step', async () => {
    const oldServers = await suite.cloud.nova.listServers({ tags: tagsFor(c.clusterId) });
    expect(oldServers.map((s) => s.name).sort()).toEqual(
      [...[0, 1, 2].map(names.master), ...[0, 1, 2].map((i) => names.worker('default', i))].sort(),
    );
    expect((await etcdHealth()).map((m) => m.name).sort()).toEqual([0, 1, 2].map(names.master));

    await c.lab.kubectl(['apply', '-f', '-'], { input: webBehindBudget(3, 2) });
    await c.lab.waitFor('3 web replicas running', async () => (await runningWeb(c.lab)).length === 3, 60_000);

    const job = await c.provisioner(labDeps()).upgradeCluster(NAME, TO);
    expect(job?.kind).toBe('upgrade');
    const stepIds = (await c.provisioner().getJob(job!.id)).steps.map((s) => s.stepId);
    expect(stepIds.filter((id) => /^master-\d+$/.test(id))).toEqual(['master-3', 'master-4', 'master-5']);

    // A kaas that cannot reach etcd boots the first replacement but removes no master: the job fails
    // waiting for the new member, the old masters untouched; `retry` continues from that step.
    const closed = `https://127.0.0.1:${await freePort()}`;
    const blind = c.provisioner({
      ...labDeps(),
      concurrency: 1,
      waitTimeoutMs: 8_000,
      etcdClient: (o) => etcdThroughApi({ ...o, access: { ...o.access, server: closed }, timeoutMs: 1_000 }),
    });
    await blind.runUntilIdle();
    const failed = await blind.getJob(job!.id);
    expect(failed.job.state).toBe('failed');
    expect(failed.job.error).toMatchObject({
      stepId: `etcd-joined:${names.master(3)}`,
      code: 'etcd_member_not_ready',
    });
    expect((await etcdHealth()).map((m) => m.name).sort()).toEqual([0, 1, 2, 3].map(names.master));
    expect(
      (await suite.cloud.nova.listServers({ tags: tagsFor(c.clusterId) })).map((s) => s.name).sort(),
    ).toEqual(
      [...[0, 1, 2, 3].map(names.master), ...[0, 1, 2].map((i) => names.worker('default', i))].sort(),
    );
    await blind.retryJob(NAME, job!.id);
    const resumedAt = stepIds.indexOf(`etcd-joined:${names.master(3)}`);

    // Watch the budget's workload and etcd's quorum the whole time; writes through the running
    // members, as the API servers make them, must all go through.
    const writer = c.etcd!.keepWriting();
    let fewestWeb = 3;
    const quorumLost: string[] = [];
    let leaderlessSince: number | undefined;
    let longestLeaderlessMs = 0;
    let watching = true;
    // A read that missed a member (a health request timing out on a loaded machine) is noise; lost
    // quorum persists, so it counts once two reads in a row saw it.
    let suspect: string | undefined;
    const watcher = (async () => {
      while (watching) {
        fewestWeb = Math.min(fewestWeb, (await runningWeb(c.lab)).length);
        const health = await etcdHealth().catch((e: Error) => e);
        let short: string | undefined;
        if (health instanceof Error) short = `etcd unreadable: ${health.message}`;
        else {
          // Quorum: a majority of the voting members is up. Right after the leader's removal the
          // others answer /health false until they elected a new leader: that window is measured,
          // not counted as lost quorum.
          const voters = health.filter((m) => !m.isLearner);
          const up = voters.filter((m) => m.healthy || /leader/i.test(m.reason ?? '')).length;
          if (up < quorumOf(voters.length))
            short = `${new Date().toISOString()} ${up} of ${voters.length} up: ${health.map((m) => `${m.name}=${m.healthy ? 'ok' : m.reason}`).join(', ')}`;
          const leaderless = voters.some((m) => /leader/i.test(m.reason ?? ''));
          if (leaderless) leaderlessSince ??= Date.now();
          else if (leaderlessSince !== undefined) {
            longestLeaderlessMs = Math.max(longestLeaderlessMs, Date.now() - leaderlessSince);
            leaderlessSince = undefined;
          }
        }
        if (short !== undefined && suspect !== undefined) quorumLost.push(suspect, short);
        suspect = short;
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    // After each master: etcd has three healthy members, the new one among them, the old one gone.
    const afterMaster: Record<string, string[]> = {};
    let killed: string[];
    try {
      killed = await killAfterEachStep(c, suite.cloud, {
        maxRuns: stepIds.length + 1,
        over: labDeps(),
        afterCheckpoint: async (stepId) => {
          if (!stepId.startsWith(`delete-port:${names.master(0).slice(0, -1)}`)) return;
          const health = await etcdHealth();
          expect(
            health.every((m) => m.healthy),
            JSON.stringify(health),
          ).toBe(true);
          afterMaster[stepId] = health.map((m) => m.name).sort();
        },
      });
    } finally {
      watching = false;
      await watcher;
    }
    const written = await writer.stop();
    const view = await c.provisioner().getJob(job!.id);
    expect(view.job.state, JSON.stringify(view.job.error)).toBe('succeeded');
    expect(killed).toEqual(stepIds.slice(resumedAt));

    expect(afterMaster).toEqual({
      [`delete-port:${names.master(0)}`]: [1, 2, 3].map(names.master),
      [`delete-port:${names.master(1)}`]: [2, 3, 4].map(names.master),
      [`delete-port:${names.master(2)}`]: [3, 4, 5].map(names.master),
    });
    expect(quorumLost).toEqual([]);
    console.log(`etcd writes during the upgrade: ${written.writes}, failed: ${written.failures.length}`);
    expect(written.failures).toEqual([]);
    expect(written.writes).toBeGreaterThan(100);
    console.log(`longest etcd leader election window seen: ${longestLeaderlessMs} ms`);
    expect(leaderlessSince).toBeUndefined();
    expect(longestLeaderlessMs).toBeLessThan(10_000);
    expect(fewestWeb).toBeGreaterThanOrEqual(2);

    // Old servers, ports, load-balancer members and Nodes are gone; every Node runs the new kubelet.
    const servers = await suite.cloud.nova.listServers({ tags: tagsFor(c.clusterId) });
    const fresh = [...[3, 4, 5].map(names.master), ...[3, 4, 5].map((i) => names.worker('default', i))];
    expect(servers.map((s) => s.name).sort()).toEqual(fresh.sort());
    expect(servers.some((s) => oldServers.some((o) => o.id === s.id))).toBe(false);
    expect(servers.find((s) => s.name === names.master(3))?.metadata).toMatchObject({
      'kaas-role': 'master',
      'kaas-index': '3',
    });
    const ports = await suite.cloud.neutron.ports.list({ tags: tagsFor(c.clusterId) });
    expect(
      ports
        .map((p) => p.name)
        .filter((n) => n?.startsWith(`kaas-${NAME}-master-`))
        .sort(),
    ).toEqual([3, 4, 5].map(names.masterPort));
    const [lb] = await suite.cloud.octavia.listLoadBalancers({ name: names.apiLoadBalancer });
    const members = await suite.cloud.octavia.listMembers(lb!.pools[0]!.id);
    const addresses = ports
      .filter((p) => p.name?.includes('-master-'))
      .map((p) => p.fixed_ips[0]?.ip_address);
    expect(members.map((m) => m.address).sort()).toEqual(addresses.sort());
    expect(members).toHaveLength(3);
    const { body } = await c.lab.request('GET', '/api/v1/nodes');
    const nodes = (body as { items: { metadata: { name: string } }[] }).items.map((n) => n.metadata.name);
    expect(nodes.sort()).toEqual(fresh.sort());
    for (const name of fresh) {
      const node = await getNode(c.lab, name);
      expect(isReady(node), name).toBe(true);
      expect(node?.status?.nodeInfo?.kubeletVersion, name).toBe(`v${TO}`);
    }
    // etcd: exactly the new masters, healthy; kubeadm-config names the new version; the shared
    // certificates were taken away again.
    const health = await etcdHealth();
    expect(health.map((m) => [m.name, m.healthy]).sort()).toEqual(
      [3, 4, 5].map((i) => [names.master(i), true]),
    );
    const config = await c.lab.request('GET', '/api/v1/namespaces/kube-system/configmaps/kubeadm-config');
    expect((config.body as { data: Record<string, string> }).data['ClusterConfiguration']).toContain(
      `kubernetesVersion: v${TO}`,
    );
    expect((await c.lab.request('GET', '/api/v1/namespaces/kube-system/secrets/kubeadm-certs')).status).toBe(
      404,
    );
    // kubeadm's own add-ons moved with the control plane, as kubeadm upgrade apply moves them.
    const proxy = await c.lab.request('GET', '/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy');
    expect(JSON.stringify(proxy.body)).toContain(`"image":"registry.k8s.io/kube-proxy:v${TO}"`);
    expect(view.steps.find((s) => s.stepId === 'kubeadm-addons')?.output).toMatchObject({
      'kube-proxy': { from: `registry.k8s.io/kube-proxy:v${FROM}`, to: `registry.k8s.io/kube-proxy:v${TO}` },
    });
    const cluster = await c.provisioner().getCluster(NAME, { observe: false });
    expect(cluster).toMatchObject({ status: 'ready', spec: { kubernetesVersion: TO } });
    expect((cluster.spec as ClusterSpec).masters).toBe(3);
    // Each removal's output says what etcd looked like afterwards.
    expect(view.steps.find((s) => s.stepId === `etcd-remove:${names.master(0)}`)?.output).toMatchObject({
      member: names.master(0),
      members: [0, 1, 2, 3].filter((i) => i !== 0).map(names.master),
      healthy: 3,
    });
  }, 600_000);
});
