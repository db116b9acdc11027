/**
 * Provisioning benchmark on cloudsim: one master and 100 workers with 200 ms API latency and 30 s
 * server boot time. Prints the wall time, the critical path (what no scheduler can beat: master-0
 * boots, then the workers boot, plus the API round trips of the longest dependency chain measured
 * from the job's own step timings) and their ratio (goal ≤ 1.2), the API calls per node and the
 * process's peak memory.
 * Run: npx tsx bench/provision.ts [workers] [latencyMs] [bootMs]
 */
import { DEFAULT_RELEASE } from '../src/versions/index.ts';
import { benchSetup, benchSpec, criticalPathMs } from './support.ts';

const workers = Number(process.argv[2] ?? 100);
const latencyMs = Number(process.argv[3] ?? 200);
const bootMs = Number(process.argv[4] ?? 30_000);

const { sim, provisioner, close } = await benchSetup({ servers: workers + 1, latencyMs, bootMs });
try {
  const { job } = await provisioner.createCluster(benchSpec({ version: DEFAULT_RELEASE.patch, workers }), {
    waitForApi: false,
  });
  sim.stats.reset();
  const started = Date.now();
  await provisioner.runUntilIdle();
  const wallMs = Date.now() - started;
  const view = await provisioner.getJob(job.id);
  if (view.job.state !== 'succeeded') throw new Error(`job ${view.job.state}: ${view.job.error?.message}`);

  const plan = (view.job.input as { steps: Parameters<typeof criticalPathMs>[0] }).steps;
  const criticalMs = criticalPathMs(plan, view.steps, { bootMs, latencyMs });
  const floorMs = 2 * bootMs;
  console.log(`workers=${workers} latency=${latencyMs}ms boot=${bootMs}ms`);
  console.log(`wall time            ${(wallMs / 1000).toFixed(1)} s`);
  console.log(
    `critical path        ${(criticalMs / 1000).toFixed(1)} s (boot floor ${(floorMs / 1000).toFixed(0)} s)`,
  );
  console.log(`wall / critical path ${(wallMs / criticalMs).toFixed(2)} (goal <= 1.2)`);
  console.log(`wall / boot floor    ${(wallMs / floorMs).toFixed(2)}`);
  console.log(`API calls            ${sim.stats.total} ${JSON.stringify(sim.stats.byService)}`);
  console.log(`API calls per node   ${(sim.stats.total / (workers + 1)).toFixed(2)}`);
  // One process holds kaas and cloudsim, so this is an upper bound on kaas's own peak.
  console.log(
    `peak RSS             ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB (kaas + cloudsim)`,
  );
} finally {
  await close();
}
