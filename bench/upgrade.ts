/**
 * Rolling-upgrade benchmark on cloudsim + kubelab: a cluster of one master and 50 workers
 * (maxSurge 5) rolls its workers onto the default release by replacement, with 200 ms cloud API
 * latency and 10 s server boot time. Its Kubernetes API is a real kubelab control plane whose Nodes
 * are kwok's, registered by the booting-node stand-in from each server's user data
 * (test/provisioner/clusterlab.ts, as upgrade.test.ts uses it): every batch waits for its new Nodes
 * to be Ready by name and drains the old ones through the API, evicting a Deployment's pods under a
 * PodDisruptionBudget. Prints the rollout's wall time, its critical path (bench/support.ts) and their
 * ratio, the boot floor (one boot per batch), the cloud API calls and what the drains evicted.
 * upgradeCluster replaces the masters first, one at a time, and only on clusters with an API load
 * balancer (docs/provisioner.md); this single-master cluster has none, so the worker half of the
 * plan is queued directly (queueWorkerRollout), as upgrade.test.ts does.
 * Needs kubelab's binaries (bash test/kubelab/build.sh).
 * Run: npx tsx bench/upgrade.ts [workers] [maxSurge] [latencyMs] [bootMs]
 */
import { Agent } from 'undici';
import { tagsFor } from '../src/cluster/names.ts';
import { startCloudsim } from '../src/cloudsim/index.ts';
import { createCloud } from '../src/openstack/index.ts';
import { adminConfig } from '../test/support/openstack.ts';
import { defaultPatch, previousPatch } from '../src/dev/kube/binaries.ts';
import { getNode, isReady } from '../test/kubelab/nodes.ts';
import { runningWeb, webBehindBudget } from '../test/kubelab/workloads.ts';
import { labApiDeps, provisionForUpgrade, waitForApiFromNowOn } from '../test/provisioner/clusterlab.ts';
import {
  logger,
  provisionerStore,
  queueWorkerRollout,
  testCloud,
  testWebhook,
} from '../test/provisioner/support.ts';
import { criticalPathMs } from './support.ts';

const workers = Number(process.argv[2] ?? 50);
const maxSurge = Number(process.argv[3] ?? 5);
const latencyMs = Number(process.argv[4] ?? 200);
const bootMs = Number(process.argv[5] ?? 10_000);
const [from, to] = [previousPatch(), defaultPatch()];
const worker = (i: number) => `kaas-bench-w-${i}`;

