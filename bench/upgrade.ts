/**
 * Rolling-upgrade benchmark on cloudsim: a cluster of one master and 50 workers (maxSurge 5) with
 * 200 ms API latency and 10 s server boot time rolls its workers onto the next minor by replacement.
 * Prints the wall time of the rollout, its critical path (bench/support.ts) and their ratio, the boot
 * floor (one boot per batch), and the API calls. The cluster has no reachable Kubernetes API here,
 * so drains and Node waits are skipped with warnings; the rollout's cost is the cloud's. The control
 * plane is not replaced (kaas refuses upgrades for that reason, see docs/provisioner.md), so the
 * worker part of the plan is queued directly.
 * Run: npx tsx bench/upgrade.ts [workers] [maxSurge] [latencyMs] [bootMs]
 */
import { tagsFor } from '../src/cluster/names.ts';
import { KUBERNETES_RELEASES } from '../src/versions/index.ts';
import { queueWorkerRollout } from '../test/provisioner/releases.ts';
import { benchSetup, benchSpec, criticalPathMs } from './support.ts';

const workers = Number(process.argv[2] ?? 50);
const maxSurge = Number(process.argv[3] ?? 5);
const latencyMs = Number(process.argv[4] ?? 200);
const bootMs = Number(process.argv[5] ?? 10_000);
const [from, to] = KUBERNETES_RELEASES as unknown as [{ patch: string }, { patch: string }];

const { sim, store, cloud, provisioner, close } = await benchSetup({
  servers: workers + maxSurge + 1,
  latencyMs,
  bootMs,
});
try {
  const { cluster } = await provisioner.createCluster(benchSpec({ version: from.patch, workers, maxSurge }), {
    waitForApi: false,
  });
  await provisioner.runUntilIdle();
  const rollout = await queueWorkerRollout({ store, cloud, clusterId: cluster.id, to: to.patch });
  sim.stats.reset();
  const started = Date.now();
  await provisioner.runUntilIdle();
  const wallMs = Date.now() - started;
  const view = await provisioner.getJob(rollout.id);
  if (view.job.state !== 'succeeded') throw new Error(`job ${view.job.state}: ${view.job.error?.message}`);
  const after = await cloud.nova.listServers({ tags: tagsFor(cluster.id) });
  const replaced = after.filter((s) => Number(s.metadata['kaas-index']) >= workers).length;
  if (after.length !== workers + 1 || replaced !== workers) {
    throw new Error(`expected ${workers} replaced workers, found ${replaced} of ${after.length - 1}`);
  }

  const plan = (view.job.input as { steps: Parameters<typeof criticalPathMs>[0] }).steps;
  const criticalMs = criticalPathMs(plan, view.steps, { bootMs, latencyMs });
  const batches = Math.ceil(workers / maxSurge);
  const floorMs = batches * bootMs;
  console.log(
    `workers=${workers} maxSurge=${maxSurge} latency=${latencyMs}ms boot=${bootMs}ms ${from.patch} -> ${to.patch}`,
  );
  console.log(`wall time            ${(wallMs / 1000).toFixed(1)} s`);
  console.log(
    `critical path        ${(criticalMs / 1000).toFixed(1)} s (boot floor ${(floorMs / 1000).toFixed(0)} s: ${batches} batches)`,
  );
  console.log(`wall / critical path ${(wallMs / criticalMs).toFixed(2)}`);
  console.log(`wall / boot floor    ${(wallMs / floorMs).toFixed(2)}`);
  console.log(`API calls            ${sim.stats.total} ${JSON.stringify(sim.stats.byService)}`);
} finally {
  await close();
}
