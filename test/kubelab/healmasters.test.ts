/**
 * Auto-healing of masters on kubelab + cloudsim with the cluster's real etcd (a member per master
 * behind kwok port-forwards of the masters' etcd pods, test/kubelab/etcdmasters.ts): a cluster of
 * three masters behind Octavia, watched by the production healer in the production worker loop. A
 * master whose kubelet and etcd member die is replaced by a heal job: out of the load balancer and
 * etcd first (through the cluster's API, as kaas reaches it), a master on the lowest free index
 * boots with the cluster's own version, joins the control plane (the booting-node stand-in opens
 * kubeadm-certs with the job's key and joins etcd as kubeadm would), and only then is the old one
 * drained and deleted. The job is killed after each of its steps and completes on restart with no
 * server twice; a writer through the running members sees every write go through. With another
 * member unhealthy, or two masters down, nothing is replaced and the condition says why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterNames, tagsFor } from '../../src/cluster/names.ts';
import { planHealMaster } from '../../src/cluster/plan.ts';
import type { ClusterSpec } from '../../src/cluster/spec.ts';
import type { EtcdMemberHealth } from '../../src/provisioner/etcd.ts';
import { KUBEADM_CERTS } from '../../src/provisioner/kubeadmcerts.ts';
import type { Provisioner, ProvisionerDeps } from '../../src/provisioner/provisioner.ts';
import { findProvisionedCluster } from '../../src/store/findProvisionedCluster.ts';
import {
  killAfterEachStep,
  labApiDeps,
  provisionOnKubelab,
  waitForApiFromNowOn,
  type ClusterLab,
} from '../provisioner/clusterlab.ts';
import { cloudsimSuite } from '../provisioner/support.ts';
import { healingLab, LAB_HEAL } from './healing.ts';
import { getNode, isReady, stopNodeRenewal } from './nodes.ts';
import { CONTROL_PLANE_ROLE } from '../../src/dev/kube/nodes.ts';

const suite = cloudsimSuite();
const NAME = 'hx';
const names = clusterNames(NAME);
const master = (i: number) => names.master(i);
let c: ClusterLab;
let p: Provisioner;
const { startWorker, stopWorker, within, jobs, servers, condition, audit, pastUnhealthyAfter, untilReason } =
  healingLab(suite, () => ({ c, p }));
const labDeps = (): Partial<ProvisionerDeps> => ({ ...labApiDeps(c), drainTimeoutMs: LAB_HEAL.drainMs });

beforeAll(async () => {
  c = await provisionOnKubelab(suite, {
    name: NAME,
    workers: 1,
    etcd: true,
    spec: {
      masters: 3,
      loadBalancer: 'octavia',
      masterUnhealthyAfterSeconds: LAB_HEAL.unhealthyAfterSeconds,
      nodeGroups: [{ name: 'default', count: 1, flavor: 'm1.small' }],
    },
  });
  await waitForApiFromNowOn(c);
  p = c.provisioner(labDeps());
}, 240_000);

afterAll(async () => {
  await stopWorker();
  await c?.stop();
});

const masters = async () => (await servers()).filter((n) => n.includes('-master-'));
const healthy = (health: EtcdMemberHealth[]) =>
  health
    .filter((m) => m.healthy)
    .map((m) => m.name)
    .sort();

describe('auto-healing of masters with a real etcd', () => {
  it('replaces a dead master of three, killed after each step: etcd keeps quorum and ends with three healthy members', async () => {
    // A worker that only heals: it queues the job, which the killed runs below carry out.
    await startWorker(false);
    await untilReason('Healthy');
    // The member that dies does not lead, so no election happens under the writer below.
    await c.etcd!.makeLeader(master(0));
    const downAt = Date.now();
    await stopNodeRenewal(c.lab, master(1));
    await c.etcd!.stopMember(master(1));
    await within(30_000, 'etcd healthy on the two others', async () => {
      return healthy(await c.etcd!.health()).join() === [master(0), master(2)].join();
    });
    const writer = c.etcd!.keepWriting();
    const before = (await jobs()).length;
    await within(60_000, 'a heal job queued', async () => (await jobs())[0]?.kind === 'heal');
    console.log(`heal: master replacement queued ${Date.now() - downAt} ms after its Node went NotReady`);
    await stopWorker();
    const job = (await jobs())[0]!;
    const queued = await p.getJob(job.id);
    const stepIds = queued.steps.map((s) => s.stepId);
    // The plan of a master's heal (its order is src/cluster/plan.test.ts's), for master-1 of 0, 1, 2.
    const record = await findProvisionedCluster({ db: c.store.db, ref: c.clusterId });
    expect(stepIds).toEqual(
      planHealMaster(record!.spec as ClusterSpec, c.clusterId, 1, [0, 1, 2]).map((s) => s.id),
    );
    expect(stepIds.filter((id) => /^master-\d+$/.test(id))).toEqual(['master-3']);
    expect(queued.events[0]?.message).toMatch(
      new RegExp(`^auto-heal: node ${master(1)} of group masters not Ready since .*: replacing it$`),
    );

    const healer = p.healer({ pollMs: 0 });
    const looks: string[] = [];
    let afterRemoval: string[] = [];
    const killed = await killAfterEachStep(c, suite.cloud, {
      maxRuns: stepIds.length + 1,
      over: labDeps(),
      afterCheckpoint: async (stepId) => {
        for (const o of await healer.pass()) looks.push(o.action);
        if (stepId === `etcd-remove:${master(1)}`) afterRemoval = healthy(await c.etcd!.health());
      },
    });
    const written = await writer.stop();
    const view = await p.getJob(job.id);
    expect(view.job.state, JSON.stringify(view.job.error)).toBe('succeeded');
    expect(killed).toEqual(stepIds);
    // While the job was in hand or waiting for its next run, the healer never acted.
    expect(new Set(looks)).toEqual(new Set(['waiting']));
    expect((await jobs()).length).toBe(before + 1);

    // The dead member left before any new one was added; then the new one joined healthy.
    expect(afterRemoval).toEqual([master(0), master(2)]);
    const health = await c.etcd!.health();
    expect(health.map((m) => m.name).sort()).toEqual([master(0), master(2), master(3)]);
    expect(health.every((m) => m.healthy)).toBe(true);
    console.log(`etcd writes during the master heal: ${written.writes}, failed: ${written.failures.length}`);
    expect(written.failures).toEqual([]);
    expect(written.writes).toBeGreaterThan(10);

    // The old master's server, port, load-balancer member and Node are gone; the new one serves.
    expect(await masters()).toEqual([master(0), master(2), master(3)]);
    expect(await getNode(c.lab, master(1))).toBeUndefined();
    const node = await getNode(c.lab, master(3));
    expect(isReady(node)).toBe(true);
    expect(node?.metadata.labels).toHaveProperty(CONTROL_PLANE_ROLE);
    const ports = (await suite.cloud.neutron.ports.list({ tags: tagsFor(c.clusterId) })).filter((port) =>
      port.name?.startsWith(`kaas-${NAME}-master-`),
    );
    expect(ports.map((port) => port.name).sort()).toEqual([0, 2, 3].map(names.masterPort));
    const [lb] = await suite.cloud.octavia.listLoadBalancers({ name: names.apiLoadBalancer });
    const members = await suite.cloud.octavia.listMembers(lb!.pools[0]!.id);
    expect(members.map((m) => m.address).sort()).toEqual(
      ports.map((port) => port.fixed_ips[0]?.ip_address).sort(),
    );
    const certs = await c.lab.request(
      'GET',
      `/api/v1/namespaces/${KUBEADM_CERTS.namespace}/secrets/${KUBEADM_CERTS.name}`,
    );
    expect(certs.status).toBe(404);
    expect(await audit()).toContainEqual(
      expect.objectContaining({
        action: 'cluster.heal',
        actorName: 'kaas-healer',
        target: master(1),
        details: expect.objectContaining({ jobId: job.id, group: 'masters', node: master(1) }),
      }),
    );
    expect((await findProvisionedCluster({ db: c.store.db, ref: c.clusterId }))?.status).toBe('ready');

    // And once it is done, a healer looking again finds nothing to do.
    await startWorker();
    await untilReason('Healthy');
    expect((await jobs()).length).toBe(before + 1);
  }, 600_000);

  it('replaces no master while another etcd member is unhealthy, nor while two masters are down, and says why', async () => {
    const before = (await jobs()).length;
    // master-0's kubelet dies; master-2's etcd member crashes while its Node stays Ready.
    await stopNodeRenewal(c.lab, master(0));
    await c.etcd!.stopMember(master(2));
    await untilReason('EtcdAtRisk');
    const atRisk = await condition();
    expect(atRisk).toMatchObject({ status: 'False' });
    expect(atRisk?.message).toContain(`master ${master(0)} (Ready=False (KubeletNotReady`);
    expect(atRisk?.message).toMatch(new RegExp(`etcd member\\(s\\) ${master(2)} \\(.*\\) not healthy`));
    await pastUnhealthyAfter();
    expect((await jobs()).length).toBe(before);

    await stopNodeRenewal(c.lab, master(3));
    await untilReason('TooManyUnhealthy');
    expect((await condition())?.message).toMatch(
      /^2 of 3 masters are not Ready: masters are replaced one at a time/,
    );
    await pastUnhealthyAfter();
    expect((await jobs()).length).toBe(before);
    expect(await masters()).toEqual([master(0), master(2), master(3)]);
    const stops = (await audit()).filter((e) => e.action === 'cluster.heal.stopped');
    expect(stops.map((e) => (e.details as { reason?: string }).reason)).toEqual(
      expect.arrayContaining(['EtcdAtRisk', 'TooManyUnhealthy']),
    );
  }, 180_000);
});