const n = workers + maxSurge + 10;
// Created fast (no latency, 20 ms boots): the measured part is the rollout.
const sim = await startCloudsim({
  port: 0,
  bootTimeMs: 20,
  quotas: { instances: n, cores: n * 2, ram: n * 4096, ports: n * 2 + 30 },
});
const store = await provisionerStore();
const cloud = testCloud(sim);
const suite = { cloud, webhook: await testWebhook(), store: async () => store };
// The node stand-in polls the cloud too: its requests are counted apart from kaas's.
let standInCalls = 0;
const counting = new Agent().compose((dispatch) => (options, handler) => {
  standInCalls++;
  return dispatch(options, handler);
});
const standInCloud = createCloud({ config: adminConfig(sim.authUrl), logger, dispatcher: counting });
const c = await provisionForUpgrade(
  suite,
  'bench',
  { nodeGroups: [{ name: 'w', count: workers, flavor: 'm1.small', maxSurge }] },
  { standInCloud },
);
try {
  // Two pods per worker; the budget lets only maxSurge of them be down at once, fewer than a
  // batch's drains evict. kwok runs the replacements within moments, so refusals are rare (counted).
  const replicas = 2 * workers;
  await c.lab.kubectl(['apply', '-f', '-'], { input: webBehindBudget(replicas, replicas - maxSurge) });
  await c.lab.waitFor(
    `${replicas} web pods running`,
    async () => (await runningWeb(c.lab)).length === replicas,
    120_000,
  );
  await waitForApiFromNowOn(c);
  const rollout = await queueWorkerRollout({ store, cloud, clusterId: c.clusterId, to });
  sim.knobs.latencyMs = latencyMs;
  sim.knobs.bootTimeMs = bootMs;
  sim.stats.reset();
  standInCalls = 0;
  const provisioner = c.provisioner({
    ...labApiDeps(c),
    serverConcurrency: 20,
    pollIntervalMs: 1_000,
    drainTimeoutMs: 120_000,
    waitTimeoutMs: 300_000,
  });
  const started = Date.now();
  await provisioner.runUntilIdle();
  const wallMs = Date.now() - started;
  const calls = { total: sim.stats.total, standIn: standInCalls };
  sim.knobs.latencyMs = 0;

  const view = await provisioner.getJob(rollout.id);
  if (view.job.state !== 'succeeded') throw new Error(`job ${view.job.state}: ${view.job.error?.message}`);
  // Nothing was skipped: every Node wait, drain and Node removal went through the API.
  const output = (prefix: string) =>
    view.steps.filter((s) => s.stepId.startsWith(prefix)).map((s) => s.output as Record<string, unknown>);
  const skipped = [
    ...output('roll-ready:').filter((o) => 'skipped' in o),
    ...output('drain:').filter((o) => o.drained !== true),
    ...output('delete-node:').filter((o) => o.deleted !== true),
  ];
  if (skipped.length > 0) throw new Error(`steps that did not reach the API: ${JSON.stringify(skipped)}`);
  const after = await cloud.nova.listServers({ tags: tagsFor(c.clusterId) });
  const replaced = after.filter((s) => Number(s.metadata['kaas-index']) >= workers).length;
  if (after.length !== workers + 1 || replaced !== workers) {
    throw new Error(`expected ${workers} replaced workers, found ${replaced} of ${after.length - 1}`);
  }
  await c.nodes.sync();
  for (let i = 0; i < workers; i++) {
    if (await getNode(c.lab, worker(i))) throw new Error(`old Node ${worker(i)} is still registered`);
    const node = await getNode(c.lab, worker(workers + i));
    if (!isReady(node) || node?.status?.nodeInfo?.kubeletVersion !== `v${to}`) {
      throw new Error(`${worker(workers + i)} is not a Ready v${to} Node`);
    }
  }
  const drains = output('drain:');
  const evicted = drains.reduce((sum, o) => sum + ((o.evicted as string[] | undefined)?.length ?? 0), 0);
  const refusals = view.events.filter((e) => /PodDisruptionBudget/.test(e.message)).length;

  const plan = (view.job.input as { steps: Parameters<typeof criticalPathMs>[0] }).steps;
  const criticalMs = criticalPathMs(plan, view.steps, { bootMs, latencyMs });
  const batches = Math.ceil(workers / maxSurge);
  const floorMs = batches * bootMs;
  console.log(
    `workers=${workers} maxSurge=${maxSurge} latency=${latencyMs}ms boot=${bootMs}ms ${from} -> ${to} (kubelab + kwok)`,
  );
  console.log(`wall time            ${(wallMs / 1000).toFixed(1)} s`);
  console.log(
    `critical path        ${(criticalMs / 1000).toFixed(1)} s (boot floor ${(floorMs / 1000).toFixed(0)} s: ${batches} batches)`,
  );
  console.log(`wall / critical path ${(wallMs / criticalMs).toFixed(2)}`);
  console.log(`wall / boot floor    ${(wallMs / floorMs).toFixed(2)}`);
  console.log(
    `API calls            ${calls.total - calls.standIn} by kaas (${calls.total} in all, ${calls.standIn} the node stand-in's polling)`,
  );
  console.log(
    `drains               ${drains.length} nodes, ${evicted} pods evicted, ${refusals} PodDisruptionBudget refusals retried`,
  );
} finally {
  await c.stop();
  await store.close();
  await sim.close();
}
