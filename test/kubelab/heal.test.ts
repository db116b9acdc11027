/**
 * Auto-healing on kubelab + cloudsim: a cluster the provisioner created (three workers whose Nodes
 * the booting-node stand-in registers and kwok keeps Ready), watched by the production healer in
 * the production worker loop, which also runs the heal jobs. A worker whose kubelet "dies" (kwok
 * stops renewing its Node, Ready turns False) is replaced: drained through the real API, its server
 * and Node deleted, a new server booted whose Node joins Ready. Two of three down at once, or the
 * switch off, and nothing is replaced. A heal job killed after each of its steps completes on
 * restart with no server twice, while the healer waits for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEAL_DEFAULTS } from '../../src/cluster/heal.ts';
import type { ClusterSpec } from '../../src/cluster/spec.ts';
import type { Provisioner } from '../../src/provisioner/provisioner.ts';
import { findProvisionedCluster } from '../../src/store/findProvisionedCluster.ts';
import {
  killAfterEachStep,
  provisionOnKubelab,
  STAGING_STEPS,
  waitForApiFromNowOn,
  type ClusterLab,
} from '../provisioner/clusterlab.ts';
import { cloudsimSuite } from '../provisioner/support.ts';
import { healingLab, LAB_HEAL } from './healing.ts';
import { getNode, isReady, stopNodeRenewal, waitForReadyNodes } from './nodes.ts';
import { runningWeb, webBehindBudget } from './workloads.ts';

const suite = cloudsimSuite();
const NAME = 'heal';
const { unhealthyAfterSeconds: UNHEALTHY_AFTER_S, pollMs: POLL_MS, drainMs: DRAIN_MS } = LAB_HEAL;
const worker = (i: number) => `kaas-${NAME}-default-${i}`;
let c: ClusterLab;
let p: Provisioner;
const { startWorker, stopWorker, within, jobs, servers, condition, audit, pastUnhealthyAfter, untilReason } =
  healingLab(suite, () => ({ c, p }));

beforeAll(async () => {
  c = await provisionOnKubelab(suite, {
    name: NAME,
    workers: 3,
    spec: {
      masterUnhealthyAfterSeconds: UNHEALTHY_AFTER_S,
      nodeGroups: [
        { name: 'default', count: 3, flavor: 'm1.small', unhealthyAfterSeconds: UNHEALTHY_AFTER_S },
      ],
    },
  });
  await waitForApiFromNowOn(c);
  p = c.provisioner({ drainTimeoutMs: DRAIN_MS });
}, 180_000);

afterAll(async () => {
  await stopWorker();
  await c?.stop();
});

const workers = async () => (await servers()).filter((n) => n.includes('-default-'));

/**
 * Brings workers' kubelets back: their Nodes are deleted and registered again, and kwok keeps them
 * Ready. The healer is stopped meanwhile: a Node registered again but not Ready yet, next to one
 * not registered yet, would look like one unhealthy worker past its time, which it would replace.
 */
async function revive(names: string[]): Promise<void> {
  await stopWorker();
  for (const name of names) await c.lab.request('DELETE', `/api/v1/nodes/${name}`);
  await waitForReadyNodes(c.lab, names, 60_000);
  await startWorker();
}

