import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { engines, freshDatabaseUrl, freshStore, type Engine } from '../../test/support/databases.ts';
import { ConflictError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { openStore, type Store } from '../store/db.ts';
import { deleteProvisionedCluster } from '../store/deleteProvisionedCluster.ts';
import { findProvisionedCluster } from '../store/findProvisionedCluster.ts';
import { insertProvisionedCluster } from '../store/insertProvisionedCluster.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { findJob } from '../store/findJob.ts';
import { listJobEvents } from '../store/listJobEvents.ts';
import { listJobSteps } from '../store/listJobSteps.ts';
import { retryJob } from '../store/retryJob.ts';
import {
  checkSteps,
  createEngine,
  jobErrorFrom,
  type EngineDeps,
  type EngineStep,
  type JobHandler,
} from './engine.ts';
import { withRetries } from './steps/context.ts';
import { queueTestJob } from '../../test/support/jobs.ts';
import { killedAfter } from '../../test/support/hookFixture.ts';

const logger = createLogger({ level: 'silent' });

/** A database two stores can open (an in-memory SQLite one would be private to one connection). */
async function sharedDatabaseUrl(engine: Engine): Promise<string> {
  if (engine === 'postgres') return freshDatabaseUrl(engine);
  return `sqlite:${join(mkdtempSync(join(tmpdir(), 'kaas-engine-')), 'kaas.db')}`;
}

/** a → (b, c) → d → e: b and c are independent and run in parallel. */
const STEPS: EngineStep[] = [
  { id: 'a', dependsOn: [] },
  { id: 'b', dependsOn: ['a'] },
  { id: 'c', dependsOn: ['a'] },
  { id: 'd', dependsOn: ['b', 'c'] },
  { id: 'e', dependsOn: ['d'] },
];

/** A tiny "cloud": resources by name, counting creations, so duplicates show. */
function fakeCloud() {
  const resources = new Map<string, string>();
  const creations = new Map<string, number>();
  let seq = 0;
  return {
    resources,
    creations,
    /** Idempotent ensure: look up by name first, create only when missing. */
    async ensure(name: string): Promise<string> {
      // A turn of the event loop, as a cloud call would take, so parallel steps interleave.
      await new Promise((r) => setImmediate(r));
      const existing = resources.get(name);
      if (existing) return existing;
      const id = `id-${++seq}`;
      resources.set(name, id);
      creations.set(name, (creations.get(name) ?? 0) + 1);
      return id;
    },
  };
}

function handler(cloud: ReturnType<typeof fakeCloud>, failOnce?: Set<string>): JobHandler {
  return {
    steps: STEPS,
    async run(step, ctx) {
      if (failOnce?.has(step.id)) {
        failOnce.delete(step.id);
        throw new ConflictError(`quota exceeded creating ${step.id}`, { code: 'quota_exceeded' });
      }
      const upstream = step.dependsOn.map((d) => (ctx.outputs.get(d) as { id: string }).id);
      const id = await cloud.ensure(`res-${step.id}`);
      return { id, upstream };
    },
  };
}

describe.each(engines)('job engine on %s', (engine) => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  let clock = Date.parse('2030-01-01T00:00:00.000Z');
  const newJob = async (s: Store, id = 'job-1', clusterId = 'c1') =>
    queueTestJob(s.db, {
      id,
      clusterId,
      input: { n: 1 },
      stepIds: STEPS.map((x) => x.id),
      createdAt: new Date(clock).toISOString(),
    });
  const baseDeps = (s: Store, owner: string): EngineDeps => ({
    db: s.db,
    dialect: s.dialect,
    logger,
    now: () => new Date(clock),
    owner,
    leaseMs: 1_000,
    heartbeatMs: 60_000,
    concurrency: 4,
    handlerFor: () => handler(fakeCloud()),
  });
  const make = (s: Store, owner: string, over: Partial<EngineDeps> = {}) =>
    createEngine({ ...baseDeps(s, owner), ...over });

  it('runs every step in dependency order and checkpoints outputs', async () => {
    store = await freshStore(engine);
    await newJob(store);
    const cloud = fakeCloud();
    const outcome = await make(store, 'e1', { handlerFor: () => handler(cloud) }).runNext();
    expect(outcome).toEqual({ jobId: 'job-1', state: 'succeeded', error: null });
    const steps = await listJobSteps({ db: store.db, jobId: 'job-1' });
    expect(steps.map((s) => [s.stepId, s.state, s.runs])).toEqual(STEPS.map((s) => [s.id, 'done', 1]));
    const d = steps.find((s) => s.stepId === 'd')?.output as { upstream: string[] };
    expect(d.upstream).toHaveLength(2);
    const job = await findJob({ db: store.db, id: 'job-1' });
    expect(job).toMatchObject({ state: 'succeeded', leaseOwner: null, attempt: 1 });
    const events = await listJobEvents({ db: store.db, jobId: 'job-1' });
    expect(events.some((e) => e.stepId === 'e' && e.message === 'step done')).toBe(true);
    expect(await make(store, 'e1').runNext()).toBeUndefined();
  });

  it.each(STEPS.map((s) => s.id))(
    'a crash right after step %s is resumed by a new engine with no duplicate resources',
    async (crashAfter) => {
      store = await freshStore(engine);
      await newJob(store);
      const cloud = fakeCloud();
      const first = make(store, 'dying', {
        handlerFor: () => handler(cloud),
        hooks: killedAfter(crashAfter),
      });
      await expect(first.runJob('job-1')).rejects.toThrow('killed');
      const mid = await findJob({ db: store.db, id: 'job-1' });
      expect(mid).toMatchObject({ state: 'running', leaseOwner: 'dying' });
      // Before the lease expires nobody else may take the job.
      expect(
        await make(store, 'early', { handlerFor: () => handler(cloud) }).runJob('job-1'),
      ).toBeUndefined();
      clock += 5_000;
      const outcome = await make(store, 'restarted', { handlerFor: () => handler(cloud) }).runJob('job-1');
      expect(outcome?.state).toBe('succeeded');
      for (const s of STEPS) expect(cloud.creations.get(`res-${s.id}`)).toBe(1);
      const steps = await listJobSteps({ db: store.db, jobId: 'job-1' });
      expect(steps.every((s) => s.state === 'done')).toBe(true);
      // The last step is marked done only with the job's end, so a crash before that re-runs it.
      expect(steps.find((s) => s.stepId === crashAfter)?.runs).toBe(crashAfter === 'e' ? 2 : 1);
      expect((await findJob({ db: store.db, id: 'job-1' }))?.attempt).toBe(2);
      const events = await listJobEvents({ db: store.db, jobId: 'job-1' });
      expect(events.some((e) => e.message.startsWith('resuming (attempt 2)'))).toBe(true);
    },
  );

  it('takes over a job whose owner stopped heartbeating; the old owner notices it lost the lease', async () => {
    store = await freshStore(engine);
    await newJob(store);
    const cloud = fakeCloud();
    let enteredSlow!: () => void;
    const entered = new Promise<void>((r) => (enteredSlow = r));
    const stuck: JobHandler = {
      steps: STEPS,
      run: (step, ctx) => {
        if (step.id !== 'a') return Promise.resolve({});
        enteredSlow();
        return new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))),
        );
      },
    };
    const frozen = clock;
    const old = createEngine({
      db: store.db,
      dialect: store.dialect,
      logger,
      now: () => new Date(frozen),
      owner: 'old',
      leaseMs: 1_000,
      heartbeatMs: 20,
      handlerFor: () => stuck,
    });
    const oldRun = old.runJob('job-1');
    await entered;
    clock += 5_000;
    const outcome = await make(store, 'new', { handlerFor: () => handler(cloud) }).runJob('job-1');
    expect(outcome?.state).toBe('succeeded');
    expect(await oldRun).toEqual({ jobId: 'job-1', state: 'lost', error: null });
    expect(await findJob({ db: store.db, id: 'job-1' })).toMatchObject({ state: 'succeeded', attempt: 2 });
  });

  /** A handler whose `finished` forgets cluster c1's record, as a delete job does. */
  const forgetting = (cloud: ReturnType<typeof fakeCloud>): JobHandler => ({
    ...handler(cloud),
    finished: async (job, result, tx) => {
      if (result.state === 'succeeded') await deleteProvisionedCluster({ db: tx, id: job.clusterId });
    },
  });
  const recordCluster = (s: Store) =>
    insertProvisionedCluster({
      db: s.db,
      cluster: {
        id: 'c1',
        name: 'one',
        spec: {},
        options: {},
        status: 'deleting',
        createdAt: new Date(clock).toISOString(),
        updatedAt: new Date(clock).toISOString(),
      },
    });

  it('ends a job in one transaction with its last step: a crash in between leaves it resumable', async () => {
    store = await freshStore(engine);
    await recordCluster(store);
    await newJob(store);
    const cloud = fakeCloud();
    const dying = make(store, 'dying', {
      handlerFor: () => forgetting(cloud),
      hooks: killedAfter('e'),
    });
    await expect(dying.runJob('job-1')).rejects.toThrow('killed');
    expect(await findJob({ db: store.db, id: 'job-1' })).toMatchObject({ state: 'running', error: null });
    expect((await listJobSteps({ db: store.db, jobId: 'job-1' })).find((x) => x.stepId === 'e')?.state).toBe(
      'running',
    );
    expect(await findProvisionedCluster({ db: store.db, ref: 'c1' })).toBeDefined();
    clock += 5_000;
    expect(await make(store, 'restarted', { handlerFor: () => forgetting(cloud) }).runJob('job-1')).toEqual({
      jobId: 'job-1',
      state: 'succeeded',
      error: null,
    });
    expect(await findProvisionedCluster({ db: store.db, ref: 'c1' })).toBeUndefined();
    const events = await listJobEvents({ db: store.db, jobId: 'job-1' });
    expect(events.filter((e) => e.level === 'error')).toEqual([]);
    expect(events.at(-1)?.message).toBe('create succeeded');
  });

  it('rolls back the handler records when the lease is gone at the end', async () => {
    store = await freshStore(engine);
    await recordCluster(store);
    await newJob(store);
    const s = store;
    const outcome = await make(store, 'e1', {
      handlerFor: () => forgetting(fakeCloud()),
      hooks: {
        // Another engine takes the job over between the last step and the finishing transaction.
        afterCheckpoint: async (_job, stepId) => {
          if (stepId === 'e')
            await s.db.updateTable('jobs').set({ lease_owner: 'thief' }).where('id', '=', 'job-1').execute();
        },
      },
    }).runJob('job-1');
    expect(outcome).toEqual({ jobId: 'job-1', state: 'lost', error: null });
    expect(await findProvisionedCluster({ db: store.db, ref: 'c1' })).toBeDefined();
    expect(await findJob({ db: store.db, id: 'job-1' })).toMatchObject({
      state: 'running',
      leaseOwner: 'thief',
    });
    expect((await listJobSteps({ db: store.db, jobId: 'job-1' })).find((x) => x.stepId === 'e')?.state).toBe(
      'running',
    );
  });

  it('stops a job before its lease expires once the database is unreachable; another engine finishes it', async () => {
    const url = await sharedDatabaseUrl(engine);
    store = openStore(url);
    await migrateToLatest(store.db as never);
    await newJob(store);
    const dead = openStore(url);
    const leaseMs = 1_500;
    const mutations: number[] = [];
    let abortedAt = 0;
    let stepEnded = false;
    let dbDied!: () => void;
    const died = new Promise<void>((r) => (dbDied = r));
    // A long step that keeps changing the cloud and writes nothing to the database meanwhile.
    const busy: JobHandler = {
      steps: STEPS,
      run: async (_step, ctx) => {
        ctx.signal.addEventListener('abort', () => (abortedAt = Date.now()));
        const deps = { sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)), ctx };
        try {
          for (;;) {
            await withRetries(deps, 'resize a volume', async () => {
              mutations.push(Date.now());
              if (mutations.length === 5) dbDied();
            });
            await deps.sleep(20);
          }
        } finally {
          stepEnded = true;
        }
      },
    };
    const realTime = { now: () => new Date(), leaseMs };
    const first = createEngine({ ...baseDeps(dead, 'first'), ...realTime, handlerFor: () => busy });
    const run = first.runJob('job-1');
    await died;
    await dead.db.destroy();
    const diedAt = Date.now();
    expect(await run).toEqual({ jobId: 'job-1', state: 'lost', error: null });
    const held = await findJob({ db: store.db, id: 'job-1' });
    const expiresAt = Date.parse(held?.leaseExpiresAt as string);
    expect(held).toMatchObject({ state: 'running', leaseOwner: 'first' });
    expect(abortedAt).toBeGreaterThan(diedAt);
    expect(abortedAt).toBeLessThan(expiresAt);
    expect(mutations.every((t) => t <= abortedAt)).toBe(true);
    // The run ended only once the step did: nothing of it can change the cloud any more.
    expect(stepEnded).toBe(true);

    const second = createEngine({
      ...baseDeps(store, 'second'),
      ...realTime,
      handlerFor: () => handler(fakeCloud()),
    });
    expect(await second.runJob('job-1')).toBeUndefined();
    // Its clock past the lease's expiry (a fake clock rather than waiting the lease out).
    const later = createEngine({
      ...baseDeps(store, 'second'),
      leaseMs,
      now: () => new Date(Math.max(Date.now(), expiresAt + 1)),
      handlerFor: () => handler(fakeCloud()),
    });
    expect(await later.runJob('job-1')).toEqual({ jobId: 'job-1', state: 'succeeded', error: null });
    expect(await findJob({ db: store.db, id: 'job-1' })).toMatchObject({ state: 'succeeded', attempt: 2 });
  });

  it('starts no step once the lease is gone, and the step that noticed stops at its checkpoint', async () => {
    store = await freshStore(engine);
    await newJob(store);
    const s = store;
    const entered: string[] = [];
    let afterCheckpoint = false;
    const stolen: JobHandler = {
      steps: STEPS,
      run: async (step, ctx) => {
        entered.push(step.id);
        if (step.id === 'b') {
          await s.db.updateTable('jobs').set({ lease_owner: 'thief' }).where('id', '=', 'job-1').execute();
          await ctx.checkpoint({ made: 'half' });
          afterCheckpoint = true;
        }
        return {};
      },
    };
    const outcome = await make(store, 'e1', { handlerFor: () => stolen, concurrency: 1 }).runJob('job-1');
    expect(outcome).toEqual({ jobId: 'job-1', state: 'lost', error: null });
    expect(entered).toEqual(['a', 'b']);
    expect(afterCheckpoint).toBe(false);
    const runs = Object.fromEntries(
      (await listJobSteps({ db: store.db, jobId: 'job-1' })).map((x) => [x.stepId, [x.state, x.runs]]),
    );
    expect(runs).toEqual({
      a: ['done', 1],
      b: ['running', 1],
      c: ['pending', 0],
      d: ['pending', 0],
      e: ['pending', 0],
    });
  });

  it('lets exactly one of two concurrent engines claim a job', async () => {
    store = await freshStore(engine);
    await newJob(store);
    const cloud = fakeCloud();
    const [x, y] = await Promise.all([
      make(store, 'x', { handlerFor: () => handler(cloud) }).runNext(),
      make(store, 'y', { handlerFor: () => handler(cloud) }).runNext(),
    ]);
    expect([x, y].filter((o) => o !== undefined)).toHaveLength(1);
    for (const s of STEPS) expect(cloud.creations.get(`res-${s.id}`)).toBe(1);
  });

  it('refuses a second operation on a cluster while one is queued or running', async () => {
    store = await freshStore(engine);
    await newJob(store, 'job-1', 'c1');
    await expect(newJob(store, 'job-2', 'c1')).rejects.toMatchObject({ code: 'operation_in_progress' });
    await newJob(store, 'job-3', 'c2');
    await make(store, 'e', { handlerFor: () => handler(fakeCloud()) }).runJob('job-1');
    await newJob(store, 'job-2', 'c1');
    expect((await findJob({ db: store.db, id: 'job-2' }))?.state).toBe('queued');
  });

  it('fails a job at the failing step and resumes from it on retry', async () => {
    store = await freshStore(engine);
    await newJob(store);
    const cloud = fakeCloud();
    const failOnce = new Set(['c']);
    const e = make(store, 'e', { handlerFor: () => handler(cloud, failOnce), concurrency: 1 });
    const outcome = await e.runJob('job-1');
    expect(outcome).toMatchObject({ state: 'failed', error: { stepId: 'c', code: 'quota_exceeded' } });
    const failed = await findJob({ db: store.db, id: 'job-1' });
    expect(failed?.error?.message).toMatch(/quota exceeded creating c/);
    await expect(retryJob({ db: store.db, jobId: 'nope', now: 'x' })).rejects.toMatchObject({
      code: 'job_not_found',
    });
    await retryJob({ db: store.db, jobId: 'job-1', now: new Date(clock).toISOString() });
    await expect(retryJob({ db: store.db, jobId: 'job-1', now: 'x' })).rejects.toMatchObject({
      code: 'job_not_failed',
    });
    expect((await e.runJob('job-1'))?.state).toBe('succeeded');
    const runs = Object.fromEntries(
      (await listJobSteps({ db: store.db, jobId: 'job-1' })).map((s) => [s.stepId, s.runs]),
    );
    expect(runs).toEqual({ a: 1, b: 1, c: 2, d: 1, e: 1 });
    for (const s of STEPS) expect(cloud.creations.get(`res-${s.id}`)).toBe(1);
  });

  it('retries a job whose worker stopped, but not one running under a live lease', async () => {
    store = await freshStore(engine);
    await newJob(store);
    const cloud = fakeCloud();
    const dying = make(store, 'dying', {
      handlerFor: () => handler(cloud),
      concurrency: 1,
      hooks: killedAfter('b'),
    });
    await expect(dying.runJob('job-1')).rejects.toThrow('killed');
    const now = () => new Date(clock).toISOString();
    const refused = retryJob({ db: store.db, jobId: 'job-1', now: now() });
    await expect(refused).rejects.toBeInstanceOf(ConflictError);
    await expect(refused).rejects.toMatchObject({
      code: 'job_running',
      message: expect.stringMatching(
        /is running and its worker holds it until .*once it failed or its worker stopped/,
      ),
    });
    clock += 5_000;
    await retryJob({ db: store.db, jobId: 'job-1', now: now() });
    expect(await findJob({ db: store.db, id: 'job-1' })).toMatchObject({
      state: 'queued',
      leaseOwner: null,
      attempt: 1,
    });
    expect((await make(store, 'e2', { handlerFor: () => handler(cloud) }).runJob('job-1'))?.state).toBe(
      'succeeded',
    );
    expect(await findJob({ db: store.db, id: 'job-1' })).toMatchObject({ state: 'succeeded', attempt: 2 });
    for (const s of STEPS) expect(cloud.creations.get(`res-${s.id}`)).toBe(1);
    await expect(retryJob({ db: store.db, jobId: 'job-1', now: now() })).rejects.toMatchObject({
      code: 'job_not_failed',
    });
  });

  it('refuses a retry while another job of the cluster is active', async () => {
    store = await freshStore(engine);
    await newJob(store, 'job-1');
    await make(store, 'e', { handlerFor: () => handler(fakeCloud(), new Set(['a'])) }).runJob('job-1');
    await newJob(store, 'job-2');
    await expect(retryJob({ db: store.db, jobId: 'job-1', now: 'x' })).rejects.toBeInstanceOf(ConflictError);
  });

  it('fails a job whose plan is invalid and one whose finish hook throws', async () => {
    store = await freshStore(engine);
    await newJob(store, 'job-1', 'c1');
    const bad: JobHandler = { steps: [{ id: 'a', dependsOn: ['zz'] }], run: async () => ({}) };
    expect(await make(store, 'e', { handlerFor: () => bad }).runJob('job-1')).toMatchObject({
      state: 'failed',
      error: { code: 'invalid_plan' },
    });
    await newJob(store, 'job-2', 'c2');
    const h = handler(fakeCloud());
    h.finished = async () => {
      throw new Error('could not record the result');
    };
    expect(await make(store, 'e', { handlerFor: () => h }).runJob('job-2')).toMatchObject({
      state: 'failed',
      error: { message: 'could not record the result' },
    });
  });
});

describe('checkSteps', () => {
  it('rejects duplicates, unknown dependencies and cycles', () => {
    expect(() =>
      checkSteps([
        { id: 'a', dependsOn: [] },
        { id: 'a', dependsOn: [] },
      ]),
    ).toThrow(/twice/);
    expect(() => checkSteps([{ id: 'a', dependsOn: ['b'] }])).toThrow(/unknown step b/);
    expect(() =>
      checkSteps([
        { id: 'a', dependsOn: ['b'] },
        { id: 'b', dependsOn: ['a'] },
      ]),
    ).toThrow(/cycle/);
  });
  it('maps thrown values to job errors', () => {
    expect(jobErrorFrom('boom', 's')).toEqual({ stepId: 's', code: 'step_failed', message: 'boom' });
  });
});
