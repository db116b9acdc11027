/**
 * `kaas serve` as a process: exit codes on bad settings, SIGTERM when idle, and SIGTERM with a job
 * in hand that outlasts the grace period (the job is left to its lease and resumed elsewhere).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import { testCloud, testProvisioner, testSpec, testWebhook } from '../provisioner/support.ts';
import { freshDatabaseUrl } from '../support/databases.ts';
import { haCleanup, haDatabase, replicaEnv, spawnReplica, waitFor, type Replica } from './support.ts';

let sim: Cloudsim;
const { replicas, stores } = haCleanup();

beforeAll(async () => {
  sim = await startCloudsim({ port: 0, bootTimeMs: 1_500, latencyMs: 10 });
});
afterAll(async () => {
  await sim?.close();
});

function replica(env: Record<string, string>): Replica {
  const r = spawnReplica({ ...replicaEnv(sim.authUrl), ...env });
  replicas.push(r);
  return r;
}

/** Starts replica A with `grace`, queues a create, and waits until A has finished a step of it. */
async function replicaMidJob(name: string, grace: string) {
  const { url, store } = await haDatabase();
  stores.push(store);
  const a = replica({ KAAS_DATABASE_URL: url, KAAS_SHUTDOWN_GRACE_MS: grace });
  await a.ready;
  const p = testProvisioner(store, testCloud(sim), await testWebhook());
  const { job } = await p.createCluster(testSpec(name, 1), { waitForApi: false });
  await waitFor(
    'replica A to start the job',
    async () => ((await p.getJob(job.id)).steps.some((s) => s.state === 'done') ? true : undefined),
    60_000,
  );
  return { url, a, p, job };
}

describe('kaas serve process', () => {
  it('exits with code 2 and names the variable when KAAS_DATABASE_URL is missing', async () => {
    const r = replica({});
    const { code } = await r.exited;
    expect(code).toBe(2);
    expect(r.output()).toContain('kaas: set KAAS_DATABASE_URL: postgres://');
    expect(r.output()).toContain('(invalid_config)');
    expect(r.output()).not.toContain('    at ');
  });

  it('exits with code 2 on an invalid secret key', async () => {
    const r = replica({ KAAS_DATABASE_URL: await freshDatabaseUrl('postgres'), KAAS_SECRET_KEY: 'short' });
    expect((await r.exited).code).toBe(2);
    expect(r.output()).toContain('(secret_key_invalid)');
  });

  it('stops on SIGTERM when idle with exit code 0', async () => {
    const r = replica({ KAAS_DATABASE_URL: await freshDatabaseUrl('postgres') });
    const url = await r.ready;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const started = Date.now();
    r.kill('SIGTERM');
    const { code } = await r.exited;
    expect(code, r.output()).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.output()).toContain('kaas: SIGTERM, shutting down');
    expect(r.output()).toMatch(/kaas: stopped in \d+ ms \(worker: stopped\)/);
  });

  it('on SIGTERM mid-job within the grace period finishes the job before exiting', async () => {
    const { a, p, job } = await replicaMidJob('term0', '60000');
    a.kill('SIGTERM');
    expect((await a.exited).code, a.output()).toBe(0);
    expect(a.output()).toMatch(/kaas: stopped in \d+ ms \(worker: stopped\)/);
    const view = await p.getJob(job.id);
    expect(view.job.state).toBe('succeeded');
    expect(view.job.attempt).toBe(1);
    expect(view.steps.map((s) => s.runs)).toEqual(view.steps.map(() => 1));
  }, 120_000);

  it('on SIGTERM mid-job past the grace period exits, and another replica resumes the job', async () => {
    const { url, a, p, job } = await replicaMidJob('term1', '0');
    a.kill('SIGTERM');
    expect((await a.exited).code, a.output()).toBe(0);
    expect(a.output()).toContain('shutdown grace period over with a job in hand');
    expect(a.output()).toContain('(worker: abandoned)');
    expect((await p.getJob(job.id)).job.state).toBe('running');

    const b = replica({ KAAS_DATABASE_URL: url });
    await b.ready;
    const done = await waitFor(
      'replica B to finish the job',
      async () => {
        const view = await p.getJob(job.id);
        return view.job.state === 'running' ? undefined : view;
      },
      90_000,
      100,
    );
    expect(done.job.state, b.output()).toBe('succeeded');
    expect(done.job.attempt).toBe(2);
    expect(done.steps.every((s) => s.runs <= 2)).toBe(true);
  }, 150_000);
});
