/**
 * Provisioning benchmark on cloudsim: one master and 100 workers with 200 ms API latency and 30 s
 * server boot time. Prints the wall time, the critical path (what no scheduler can beat: master-0
 * boots, then the workers boot, plus the API round trips of the longest dependency chain measured
 * from the job's own step timings) and their ratio (goal ≤ 1.2), and how many API calls it took.
 * Run: npx tsx bench/provision.ts [workers] [latencyMs] [bootMs]
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCloudsim } from '../src/cloudsim/index.ts';
import { createLogger } from '../src/log.ts';
import { createCloud } from '../src/openstack/index.ts';
import { createCa } from '../src/auth/pki.ts';
import { createProvisioner } from '../src/provisioner/provisioner.ts';
import { DEFAULT_RELEASE } from '../src/versions/index.ts';
import { openStore } from '../src/store/db.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { up as panelTablesUp } from '../src/store/migrations/0005_panel.ts';

const workers = Number(process.argv[2] ?? 100);
const latencyMs = Number(process.argv[3] ?? 200);
const bootMs = Number(process.argv[4] ?? 30_000);
const logger = createLogger({ level: 'silent' });

const sim = await startCloudsim({
  port: 0,
  latencyMs,
  bootTimeMs: bootMs,
  quotas: {
    instances: workers + 10,
    cores: (workers + 10) * 2,
    ram: (workers + 10) * 4096,
    ports: workers * 2 + 50,
  },
});
const store = openStore('sqlite::memory:');
await migrateToLatest(store.db as never);
// The provisioner reports to cluster_endpoints; 0005_panel is not yet in the migrator's list.
await panelTablesUp(store.db as never);
const cloud = createCloud({
  config: {
    cloudName: 'bench',
    authType: 'password',
    auth: {
      authUrl: sim.authUrl,
      username: 'admin',
      password: 'secret',
      projectName: 'admin',
      userDomainName: 'Default',
      projectDomainName: 'Default',
    },
    interface: 'public',
    insecure: false,
    endpointOverrides: {},
  },
  logger,
});
// A mirror holding a 1 MB stand-in for the release, and a catalogue entry vouching for it.
const dir = mkdtempSync(join(tmpdir(), 'kaas-bench-'));
const tarball = randomBytes(1024 * 1024);
mkdirSync(join(dir, 'release', `v${DEFAULT_RELEASE.patch}`), { recursive: true });
writeFileSync(
  join(dir, 'release', `v${DEFAULT_RELEASE.patch}`, 'kubernetes-server-linux-amd64.tar.gz'),
  tarball,
);
const standIn = {
  ...DEFAULT_RELEASE,
  artifact: { url: DEFAULT_RELEASE.artifact.url, sha256: createHash('sha256').update(tarball).digest('hex') },
};

const provisioner = createProvisioner({
  store,
  logger,
  now: () => new Date(),
  cloud,
  secretKey: randomBytes(32),
  webhook: {
    kaasUrl: 'https://kaas.example.com',
    caPem: (await createCa({ commonName: 'kaas-bench' })).certPem,
  },
  // The bench measures scheduling and API cost, not rendering: a fixed small user data.
  renderer: () => (node) => `#cloud-config\nhostname: ${node.nodeName}\n`,
  serverConcurrency: 20,
  pollIntervalMs: 1_000,
  releaseMirror: join(dir, 'release'),
  releaseCacheDir: join(dir, 'cache'),
  releaseCatalogue: [standIn],
});

try {
  const { job } = await provisioner.createCluster(
    {
      name: 'bench',
      kubernetesVersion: DEFAULT_RELEASE.patch,
      masters: 1,
      masterFlavor: 'm1.tiny',
      image: 'debian-12',
      nodeGroups: [{ name: 'w', count: workers, flavor: 'm1.tiny' }],
      network: {
        nodeCidr: '10.240.0.0/20',
        podCidr: '172.16.0.0/12',
        serviceCidr: '10.96.0.0/12',
        dnsIp: '10.96.0.10',
      },
      externalNetwork: 'public',
      dnsDomain: 'bench.local',
      adminRoleId: 'admin',
    },
    { waitForApi: false },
  );
  sim.stats.reset();
  const started = Date.now();
  await provisioner.runUntilIdle();
  const wallMs = Date.now() - started;
  const view = await provisioner.getJob(job.id);
  if (view.job.state !== 'succeeded') throw new Error(`job ${view.job.state}: ${view.job.error?.message}`);

  // Critical path: longest chain through the plan where each step costs its measured duration,
  // but a step that boots servers is charged only boot time + one create round trip, i.e. what it
  // would cost with unlimited parallelism.
  const steps = (
    view.job.input as { steps: { id: string; dependsOn: string[]; resource: { type: string } }[] }
  ).steps;
  const duration = new Map(
    view.steps.map((s) => [s.stepId, Date.parse(s.finishedAt ?? '') - Date.parse(s.startedAt ?? '')]),
  );
  const ideal = (id: string, type: string) => {
    const measured = duration.get(id) ?? 0;
    return type === 'servers' || type === 'server' ? Math.min(measured, bootMs + 4 * latencyMs) : measured;
  };
  const finish = new Map<string, number>();
  for (const s of steps) {
    const start = Math.max(0, ...s.dependsOn.map((d) => finish.get(d) ?? 0));
    finish.set(s.id, start + ideal(s.id, s.resource.type));
  }
  const criticalMs = Math.max(...finish.values());
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
  await store.close();
  await sim.close();
}
