/**
 * kaas HA on one real PostgreSQL: two `kaas serve` replicas in their own processes share the
 * database and the cloud (cloudsim, with boot time and latency so a create takes seconds). One is
 * SIGKILLed mid-job; the other must take the job over once the lease expires and finish it, with
 * no finished step run again and no cloud resource made twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import type { WebhookTarget } from '../../src/provisioner/material.ts';
import type { Provisioner } from '../../src/provisioner/provisioner.ts';
import type { Store } from '../../src/store/db.ts';
import { testCloud, testProvisioner, testSpec, testWebhook } from '../provisioner/support.ts';
import {
  LEASE_MS,
  POLL_MS,
  haCleanup,
  haDatabase,
  replicaEnv,
  spawnReplica,
  waitFor,
  type Replica,
} from './support.ts';

let sim: Cloudsim;
let cloud: Cloud;
let webhook: WebhookTarget;
const { replicas, stores } = haCleanup();

beforeAll(async () => {
  sim = await startCloudsim({
    port: 0,
    bootTimeMs: 1_500,
    latencyMs: 15,
    quotas: { instances: -1, cores: -1, ram: -1, security_groups: -1, routers: -1 },
  });
  cloud = testCloud(sim);
  webhook = await testWebhook();
});

afterAll(async () => {
  await sim?.close();
});

async function database(): Promise<{ url: string; store: Store }> {
  const db = await haDatabase();
  stores.push(db.store);
  return db;
}

function replica(url: string, env: Record<string, string> = {}): Replica {
  const r = spawnReplica({
    ...replicaEnv(sim.authUrl),
    KAAS_DATABASE_URL: url,
    KAAS_SHUTDOWN_GRACE_MS: '2000',
    ...env,
  });
  replicas.push(r);
  return r;
}

/** Owner names are host:pid:random; which replica is it? */
const pidOf = (owner: string | null) => (owner === null ? undefined : Number(owner.split(':').at(-2)));

