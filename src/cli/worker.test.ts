import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

/** Runs every timer due within `ms` of fake time, and the promise callbacks in between. */
const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);
/** A promise's result as soon as it settles, else undefined (read after `advance`). */
function settled<T>(promise: Promise<T>): { value: T | undefined } {
  const out: { value: T | undefined } = { value: undefined };
  void promise.then((v) => (out.value = v));
  return out;
}

// The loop's waits are timers: these tests run them on a fake clock, so "no claim meanwhile" is
// exact (every timer due was run) rather than the outcome of a race with a real sleep.
describe('job worker loop on a fake clock', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

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
    const t0 = Date.now();
    await advance(0);
    // Two jobs and the claim that found nothing, without waiting; then one poll per 40 ms.
    expect(calls).toEqual([t0, t0, t0]);
    await advance(39);
    expect(calls).toHaveLength(3);
    await advance(1);
    await advance(40);
    expect(calls).toEqual([t0, t0, t0, t0 + 40, t0 + 80]);
    const stopped = settled(loop.stop(1_000));
    await advance(0);
    expect(stopped.value).toBe('stopped');
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
    await advance(0);
    expect(finish).toBeDefined();
    const stopping = settled(loop.stop(5_000));
    await advance(1_000);
    expect(stopping.value).toBeUndefined();
    finish?.();
    await advance(0);
    expect(stopping.value).toBe('stopped');
    expect(claims).toBe(1);

    const idle = startWorkerLoop({
      engine: { claimNext: async () => undefined },
      logger,
      idleMs: 60_000,
      concurrency: 4,
    });
    await advance(0);
    // Stopped without any timer run: the stop itself woke the idle wait.
    const idleStop = settled(idle.stop(5_000));
    await advance(0);
    expect(idleStop.value).toBe('stopped');
  });

  it('gives up on a job that outlasts the grace period', async () => {
    const loop = startWorkerLoop({
      engine: { claimNext: async () => claimed('j1', () => new Promise<RunOutcome>(() => undefined)) },
      logger,
      idleMs: 10,
      concurrency: 1,
    });
    await advance(0);
    const stopping = settled(loop.stop(50));
    await advance(49);
    expect(stopping.value).toBeUndefined();
    await advance(1);
    expect(stopping.value).toBe('abandoned');
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
    await advance(0);
    expect(calls).toBe(1);
    await advance(20);
    expect(calls).toBe(3);
    const stopping = settled(loop.stop(1_000));
    await advance(0);
    expect(stopping.value).toBe('stopped');
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
    await advance(0);
    // Three slots: three jobs in hand, and no claim while they are full (not even an idle poll).
    await advance(3 * 60_000);
    expect([...finishers.keys()]).toEqual(['j0', 'j1', 'j2']);
    expect(claims).toBe(3);
    finishers.get('j1')?.();
    await advance(0);
    expect([...finishers.keys()]).toEqual(['j0', 'j1', 'j2', 'j3']);
    const stopping = settled(loop.stop(5_000));
    for (const id of ['j0', 'j2', 'j3']) finishers.get(id)?.();
    await advance(0);
    expect(stopping.value).toBe('stopped');
  });

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
    await advance(100);
    // Two passes in hand, the third slot kept for a job; no further pass claimed over five polls.
    expect(passClaims).toBe(2);
    jobs.push('j1');
    await advance(20);
    // The job took the free slot (it ran), and still no third pass.
    expect(jobs).toEqual([]);
    expect(passClaims).toBe(2);
    finishers.shift()?.();
    await advance(0);
    expect(passClaims).toBe(3);
    const stopping = settled(loop.stop(5_000));
    for (const f of finishers) f();
    await advance(0);
    expect(stopping.value).toBe('stopped');
  });

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
    await advance(100);
    // The job runs, and only one pass has started over five idle polls.
    expect(passes).toBe(1);
    finish();
    await advance(20);
    expect(passes).toBe(2);
    const stopping = settled(loop.stop(5_000));
    jobDone();
    await advance(1_000);
    // The pass in hand holds the stop until it ends.
    expect(stopping.value).toBeUndefined();
    finish();
    await advance(0);
    expect(stopping.value).toBe('stopped');
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
  /** Claims that came back (empty or not) from the loop's engine, counted to tell the loop moved on. */
  let claimsDone = 0;
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
    claimsDone = 0;
    const counted = {
      claimNext: async () => {
        const next = await e.claimNext();
        claimsDone++;
        return next;
      },
    };
    return startWorkerLoop({ engine: counted, logger, idleMs: 20, concurrency: 4 });
  };
  const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const stateOf = async (s: Store, id: string) => (await findJob({ db: s.db, id }))?.state;

  /**
   * A handler that records which clusters' jobs are inside their step at once; each step stays
   * inside until the condition `leaveWhen` gives at its entry holds (never a fixed time).
   */
  const tracking = (leaveWhen: (most: { together: number }) => () => boolean) => {
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
        await until(`job ${ctx.job.id} may leave its step`, leaveWhen(most));
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
    // Each step waits until both were inside at once: only running them together ends it.
    const { handler, most } = tracking((seen) => () => seen.together >= 2);
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
    // A step leaves once both clusters ran together and the loop, with free slots, claimed twice
    // more while it was inside: the other job of its cluster was on offer and not taken.
    const { handler, most } = tracking((seen) => {
      const entered = claimsDone;
      return () => seen.together >= 2 && claimsDone >= entered + 2;
    });
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
    loop = startLoop(s, tracking(() => () => true).handler, leaseMs);
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
