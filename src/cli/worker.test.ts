import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { engines, freshStore } from '../../test/support/databases.ts';
import { createLogger } from '../log.ts';
import { createEngine, type ClaimedJob, type JobHandler, type RunOutcome } from '../provisioner/engine.ts';
import { claimJob } from '../store/claimJob.ts';
import type { Store } from '../store/db.ts';
import { findJob, type JobRecord } from '../store/findJob.ts';
import { reconcilerOf, startWorkerLoop, type WorkerLoop } from './worker.ts';
import { queueTestJob } from '../../test/support/jobs.ts';

const logger = createLogger({ level: 'silent' });
const outcome = (jobId: string): RunOutcome => ({ jobId, state: 'succeeded', error: null });
/** A claimed job whose run is `run` (the job record is not looked at by the loop). */
const claimed = (jobId: string, run: () => Promise<RunOutcome> = async () => outcome(jobId)): ClaimedJob => ({
  job: { id: jobId } as JobRecord,
  run,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('job worker loop', () => {
  it('runs jobs back to back and polls every idleMs when none is runnable', async () => {
    const queue = ['j1', 'j2'];
    const calls: number[] = [];
    const loop = startWorkerLoop({
      engine: {
        claimNext: async () => {
          calls.push(Date.now());
          const id = queue.shift();
          return id === undefined ? undefined : claimed(id);
        },
      },
      logger,
      idleMs: 40,
      concurrency: 1,
    });
    await sleep(150);
    expect(await loop.stop(1_000)).toBe('stopped');
    // Two jobs without waiting, then idle polls about 40 ms apart.
    expect(calls.length).toBeGreaterThanOrEqual(4);
    expect(calls.length).toBeLessThanOrEqual(7);
    expect((calls[1] as number) - (calls[0] as number)).toBeLessThan(30);
    expect((calls[3] as number) - (calls[2] as number)).toBeGreaterThanOrEqual(35);
  });

  it('stop wakes an idle loop at once and lets the job in hand finish', async () => {
    let finish: (() => void) | undefined;
    let claims = 0;
    const loop = startWorkerLoop({
      engine: {
        claimNext: async () => {
          claims++;
          return claims > 1
            ? undefined
            : claimed(
                'j1',
                () => new Promise<RunOutcome>((resolve) => (finish = () => resolve(outcome('j1')))),
              );
        },
      },
      logger,
      idleMs: 60_000,
      concurrency: 1,
    });
    await sleep(10);
    const stopping = loop.stop(5_000);
    await sleep(20);
    finish?.();
    expect(await stopping).toBe('stopped');
    expect(claims).toBe(1);

    const idle = startWorkerLoop({
      engine: { claimNext: async () => undefined },
      logger,
      idleMs: 60_000,
      concurrency: 4,
    });
    await sleep(10);
    const started = Date.now();
    expect(await idle.stop(5_000)).toBe('stopped');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('gives up on a job that outlasts the grace period', async () => {
    const loop = startWorkerLoop({
      engine: { claimNext: async () => claimed('j1', () => new Promise<RunOutcome>(() => undefined)) },
      logger,
      idleMs: 10,
      concurrency: 1,
    });
    await sleep(10);
    expect(await loop.stop(50)).toBe('abandoned');
  });

  it('logs a failing claim and keeps polling', async () => {
    const lines: string[] = [];
    const sink = createLogger({
      level: 'error',
      destination: {
        write: (line: string) => lines.push(line),
      } as unknown as NodeJS.WritableStream,
    });
    let calls = 0;
    const loop = startWorkerLoop({
      engine: {
        claimNext: async () => {
          calls++;
          if (calls === 1) throw new Error('connection refused');
          return undefined;
        },
      },
      logger: sink,
      idleMs: 10,
      concurrency: 2,
    });
    await sleep(80);
    expect(await loop.stop(1_000)).toBe('stopped');
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(lines.join('')).toContain('claiming work failed');
    expect(lines.join('')).toContain('connection refused');
  });

  it('keeps up to `concurrency` jobs running and claims the next as soon as one ends', async () => {
    const finishers = new Map<string, () => void>();
    let next = 0;
    let claims = 0;
    const loop = startWorkerLoop({
      engine: {
        claimNext: async () => {
          claims++;
          if (next >= 4) return undefined;
          const id = `j${next++}`;
          return claimed(id, () => new Promise<RunOutcome>((r) => finishers.set(id, () => r(outcome(id)))));
        },
      },
      logger,
      idleMs: 60_000,
      concurrency: 3,
    });
    await sleep(30);
    // Three slots: three jobs in hand, and no claim while they are full (not even an idle poll).
    expect([...finishers.keys()]).toEqual(['j0', 'j1', 'j2']);
    expect(claims).toBe(3);
    finishers.get('j1')?.();
    await sleep(30);
    expect([...finishers.keys()]).toEqual(['j0', 'j1', 'j2', 'j3']);
    const stopping = loop.stop(5_000);
    for (const id of ['j0', 'j2', 'j3']) finishers.get(id)?.();
    expect(await stopping).toBe('stopped');
  });
});

describe('job worker loop with a reconciler', () => {
  it('runs reconcile passes only when no job is runnable, and never in the last slot', async () => {
    const jobs: string[] = [];
    const finishers: (() => void)[] = [];
    let passClaims = 0;
    const loop = startWorkerLoop({
      engine: { claimNext: async () => (jobs.length > 0 ? claimed(jobs.shift() as string) : undefined) },
      reconciler: {
        claimNext: async () => {
          passClaims++;
          const clusterId = `c${passClaims}`;
          return {
            clusterId,
            run: () =>
              new Promise((resolve) =>
                finishers.push(() => resolve({ clusterId, full: true, state: 'synced' as const })),
              ),
          };
        },
      },
      logger,
      idleMs: 20,
      concurrency: 3,
    });
    await sleep(60);
    // Two passes in hand, the third slot kept for a job; no further pass claimed meanwhile.
    expect(passClaims).toBe(2);
    jobs.push('j1');
    await sleep(60);
    // The job took the free slot (it ran), and still no third pass.
    expect(jobs).toEqual([]);
    expect(passClaims).toBe(2);
    finishers.shift()?.();
    await sleep(60);
    expect(passClaims).toBe(3);
    const stopping = loop.stop(5_000);
    for (const f of finishers) f();
    expect(await stopping).toBe('stopped');
  });
});

describe('job worker loop with a healer', () => {
  it('runs one healer pass at a time when idle, beside a running job, and waits for it on stop', async () => {
    let passes = 0;
    let finish = () => {};
    const jobs = ['j1'];
    let jobDone = () => {};
    const loop = startWorkerLoop({
      engine: {
        claimNext: async () => {
          const id = jobs.shift();
          if (id === undefined) return undefined;
          return claimed(id, () => new Promise<RunOutcome>((r) => (jobDone = () => r(outcome(id)))));
        },
      },
      healer: {
        pass: async () => {
          passes++;
          await new Promise<void>((r) => (finish = r));
          return [];
        },
      },
      logger,
      idleMs: 20,
      concurrency: 2,
    });
    await sleep(80);
    // The job runs, and only one pass has started however many idle polls went by.
    expect(passes).toBe(1);
    finish();
    await sleep(60);
    expect(passes).toBeGreaterThanOrEqual(2);
    let stopped = false;
    const stopping = loop.stop(5_000).then((r) => ((stopped = true), r));
    jobDone();
    await sleep(40);
    // The pass in hand holds the stop until it ends.
    expect(stopped).toBe(false);
    finish();
    expect(await stopping).toBe('stopped');
  });
});

describe.each(engines)('job worker loop with the engine on %s', (engine) => {
  let store: Store | undefined;
  let loop: WorkerLoop | undefined;
  afterEach(async () => {
    await loop?.stop(5_000);
    await store?.close();
    loop = undefined;
    store = undefined;
  });

  const STEP = [{ id: 'work', dependsOn: [] }];
  const queue = (s: Store, id: string, clusterId: string) =>
    queueTestJob(s.db, { id, clusterId, stepIds: ['work'] });
  const startLoop = (s: Store, handler: JobHandler, leaseMs = 5_000) => {
    const e = createEngine({
      db: s.db,
      dialect: s.dialect,
      logger,
      now: () => new Date(),
      owner: 'replica',
      leaseMs,
      handlerFor: () => handler,
    });
    return startWorkerLoop({ engine: e, logger, idleMs: 20, concurrency: 4 });
  };
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(10);
    }
  };
  const stateOf = async (s: Store, id: string) => (await findJob({ db: s.db, id }))?.state;

  /** A handler that records which clusters' jobs are inside their step at once. */
  const tracking = (stepMs: number) => {
    const inside = new Map<string, number>();
    const most = { together: 0, perCluster: 0 };
    const handler: JobHandler = {
      steps: STEP,
      run: async (_step, ctx) => {
        const c = ctx.job.clusterId;
        inside.set(c, (inside.get(c) ?? 0) + 1);
        const total = [...inside.values()].reduce((a, b) => a + b, 0);
        most.together = Math.max(most.together, total);
        most.perCluster = Math.max(most.perCluster, inside.get(c) ?? 0);
        await sleep(stepMs);
        inside.set(c, (inside.get(c) ?? 1) - 1);
        return {};
      },
    };
    return { handler, most };
  };

  it("runs two clusters' jobs at the same time", async () => {
    store = await freshStore(engine);
    await queue(store, 'j1', 'c1');
    await queue(store, 'j2', 'c2');
    const { handler, most } = tracking(300);
    const s = store;
    loop = startLoop(s, handler);
    await until(
      'both jobs',
      async () => (await stateOf(s, 'j1')) === 'succeeded' && (await stateOf(s, 'j2')) === 'succeeded',
    );
    expect(most.together).toBe(2);
  });

  it('never runs two jobs of one cluster at once, even written around the one-active index', async () => {
    store = await freshStore(engine);
    await sql`DROP INDEX jobs_one_active_per_cluster`.execute(store.db);
    await queue(store, 'j1', 'c1');
    await queue(store, 'j2', 'c1');
    await queue(store, 'j3', 'c2');
    const { handler, most } = tracking(150);
    const s = store;
    loop = startLoop(s, handler);
    await until('all jobs', async () =>
      (await Promise.all(['j1', 'j2', 'j3'].map((id) => stateOf(s, id)))).every((x) => x === 'succeeded'),
    );
    expect(most.perCluster).toBe(1);
    expect(most.together).toBe(2);
  });

  it('takes over a job whose lease expired within one lease period', async () => {
    store = await freshStore(engine);
    await queue(store, 'j1', 'c1');
    const leaseMs = 400;
    // A replica claimed it and died: nobody renews its lease.
    const dead = await claimJob({
      db: store.db,
      dialect: store.dialect,
      owner: 'dead',
      now: new Date().toISOString(),
      leaseExpiresAt: new Date(Date.now() + leaseMs).toISOString(),
    });
    const expiresAt = Date.parse(dead?.leaseExpiresAt as string);
    const s = store;
    loop = startLoop(s, tracking(1).handler, leaseMs);
    await until('the takeover', async () => (await stateOf(s, 'j1')) === 'succeeded');
    const job = await findJob({ db: s.db, id: 'j1' });
    expect(job).toMatchObject({ attempt: 2 });
    expect(Date.parse(job?.updatedAt as string) - expiresAt).toBeLessThan(leaseMs);
  });
});

describe('reconcilerOf', () => {
  it('gives the healer the configured poll interval, and the reconciler its resync period unless off', () => {
    const asked: string[] = [];
    const provisioner = {
      reconciler: ({ resyncMs }: { resyncMs: number }) => {
        asked.push(`reconciler ${resyncMs}`);
        return {} as ReturnType<Parameters<typeof reconcilerOf>[0]['reconciler']>;
      },
      healer: ({ pollMs }: { pollMs: number }) => {
        asked.push(`healer ${pollMs}`);
        return { pass: async () => [] };
      },
    };
    expect(Object.keys(reconcilerOf(provisioner, 0, 30))).toEqual(['healer']);
    reconcilerOf(provisioner, 300);
    expect(asked).toEqual(['healer 30000', 'reconciler 300000', 'healer 10000']);
  });
});
