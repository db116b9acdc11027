/**
 * Rolling-upgrade benchmark on cloudsim: a cluster of one master and 50 workers (maxSurge 5) with
 * 200 ms API latency and 10 s server boot time rolls its workers onto the next minor by replacement.
 * Prints the wall time of the rollout, its critical path (the longest dependency chain of the plan,
 * each step charged its measured duration, a boot step at most boot time plus four round trips, as
 * in bench/provision.ts) and their ratio, the boot floor (one boot per batch), and the API calls.
 * The cluster has no reachable Kubernetes API here, so drains and Node waits are skipped with
 * warnings; the rollout's cost is the cloud's. The control plane is not replaced (kaas refuses
 * upgrades for that reason, see docs/provisioner.md), so the worker part of the plan is queued
 * directly. Run: npx tsx bench/upgrade.ts [workers] [maxSurge] [latencyMs] [bootMs]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCloudsim } from '../src/cloudsim/index.ts';
import { createLogger } from '../src/log.ts';
import { createCloud } from '../src/openstack/index.ts';
import { createCa } from '../src/auth/pki.ts';
import { createProvisioner } from '../src/provisioner/provisioner.ts';
import { KUBERNETES_RELEASES } from '../src/versions/index.ts';
import { planUpgrade } from '../src/cluster/plan.ts';
import { tagsFor } from '../src/cluster/names.ts';
import type { ClusterSpec } from '../src/cluster/spec.ts';
import { groupIndexes } from '../src/provisioner/provisioner.ts';
import { insertJob } from '../src/store/insertJob.ts';
import { openStore } from '../src/store/db.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { up as panelTablesUp } from '../src/store/migrations/0005_panel.ts';

const workers = Number(process.argv[2] ?? 50);
const maxSurge = Number(process.argv[3] ?? 5);
const latencyMs = Number(process.argv[4] ?? 200);
const bootMs = Number(process.argv[5] ?? 10_000);
const logger = createLogger({ level: 'silent' });

const sim = await startCloudsim({
  port: 0,
  latencyMs,
  bootTimeMs: bootMs,
  quotas: {
    instances: workers + maxSurge + 10,
    cores: (workers + maxSurge + 10) * 2,
    ram: (workers + maxSurge + 10) * 4096,
    ports: (workers + maxSurge) * 2 + 50,
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
const dir = mkdtempSync(join(tmpdir(), 'kaas-bench-'));
const release = join(dir, 'kubernetes-server-linux-amd64.tar.gz');
writeFileSync(release, randomBytes(1024 * 1024));

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
});

const [from, to] = KUBERNETES_RELEASES as unknown as [{ patch: string }, { patch: string }];

try {
  const created = await provisioner.createCluster(
    {
      name: 'bench',
      kubernetesVersion: from.patch,
      masters: 1,
      masterFlavor: 'm1.tiny',
      image: 'debian-12',
      nodeGroups: [{ name: 'w', count: workers, flavor: 'm1.tiny', maxSurge }],
      network: {
        nodeCidr: '10.240.0.0/20',
        podCidr: '10.244.0.0/16',
        serviceCidr: '10.96.0.0/12',
        dnsIp: '10.96.0.10',
      },
      externalNetwork: 'public',
      dnsDomain: 'bench.local',
      adminRoleId: 'admin',
    },
    { releaseSource: release, waitForApi: false },
  );
  await provisioner.runUntilIdle();
  const { cluster } = created;
  const servers = await cloud.nova.listServers({ tags: tagsFor(cluster.id) });
  const plan = planUpgrade(cluster.spec as ClusterSpec, cluster.id, to.patch, groupIndexes(servers));
  const jobId = 'job-bench-upgrade';
  await insertJob({
    db: store.db,
    job: {
      id: jobId,
      clusterId: cluster.id,
      kind: 'upgrade',
      input: { steps: plan.steps, spec: plan.spec },
      stepIds: plan.steps.map((s) => s.id),
      createdAt: new Date().toISOString(),
    },
  });
  sim.stats.reset();
  const started = Date.now();
  await provisioner.runUntilIdle();
  const wallMs = Date.now() - started;
  const view = await provisioner.getJob(jobId);
  if (view.job.state !== 'succeeded') throw new Error(`job ${view.job.state}: ${view.job.error?.message}`);
  const after = await cloud.nova.listServers({ tags: tagsFor(cluster.id) });
  const replaced = after.filter((s) => Number(s.metadata['kaas-index']) >= workers).length;
  if (after.length !== workers + 1 || replaced !== workers) {
    throw new Error(`expected ${workers} replaced workers, found ${replaced} of ${after.length - 1}`);
  }

  const steps = plan.steps;
  const duration = new Map(
    view.steps.map((s) => [s.stepId, Date.parse(s.finishedAt ?? '') - Date.parse(s.startedAt ?? '')]),
  );
  const ideal = (id: string, type: string) => {
    const measured = duration.get(id) ?? 0;
    return type === 'servers' ? Math.min(measured, bootMs + 4 * latencyMs) : measured;
  };
  const finish = new Map<string, number>();
  for (const s of steps) {
    const start = Math.max(0, ...s.dependsOn.map((d) => finish.get(d) ?? 0));
    finish.set(s.id, start + ideal(s.id, s.resource.type));
  }
  const criticalMs = Math.max(...finish.values());
  const floorMs = Math.ceil(workers / maxSurge) * bootMs;
  console.log(
    `workers=${workers} maxSurge=${maxSurge} latency=${latencyMs}ms boot=${bootMs}ms ${from.patch} -> ${to.patch}`,
  );
  console.log(`wall time            ${(wallMs / 1000).toFixed(1)} s`);
  console.log(
    `critical path        ${(criticalMs / 1000).toFixed(1)} s (boot floor ${(floorMs / 1000).toFixed(0)} s: ${Math.ceil(workers / maxSurge)} batches)`,
  );
  console.log(`wall / critical path ${(wallMs / criticalMs).toFixed(2)}`);
  console.log(`wall / boot floor    ${(wallMs / floorMs).toFixed(2)}`);
  console.log(`API calls            ${sim.stats.total} ${JSON.stringify(sim.stats.byService)}`);
} finally {
  await store.close();
  await sim.close();
}
