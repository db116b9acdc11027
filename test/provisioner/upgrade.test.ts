/**
 * Rolling replacement of worker groups (planUpgrade's worker steps) on kubelab + cloudsim: a
 * cluster created one minor behind the default gets replacement servers booted with the new
 * version's user data, whose Nodes (registered by the booting-node stand-in from that user data)
 * report the new kubelet version; the old nodes are drained through the real API, honouring a
 * PodDisruptionBudget, and their servers and Node objects removed. A drain the budget blocks fails
 * the job at that step; `retry` continues from it. The process is killed after every remaining
 * step in turn and the rollout completes on restart with no duplicate servers.
 *
 * This single-master cluster has no load balancer, so upgradeCluster refuses it
 * (`upgrade_not_supported`, tested in cloudsim.test.ts and api.test.ts); this suite queues the
 * worker half of the plan directly (queueWorkerRollout). The whole upgrade, masters first, is
 * masters.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tagsFor } from '../../src/cluster/names.ts';
import { defaultPatch, previousPatch } from '../../src/dev/kube/binaries.ts';
import { getNode, isReady } from '../kubelab/nodes.ts';
import { killAfterEachStep, provisionForUpgrade, STAGING_STEPS, type ClusterLab } from './clusterlab.ts';
import { cloudsimSuite, queueWorkerRollout } from './support.ts';
import { runningWeb, webBehindBudget } from '../kubelab/workloads.ts';

const suite = cloudsimSuite();
const NAME = 'up';
const TO = defaultPatch();
const FROM = previousPatch();
const worker = (i: number) => `kaas-${NAME}-default-${i}`;
let c: ClusterLab;

beforeAll(async () => {
  c = await provisionForUpgrade(suite, NAME, {
    nodeGroups: [{ name: 'default', count: 3, flavor: 'm1.small', maxSurge: 2 }],
  });
}, 180_000);

afterAll(async () => {
  await c?.stop();
});

describe('rolling replacement of a worker group', () => {
  it('replaces every worker with one on the new version, draining under a PDB, resuming by retry after a failed drain and surviving a kill after each step', async () => {
    // Three web replicas, all on worker 0, and a budget that lets only one be down at a time: a
    // drain that ignored the budget would take all three down at once.
    for (const n of [1, 2]) await c.lab.kubectl(['cordon', worker(n)]);
    await c.lab.kubectl(['apply', '-f', '-'], {
      input: webBehindBudget(3, 3),
    });
    await c.lab.waitFor(
      'web on worker 0',
      async () => (await runningWeb(c.lab)).filter((p) => p.spec?.nodeName === worker(0)).length === 3,
      60_000,
    );
    for (const n of [1, 2]) await c.lab.kubectl(['uncordon', worker(n)]);
    const oldServers = await suite.cloud.nova.listServers({ tags: tagsFor(c.clusterId) });

    const { id, stepIds } = await queueWorkerRollout({
      store: c.store,
      cloud: suite.cloud,
      clusterId: c.clusterId,
      to: TO,
    });
    expect(stepIds).toEqual([
      ...STAGING_STEPS,
      'roll:default:0',
      'roll-ready:default:0',
      `drain:${worker(0)}`,
      `delete-server:${worker(0)}`,
      `delete-node:${worker(0)}`,
      `drain:${worker(1)}`,
      `delete-server:${worker(1)}`,
      `delete-node:${worker(1)}`,
      'roll:default:1',
      'roll-ready:default:1',
      `drain:${worker(2)}`,
      `delete-server:${worker(2)}`,
      `delete-node:${worker(2)}`,
      'addons',
    ]);

    // While the budget allows no disruption the drain fails clearly, after the replacements booted.
    const blocked = c.provisioner({ concurrency: 1, drainTimeoutMs: 1_500 });
    await blocked.runUntilIdle();
    const failed = await blocked.getJob(id);
    expect(failed.job.state).toBe('failed');
    expect(failed.job.error).toMatchObject({ stepId: `drain:${worker(0)}`, code: 'drain_timeout' });
    const names = async () =>
      (await suite.cloud.nova.listServers({ tags: tagsFor(c.clusterId) })).map((s) => s.name).sort();
    expect(await names()).toEqual([...[0, 1, 2, 3, 4].map(worker), `kaas-${NAME}-master-0`]);
    expect((await runningWeb(c.lab)).length).toBe(3);
    await c.lab.kubectl(['patch', 'pdb', 'web', '--type=merge', '-p', '{"spec":{"minAvailable":2}}']);
    await blocked.retryJob(c.clusterId, id);
    const resumedAt = stepIds.indexOf(`drain:${worker(0)}`);

    // Watch the budget's workload the whole time.
    let fewest = 3;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        fewest = Math.min(fewest, (await runningWeb(c.lab)).length);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    // Each run dies right after checkpointing a step no earlier run died after.
    let killed: string[];
    try {
      killed = await killAfterEachStep(c, suite.cloud, { maxRuns: stepIds.length + 1 });
    } finally {
      watching = false;
      await watcher;
    }
    expect(killed).toEqual(stepIds.slice(resumedAt));
    const view = await c.provisioner().getJob(id);
    expect(view.job.state, JSON.stringify(view.job.error)).toBe('succeeded');

    // Old servers and their Nodes are gone; the replacements took indexes 3..5.
    const servers = await suite.cloud.nova.listServers({ tags: tagsFor(c.clusterId) });
    expect(servers.map((s) => s.name).sort()).toEqual([
      worker(3),
      worker(4),
      worker(5),
      `kaas-${NAME}-master-0`,
    ]);
    const oldIds = new Set(oldServers.filter((s) => s.name !== `kaas-${NAME}-master-0`).map((s) => s.id));
    expect(servers.some((s) => oldIds.has(s.id))).toBe(false);
    expect(servers.find((s) => s.name === worker(3))?.metadata).toMatchObject({
      'kaas-group': 'default',
      'kaas-index': '3',
    });
    await c.nodes.sync();
    for (const n of [0, 1, 2]) expect(await getNode(c.lab, worker(n))).toBeUndefined();
    for (const n of [3, 4, 5]) {
      const node = await getNode(c.lab, worker(n));
      expect(isReady(node), worker(n)).toBe(true);
      expect(node?.status?.nodeInfo?.kubeletVersion).toBe(`v${TO}`);
    }
    expect((await getNode(c.lab, `kaas-${NAME}-master-0`))?.status?.nodeInfo?.kubeletVersion).toBe(
      `v${FROM}`,
    );

    // The drain evicted the web pods one at a time: never fewer than the budget's two.
    expect(view.steps.find((s) => s.stepId === `drain:${worker(0)}`)?.output).toMatchObject({
      drained: true,
    });
    expect(fewest).toBeGreaterThanOrEqual(2);
    await c.lab.waitFor('web back to 3 running replicas on new workers', async () => {
      const pods = await runningWeb(c.lab);
      return pods.length === 3 && pods.every((p) => [3, 4, 5].map(worker).includes(p.spec?.nodeName ?? ''));
    });
  }, 180_000);
});