describe('auto-healing on a real control plane', () => {
  it('replaces a worker NotReady for unhealthyAfter: drained, its server and Node gone, a new Node Ready; events and audit recorded', async () => {
    await startWorker();
    await untilReason('Healthy');
    // Two web pods on worker 1 behind a budget that never lets one go: a drain that waited for it
    // would never end.
    for (const n of [0, 2]) await c.lab.kubectl(['cordon', worker(n)]);
    await c.lab.kubectl(['apply', '-f', '-'], { input: webBehindBudget(2, 2) });
    await c.lab.waitFor(
      'web on worker 1',
      async () => (await runningWeb(c.lab)).filter((p) => p.spec?.nodeName === worker(1)).length === 2,
      60_000,
    );
    for (const n of [0, 2]) await c.lab.kubectl(['uncordon', worker(n)]);
    await stopNodeRenewal(c.lab, worker(1));
    expect(isReady(await getNode(c.lab, worker(1)))).toBe(false);

    const tookMs = await within(60_000, 'a heal job queued', async () => (await jobs())[0]?.kind === 'heal');
    console.log(
      `heal: replacement queued ${tookMs} ms after the Node went NotReady (unhealthyAfter ${UNHEALTHY_AFTER_S} s, poll ${POLL_MS} ms)`,
    );
    // First seen within one poll of going NotReady, replaced at the first poll after unhealthyAfter.
    expect(tookMs).toBeLessThanOrEqual(UNHEALTHY_AFTER_S * 1000 + 2 * POLL_MS + 5_000);
    expect(tookMs).toBeGreaterThanOrEqual(UNHEALTHY_AFTER_S * 1000 - 500);
    const job = (await jobs())[0]!;
    await within(120_000, 'the heal job finished', async () =>
      ['succeeded', 'failed'].includes((await jobs())[0]?.state ?? ''),
    );
    const view = await p.getJob(job.id);
    expect(view.job.state, JSON.stringify(view.job.error)).toBe('succeeded');
    expect(view.steps.map((s) => s.stepId)).toEqual([
      ...STAGING_STEPS,
      `drain:${worker(1)}`,
      `delete-server:${worker(1)}`,
      `delete-node:${worker(1)}`,
      'heal:default:3',
      'heal-ready:default:3',
    ]);
    expect(view.events[0]?.message).toMatch(
      new RegExp(`^auto-heal: node ${worker(1)} of group default not Ready since .*: replacing it$`),
    );
    expect(view.events.map((e) => e.message)).toContain(`cordoned ${worker(1)}`);
    expect(view.events.map((e) => e.message)).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^drain of dead node ${worker(1)} gave up after 5 s \\(default/web-.*\\); it is removed anyway$`,
        ),
      ),
    );
    expect(await workers()).toEqual([worker(0), worker(2), worker(3)]);
    expect(await getNode(c.lab, worker(1))).toBeUndefined();
    await waitForReadyNodes(c.lab, [worker(0), worker(2), worker(3)]);
    const record = await findProvisionedCluster({ db: c.store.db, ref: c.clusterId });
    expect(record?.status).toBe('ready');
    expect((record?.spec as ClusterSpec).nodeGroups[0]?.count).toBe(3);
    expect(await audit()).toContainEqual(
      expect.objectContaining({
        action: 'cluster.heal',
        actorName: 'kaas-healer',
        target: worker(1),
        outcome: 'success',
        details: expect.objectContaining({ jobId: job.id, group: 'default', node: worker(1) }),
      }),
    );
    await untilReason('Healthy');
    expect((await p.getCluster(c.clusterId, { observe: false })).conditions).toEqual([
      { type: 'AutoHeal', status: 'True', reason: 'Healthy', message: 'every node is Ready' },
    ]);
  }, 240_000);

  it('replaces nothing when 2 of 3 workers are down at once, and says why in a condition and the audit log', async () => {
    const before = (await jobs()).length;
    await stopNodeRenewal(c.lab, worker(0));
    await stopNodeRenewal(c.lab, worker(2));
    await untilReason('TooManyUnhealthy');
    await pastUnhealthyAfter();
    expect((await jobs()).length).toBe(before);
    expect(await workers()).toEqual([worker(0), worker(2), worker(3)]);
    const shown = (await p.getCluster(c.clusterId, { observe: false })).conditions[0];
    expect(shown).toMatchObject({ type: 'AutoHeal', status: 'False', reason: 'TooManyUnhealthy' });
    expect(shown?.message).toMatch(
      /^2 of 3 nodes of group default are not Ready, more than its maxUnhealthyPercent \(40 %\)/,
    );
    expect(await audit()).toContainEqual(
      expect.objectContaining({
        action: 'cluster.heal.stopped',
        outcome: 'failure',
        details: expect.objectContaining({ reason: 'TooManyUnhealthy' }),
      }),
    );
    expect(HEAL_DEFAULTS.maxUnhealthyPercent).toBe(40);
    await revive([worker(0), worker(2)]);
    await untilReason('Healthy');
    expect((await jobs()).length).toBe(before);
  }, 120_000);

  it('does nothing with the switch off, and heals once it is back on', async () => {
    const setAutoHeal = async (on: boolean) => {
      const record = await findProvisionedCluster({ db: c.store.db, ref: c.clusterId });
      const spec = { ...(record?.spec as ClusterSpec), autoHeal: on };
      await c.store.db
        .updateTable('provisioned_clusters')
        .set({ spec: JSON.stringify(spec) })
        .where('id', '=', c.clusterId)
        .execute();
    };
    const before = (await jobs()).length;
    await setAutoHeal(false);
    await untilReason('Disabled');
    await stopNodeRenewal(c.lab, worker(0));
    await pastUnhealthyAfter();
    expect((await jobs()).length).toBe(before);
    expect(await workers()).toEqual([worker(0), worker(2), worker(3)]);
    expect(await condition()).toMatchObject({ reason: 'Disabled' });

    await setAutoHeal(true);
    await within(
      60_000,
      'a heal job queued once switched on',
      async () => (await jobs()).length === before + 1,
    );
    await within(120_000, 'the heal job succeeded', async () => (await jobs())[0]?.state === 'succeeded');
    // Index 1 was freed by the first replacement: the lowest free index.
    expect(await workers()).toEqual([worker(1), worker(2), worker(3)]);
    await waitForReadyNodes(c.lab, [worker(1), worker(2), worker(3)]);
  }, 240_000);

  it('finishes a heal job killed after each of its steps on restart, with no server twice, while the healer waits', async () => {
    // A worker that only heals: it queues the job and nothing runs it.
    await startWorker(false);
    const before = (await jobs()).length;
    await stopNodeRenewal(c.lab, worker(2));
    await within(60_000, 'a heal job queued', async () => (await jobs()).length === before + 1);
    await stopWorker();
    const healer = p.healer({ pollMs: 0 });
    const looks: string[] = [];
    const killed = await killAfterEachStep(c, suite.cloud, {
      maxRuns: 12,
      over: { drainTimeoutMs: DRAIN_MS },
      afterCheckpoint: async () => {
        for (const o of await healer.pass()) looks.push(o.action);
      },
    });
    expect(killed.length).toBeGreaterThanOrEqual(8);
    // While the job was in hand or waiting for its next run, the healer never acted.
    expect(new Set(looks)).toEqual(new Set(['waiting']));
    expect((await jobs()).map((j) => j.state)[0]).toBe('succeeded');
    expect((await jobs()).length).toBe(before + 1);
    expect(await workers()).toEqual([worker(0), worker(1), worker(3)]);
    await waitForReadyNodes(c.lab, [worker(0), worker(1), worker(3)]);
    // And once it is done, a healer looking again finds nothing to do.
    await startWorker();
    await untilReason('Healthy');
    expect((await jobs()).length).toBe(before + 1);
  }, 300_000);

  it('never replaces the single master: a condition says why, and the audit log records the stop', async () => {
    const master = `kaas-${NAME}-master-0`;
    const before = (await jobs()).length;
    await stopNodeRenewal(c.lab, master);
    await untilReason('SingleMaster');
    await pastUnhealthyAfter();
    expect((await jobs()).length).toBe(before);
    expect((await servers()).filter((n) => n.includes('-master-'))).toEqual([master]);
    const shown = (await p.getCluster(c.clusterId, { observe: false })).conditions[0];
    expect(shown).toMatchObject({ type: 'AutoHeal', status: 'False', reason: 'SingleMaster' });
    expect(shown?.message).toContain(`master ${master} (Ready=False (KubeletNotReady`);
    expect(shown?.message).toContain('a single master cannot be replaced without losing etcd');
    expect(await audit()).toContainEqual(
      expect.objectContaining({
        action: 'cluster.heal.stopped',
        details: expect.objectContaining({ reason: 'SingleMaster' }),
      }),
    );
    await revive([master]);
    await untilReason('Healthy');
    expect((await jobs()).length).toBe(before);
  }, 120_000);
});