async function jobRow(store: Store, id: string) {
  return store.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function stepRows(store: Store, jobId: string) {
  return store.db
    .selectFrom('job_steps')
    .select(['step_id', 'state', 'runs'])
    .where('job_id', '=', jobId)
    .orderBy('position')
    .execute();
}

/** What the cloud holds for a cluster, counted by name (a duplicate shows up as a count > 1). */
async function inventory(clusterId: string) {
  const tags = [`kaas-cluster=${clusterId}`];
  const byName = (items: { name?: string | null }[]) => {
    const counts: Record<string, number> = {};
    for (const i of items) counts[String(i.name)] = (counts[String(i.name)] ?? 0) + 1;
    return counts;
  };
  return {
    servers: byName(await cloud.nova.listServers({ tags })),
    networks: byName(await cloud.neutron.networks.list({ tags })),
    subnets: byName(await cloud.neutron.subnets.list({ tags })),
    routers: byName(await cloud.neutron.routers.list({ tags })),
    securityGroups: byName(await cloud.neutron.securityGroups.list({ tags })),
    floatingIps: (await cloud.neutron.floatingIps.list({ tags })).length,
  };
}

function expectNoDuplicates(inv: Awaited<ReturnType<typeof inventory>>, name: string, workers: number) {
  const ones = (names: string[]) => Object.fromEntries(names.map((n) => [n, 1]));
  const workerNames = Array.from({ length: workers }, (_, i) => `kaas-${name}-default-${i}`);
  expect(inv.servers).toEqual(ones([`kaas-${name}-master-0`, ...workerNames]));
  expect(Object.values(inv.networks)).toEqual([1]);
  expect(Object.values(inv.subnets)).toEqual([1]);
  expect(Object.values(inv.routers)).toEqual([1]);
  expect(Object.values(inv.securityGroups)).toEqual([1, 1]);
  expect(inv.floatingIps).toBe(1);
}

async function createCluster(p: Provisioner, name: string, workers: number) {
  return p.createCluster(testSpec(name, workers), { waitForApi: false });
}

describe('two kaas replicas on one PostgreSQL', () => {
  it('a replica killed mid-job: the other takes the job over after the lease and finishes it once', async () => {
    const { url, store } = await database();
    const a = replica(url);
    const b = replica(url);
    await Promise.all([a.ready, b.ready]);
    const queued = await createCluster(testProvisioner(store, cloud, webhook), 'ha1', 2);
    const jobId = queued.job.id;

    // Wait until one replica holds the lease and has finished at least one step, mid-job.
    const holder = await waitFor(
      'a replica to finish a step of the job',
      async () => {
        const job = await jobRow(store, jobId);
        const done = (await stepRows(store, jobId)).filter((s) => s.state === 'done').length;
        return job.state === 'running' && done >= 1 ? pidOf(job.lease_owner) : undefined;
      },
      60_000,
    );
    const [victim, survivor] = holder === a.pid ? [a, b] : [b, a];
    expect([a.pid, b.pid]).toContain(holder);
    const killedAt = Date.now();
    victim.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    const atKill = await stepRows(store, jobId);
    expect((await jobRow(store, jobId)).state).toBe('running');
    const doneAtKill = atKill.filter((s) => s.state === 'done').map((s) => s.step_id);
    const runningAtKill = atKill.filter((s) => s.state === 'running').map((s) => s.step_id);
    expect(doneAtKill.length).toBeGreaterThanOrEqual(1);
    expect(doneAtKill.length).toBeLessThan(atKill.length);

    const takeover = await waitFor(
      'the survivor to claim the job',
      async () => {
        const job = await jobRow(store, jobId);
        return job.attempt === 2 && pidOf(job.lease_owner) === survivor.pid ? job : undefined;
      },
      LEASE_MS * 5,
      20,
    );
    expect(takeover.state).toBe('running');
    const finished = await waitFor(
      'the job to finish',
      async () => {
        const job = await jobRow(store, jobId);
        return job.state === 'running' ? undefined : job;
      },
      120_000,
      100,
    );
    expect(finished.state, survivor.output()).toBe('succeeded');
    expect(finished.attempt).toBe(2);

    const events = await store.db
      .selectFrom('job_events')
      .select(['at', 'message', 'step_id'])
      .where('job_id', '=', jobId)
      .orderBy('at')
      .orderBy('id')
      .execute();
    const resumed = events.find((e) => e.message.startsWith('resuming (attempt 2)'));
    expect(resumed?.message).toContain(`${doneAtKill.length}/${atKill.length} steps already done`);
    const takeoverMs = Date.parse(resumed?.at as string) - killedAt;
    process.stdout.write(
      `HA takeover: ${takeoverMs} ms from SIGKILL to the survivor's claim (lease ${LEASE_MS} ms, ` +
        `heartbeat ${Math.floor(LEASE_MS / 3)} ms, idle poll ${POLL_MS} ms); ` +
        `${doneAtKill.length}/${atKill.length} steps were done, re-run after interruption: ${runningAtKill.join(', ') || 'none'}\n`,
    );
    expect(takeoverMs).toBeGreaterThan(0);
    expect(takeoverMs).toBeLessThan(LEASE_MS + POLL_MS + 2_000);

    // No finished step ran again; the steps interrupted by the kill ran at most once more.
    const end = await stepRows(store, jobId);
    expect(end.every((s) => s.state === 'done')).toBe(true);
    for (const s of end) {
      const allowed = runningAtKill.includes(s.step_id) ? 2 : 1;
      expect(s.runs, `step ${s.step_id}`).toBeGreaterThanOrEqual(1);
      expect(s.runs, `step ${s.step_id}`).toBeLessThanOrEqual(allowed);
    }
    for (const id of doneAtKill) {
      expect(events.filter((e) => e.step_id === id && e.message.startsWith('step started')).length).toBe(1);
    }
    expectNoDuplicates(await inventory(queued.cluster.id), 'ha1', 2);
  }, 180_000);

  it('two live replicas share the queue and never run the same step twice', async () => {
    const { url, store } = await database();
    // One job at a time each, so that three jobs cannot all fit in the first replica's slots.
    const a = replica(url, { KAAS_JOB_CONCURRENCY: '1' });
    const b = replica(url, { KAAS_JOB_CONCURRENCY: '1' });
    await Promise.all([a.ready, b.ready]);
    const p = testProvisioner(store, cloud, webhook);
    const created = [];
    for (const name of ['hb1', 'hb2', 'hb3']) created.push(await createCluster(p, name, 1));
    const jobIds = created.map((c) => c.job.id);

    const owners = new Map<string, Set<number>>(jobIds.map((id) => [id, new Set()]));
    await waitFor(
      'three jobs to finish',
      async () => {
        const jobs = await store.db.selectFrom('jobs').selectAll().where('id', 'in', jobIds).execute();
        for (const j of jobs) {
          const pid = pidOf(j.lease_owner);
          if (pid !== undefined) owners.get(j.id)?.add(pid);
        }
        return jobs.every((j) => j.state !== 'queued' && j.state !== 'running') ? jobs : undefined;
      },
      150_000,
      25,
    );
    for (const id of jobIds) {
      const job = await jobRow(store, id);
      expect(job.state, `${a.output()}\n${b.output()}`).toBe('succeeded');
      // Claimed once: the live owner's heartbeat kept its lease, nobody took it over.
      expect(job.attempt).toBe(1);
      expect(owners.get(id)?.size).toBe(1);
      const steps = await stepRows(store, id);
      expect(steps.map((s) => s.runs)).toEqual(steps.map(() => 1));
    }
    const workedBy = new Set([...owners.values()].flatMap((s) => [...s]));
    expect(workedBy).toEqual(new Set([a.pid, b.pid]));
    for (const [i, c] of created.entries()) {
      expectNoDuplicates(await inventory(c.cluster.id), `hb${i + 1}`, 1);
    }
  }, 200_000);
});
