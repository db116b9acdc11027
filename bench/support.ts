/**
 * What the provisioning benchmarks share: cloudsim with latency and boot time, an in-memory store,
 * a provisioner whose releases come from stand-in tarballs (test/provisioner/support.ts), and the
 * critical-path measure their ratios are taken against.
 */
import { randomBytes } from 'node:crypto';
import { startCloudsim } from '../src/cloudsim/index.ts';
import { createCa } from '../src/auth/pki.ts';
import { createLogger } from '../src/log.ts';
import { createCloud } from '../src/openstack/index.ts';
import { createProvisioner } from '../src/provisioner/provisioner.ts';
import { openStore } from '../src/store/db.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { testReleaseDeps } from '../test/provisioner/support.ts';

/** A bench cloud sized for `servers` servers, and a provisioner on it. */
export async function benchSetup(input: { servers: number; latencyMs: number; bootMs: number }) {
  const logger = createLogger({ level: 'silent' });
  const n = input.servers + 10;
  const sim = await startCloudsim({
    port: 0,
    latencyMs: input.latencyMs,
    bootTimeMs: input.bootMs,
    quotas: { instances: n, cores: n * 2, ram: n * 4096, ports: n * 2 + 30 },
  });
  const store = openStore('sqlite::memory:');
  await migrateToLatest(store.db);
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
    // The benches measure scheduling and API cost, not rendering: a fixed small user data.
    renderer: () => async (node) => `#cloud-config\nhostname: ${node.nodeName}\n`,
    serverConcurrency: 20,
    pollIntervalMs: 1_000,
    ...testReleaseDeps(),
  });
  return {
    sim,
    store,
    cloud,
    provisioner,
    close: async () => {
      await store.close();
      await sim.close();
    },
  };
}

/** A bench cluster: one master and one worker group `w`, with room for 1,000+ nodes' pod subnets. */
export function benchSpec(input: { version: string; workers: number; maxSurge?: number }) {
  return {
    name: 'bench',
    kubernetesVersion: input.version,
    masters: 1,
    masterFlavor: 'm1.tiny',
    image: 'debian-12',
    nodeGroups: [
      {
        name: 'w',
        count: input.workers,
        flavor: 'm1.tiny',
        ...(input.maxSurge === undefined ? {} : { maxSurge: input.maxSurge }),
      },
    ],
    network: {
      nodeCidr: '10.240.0.0/20',
      podCidr: '172.16.0.0/12',
      serviceCidr: '10.96.0.0/12',
      dnsIp: '10.96.0.10',
    },
    externalNetwork: 'public',
    dnsDomain: 'bench.local',
    adminRoleId: 'admin',
  };
}

/**
 * The longest chain through a job's plan where each step costs its measured duration, but a step
 * that boots servers is charged only boot time plus four round trips: what the job would cost with
 * unlimited parallelism.
 */
export function criticalPathMs(
  plan: readonly { id: string; dependsOn: readonly string[]; resource: { type: string } }[],
  ran: readonly { stepId: string; startedAt: string | null; finishedAt: string | null }[],
  costs: { bootMs: number; latencyMs: number },
): number {
  const duration = new Map(
    ran.map((s) => [s.stepId, Date.parse(s.finishedAt ?? '') - Date.parse(s.startedAt ?? '')]),
  );
  const finish = new Map<string, number>();
  for (const s of plan) {
    const measured = duration.get(s.id) ?? 0;
    const cost =
      s.resource.type === 'servers' || s.resource.type === 'server'
        ? Math.min(measured, costs.bootMs + 4 * costs.latencyMs)
        : measured;
    finish.set(s.id, Math.max(0, ...s.dependsOn.map((d) => finish.get(d) ?? 0)) + cost);
  }
  return Math.max(...finish.values());
}
