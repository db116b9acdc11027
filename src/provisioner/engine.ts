/**
 * The durable job engine: runs the steps of a claimed job in dependency order, several at once when
 * they are independent, checkpointing each step's output in the database. It knows nothing about
 * clusters or clouds; a `JobHandler` supplies the steps and runs each one. Because every state
 * change is in the database and every step is idempotent, a process killed at any point is simply
 * restarted: its lease expires, another engine claims the job and re-runs whatever was not done.
 * An engine that cannot renew its lease stops (fencing, see lease.ts) before the lease can expire.
 */
import { InputError, UpstreamError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { claimJob } from '../store/claimJob.ts';
import type { Db, Dialect } from '../store/db.ts';
import { finishJob } from '../store/finishJob.ts';
import type { JobError, JobRecord } from '../store/findJob.ts';
import { insertJobEvent, type JobEvent } from '../store/insertJobEvent.ts';
import { listJobSteps } from '../store/listJobSteps.ts';
import { updateJobStep, type StepUpdate } from '../store/updateJobStep.ts';
import { keepLease } from './lease.ts';
import { renewJobLease } from '../store/renewJobLease.ts';

/** A unit of work the engine schedules: it runs once every step in `dependsOn` is done. */
export interface EngineStep {
  readonly id: string;
  readonly dependsOn: readonly string[];
}

/** What a running step may read and record. */
export interface StepContext {
  job: JobRecord;
  /** The checkpoint an earlier, interrupted run of this step saved (undefined on a first run). */
  previousOutput: unknown;
  /** Outputs of the job's finished steps, by step id. */
  outputs: ReadonlyMap<string, unknown>;
  /** Aborted when the engine stops (lease lost, crash): long waits should give up. */
  signal: AbortSignal;
  /** Saves a partial output now, so a re-run after a crash knows what this step already made. */
  checkpoint(output: unknown): Promise<void>;
  /** Adds a progress line to the job's event log. */
  event(message: string, level?: JobEvent['level']): Promise<void>;
}

/** Supplies the steps of one job and runs them. */
export interface JobHandler {
  readonly steps: readonly EngineStep[];
  /** Runs one step; returns its output (JSON-serialisable), which becomes its checkpoint. */
  run(step: EngineStep, ctx: StepContext): Promise<unknown>;
  /**
   * Records the job's outcome in the database through `tx`, the transaction that also marks the last
   * step done and the job finished: all of it happens, or (process killed, lease lost) none of it.
   * Database writes only; anything else belongs in `release`.
   */
  finished?(
    job: JobRecord,
    result: { state: 'succeeded' | 'failed'; error: JobError | null; outputs: ReadonlyMap<string, unknown> },
    tx: Db,
  ): Promise<void>;
  /** Frees what the handler holds (clients, sockets) once the engine is done with the job, however it ended. */
  release?(): Promise<void>;
}

/** Test seams. Throwing from a hook is treated as the process dying at that point. */
export interface EngineHooks {
  /**
   * Runs right after a step's output is checkpointed. For the job's last step that is before the
   * transaction that marks it done and finishes the job.
   */
  afterCheckpoint?(job: JobRecord, stepId: string): void | Promise<void>;
}

/** Dependencies of {@link createEngine}. */
export interface EngineDeps {
  db: Db;
  dialect: Dialect;
  logger: Logger;
  now: () => Date;
  /** Unique name of this engine instance (host + pid + random), recorded as the lease owner. */
  owner: string;
  /** How long a claim lasts without a heartbeat; default 30 s. */
  leaseMs?: number;
  /** How often the lease is renewed; default (and at most) a third of `leaseMs`. */
  heartbeatMs?: number;
  /** Most steps of one job run at once; default 8. */
  concurrency?: number;
  handlerFor(job: JobRecord): JobHandler | Promise<JobHandler>;
  hooks?: EngineHooks;
}

/**
 * How a run ended for this engine: finished either way, or `lost` when this engine stopped owning
 * the job (taken over, lease not renewable, database unreachable); another engine resumes it.
 */
export interface RunOutcome {
  jobId: string;
  state: 'succeeded' | 'failed' | 'lost';
  error: JobError | null;
}

/** A job this engine claimed and has not started yet; `run` executes it to the end. */
export interface ClaimedJob {
  job: JobRecord;
  run(): Promise<RunOutcome>;
}

/** The engine returned by {@link createEngine}. */
export interface Engine {
  /** Claims the oldest runnable job without running it (a worker loop runs several at once). */
  claimNext(): Promise<ClaimedJob | undefined>;
  /** Claims the oldest runnable job and runs it to the end; undefined when nothing is runnable. */
  runNext(): Promise<RunOutcome | undefined>;
  /** Claims this job (queued, or running with an expired lease) and runs it; undefined if not claimable. */
  runJob(jobId: string): Promise<RunOutcome | undefined>;
}

/** Turns anything thrown by a step into the error recorded on the step and job. */
export function jobErrorFrom(error: unknown, stepId?: string): JobError {
  const code = (error as { code?: unknown } | null)?.code;
  return {
    ...(stepId === undefined ? {} : { stepId }),
    code: typeof code === 'string' ? code : 'step_failed',
    message: error instanceof Error ? error.message : String(error),
  };
}

/** Checks that the steps form a DAG over known ids; throws InputError naming the problem. */
export function checkSteps(steps: readonly EngineStep[]): void {
  const ids = new Set<string>();
  for (const s of steps) {
    if (ids.has(s.id)) throw new InputError(`plan has step ${s.id} twice`, { code: 'invalid_plan' });
    ids.add(s.id);
  }
  for (const s of steps) {
    for (const d of s.dependsOn) {
      if (!ids.has(d))
        throw new InputError(`step ${s.id} depends on unknown step ${d}`, { code: 'invalid_plan' });
    }
  }
  const done = new Set<string>();
  let progress = true;
  while (progress && done.size < steps.length) {
    progress = false;
    for (const s of steps) {
      if (!done.has(s.id) && s.dependsOn.every((d) => done.has(d))) {
        done.add(s.id);
        progress = true;
      }
    }
  }
  if (done.size < steps.length) throw new InputError('plan has a dependency cycle', { code: 'invalid_plan' });
}

/** Thrown inside the finishing transaction to roll it back: the lease is no longer ours. */
class LeaseGone extends Error {}
/** Wraps an error thrown by `JobHandler.finished`, so it fails the job instead of abandoning it. */
class FinishFailed extends Error {}

/** Creates an engine; run several (in one or many processes) against the same database safely. */
export function createEngine(deps: EngineDeps): Engine {
  const leaseMs = deps.leaseMs ?? 30_000;
  const third = Math.max(10, Math.floor(leaseMs / 3));
  const heartbeatMs = Math.min(deps.heartbeatMs ?? third, third);
  const concurrency = Math.max(1, deps.concurrency ?? 8);
  const iso = (offsetMs = 0) => new Date(deps.now().getTime() + offsetMs).toISOString();
  const log = deps.logger.child({ engine: deps.owner });
  const inTransaction = <T>(work: (tx: Db) => Promise<T>): Promise<T> =>
    deps.db.isTransaction ? work(deps.db) : deps.db.transaction().execute(work);

  async function claim(jobId?: string): Promise<ClaimedJob | undefined> {
    const job = await claimJob({
      db: deps.db,
      dialect: deps.dialect,
      owner: deps.owner,
      now: iso(),
      leaseExpiresAt: iso(leaseMs),
      ...(jobId === undefined ? {} : { jobId }),
    });
    return job && { job, run: () => execute(job) };
  }

  async function execute(job: JobRecord): Promise<RunOutcome> {
    const controller = new AbortController();
    /** Why this engine stopped owning the job; once set, it writes nothing more. */
    let gone: string | undefined;
    let crash: { error: unknown } | undefined;
    const alive = () => gone === undefined && crash === undefined;
    const abandon = (why: string, error?: unknown) => {
      if (alive()) {
        gone = why;
        log.warn({ jobId: job.id, err: error }, `stopped running the job: ${why}`);
      }
      controller.abort();
    };
    const lost: RunOutcome = { jobId: job.id, state: 'lost', error: null };
    const lease = keepLease({
      renew: async (now, leaseExpiresAt) =>
        renewJobLease({ db: deps.db, jobId: job.id, owner: deps.owner, now, leaseExpiresAt }),
      logger: log.child({ jobId: job.id }),
      now: deps.now,
      leaseMs,
      heartbeatMs,
      // The claim set the lease from this moment (claimJob writes updated_at = now).
      renewedAt: new Date(job.updatedAt),
      onLost: abandon,
    });

    // Every write goes through here: none once the job is gone, and a failed one gives the job up
    // (its lease then expires and another engine resumes it) rather than guessing what was saved.
    const write = async (what: string, op: () => Promise<boolean | void>) => {
      if (!alive()) return;
      try {
        if ((await op()) === false) abandon('another engine took the job over');
      } catch (error) {
        abandon(`could not record ${what}`, error);
      }
    };
    const event = (stepId: string | null, message: string, level: JobEvent['level'] = 'info') =>
      write('a job event', () =>
        insertJobEvent({ db: deps.db, jobId: job.id, event: { at: iso(), stepId, level, message } }),
      );
    const writeStep = (stepId: string, update: StepUpdate) =>
      write(`step ${stepId}`, () =>
        updateJobStep({ db: deps.db, jobId: job.id, stepId, owner: deps.owner, update }),
      );

    let handler: JobHandler | undefined;
    try {
      const h = (handler = await deps.handlerFor(job));
      const steps = h.steps;
      checkSteps(steps);
      const rows = new Map((await listJobSteps({ db: deps.db, jobId: job.id })).map((r) => [r.stepId, r]));
      const outputs = new Map<string, unknown>();
      const done = new Set<string>();
      for (const step of steps) {
        const row = rows.get(step.id);
        if (row?.state === 'done') {
          done.add(step.id);
          outputs.set(step.id, row.output);
        }
      }
      await event(
        null,
        job.attempt > 1
          ? `resuming (attempt ${job.attempt}), ${done.size}/${steps.length} steps already done`
          : `started ${job.kind}`,
      );

      const started = new Set<string>(done);
      /** Steps whose work returned; the one that completes the set is the job's last step. */
      const completed = new Set<string>(done);
      const running = new Map<string, Promise<void>>();
      let failure: JobError | undefined;
      let lastStep: string | undefined;

      const runStep = async (step: EngineStep) => {
        const row = rows.get(step.id);
        const ctx: StepContext = {
          job,
          previousOutput: row?.output ?? undefined,
          outputs,
          signal: controller.signal,
          checkpoint: async (output) => {
            await writeStep(step.id, { output });
            if (!alive()) {
              throw new UpstreamError(`stopped: ${gone ?? 'the engine stopped'}`, { code: 'aborted' });
            }
          },
          event: (message, level) => event(step.id, message, level),
        };
        await writeStep(step.id, {
          state: 'running',
          startedAt: iso(),
          finishedAt: null,
          error: null,
          countRun: true,
        });
        await event(step.id, row?.state === 'running' ? 'step re-run after interruption' : 'step started');
        if (!alive()) return;
        let output: unknown;
        try {
          output = (await h.run(step, ctx)) ?? null;
        } catch (error) {
          if (!alive()) return;
          const jobError = jobErrorFrom(error, step.id);
          failure ??= jobError;
          await writeStep(step.id, { state: 'failed', error: jobError, finishedAt: iso() });
          await event(step.id, `step failed: ${jobError.message}`, 'error');
          return;
        }
        if (!alive()) return;
        completed.add(step.id);
        const last = completed.size === steps.length;
        // The last step is marked done by the transaction that finishes the job.
        await writeStep(step.id, last ? { output } : { state: 'done', output, finishedAt: iso() });
        if (!alive()) return;
        outputs.set(step.id, output);
        if (last) lastStep = step.id;
        else {
          done.add(step.id);
          await event(step.id, 'step done');
        }
        try {
          await deps.hooks?.afterCheckpoint?.(job, step.id);
        } catch (error) {
          crash ??= { error };
          controller.abort();
        }
      };

      for (;;) {
        // Never start a step once the signal aborted (lease gone, crash) or a step failed.
        if (!controller.signal.aborted && failure === undefined) {
          for (const step of steps) {
            if (running.size >= concurrency) break;
            if (started.has(step.id) || !step.dependsOn.every((d) => done.has(d))) continue;
            started.add(step.id);
            const p = runStep(step).finally(() => running.delete(step.id));
            running.set(step.id, p);
          }
        }
        if (running.size === 0) break;
        await Promise.race(running.values());
      }

      if (crash) throw crash.error;
      if (!alive()) return lost;
      return await finish(failure ?? null, { handler: h, outputs, lastStep });
    } catch (error) {
      if (crash) throw crash.error;
      if (!alive()) return lost;
      const jobError = jobErrorFrom(error);
      await event(null, `job failed: ${jobError.message}`, 'error');
      return await finish(jobError, undefined);
    } finally {
      lease.stop();
      controller.abort();
      await handler?.release?.().catch((error: unknown) => {
        log.warn({ err: error, jobId: job.id }, 'releasing the job handler failed');
      });
    }

    /**
     * Ends the job in one transaction: the last step done, the handler's records and the job's
     * state, so a process killed in between leaves the job running (and resumable), never half-ended.
     */
    async function finish(
      error: JobError | null,
      from:
        | { handler: JobHandler; outputs: ReadonlyMap<string, unknown>; lastStep: string | undefined }
        | undefined,
      withHandler = true,
    ): Promise<RunOutcome> {
      if (!alive()) return lost;
      const state = error === null ? 'succeeded' : 'failed';
      const at = iso();
      const held = (ok: boolean) => {
        if (!ok) throw new LeaseGone();
      };
      try {
        await inTransaction(async (tx) => {
          if (from?.lastStep !== undefined) {
            const stepId = from.lastStep;
            held(
              await updateJobStep({
                db: tx,
                jobId: job.id,
                stepId,
                owner: deps.owner,
                update: { state: 'done', finishedAt: at },
              }),
            );
            await insertJobEvent({
              db: tx,
              jobId: job.id,
              event: { at, stepId, level: 'info', message: 'step done' },
            });
          }
          if (withHandler && from?.handler.finished) {
            try {
              await from.handler.finished(job, { state, error, outputs: from.outputs }, tx);
            } catch (finishError) {
              throw new FinishFailed('finished failed', { cause: finishError });
            }
          }
          const message = `${job.kind} ${state}`;
          await insertJobEvent({
            db: tx,
            jobId: job.id,
            event: { at, stepId: null, level: state === 'succeeded' ? 'info' : 'error', message },
          });
          held(await finishJob({ db: tx, jobId: job.id, owner: deps.owner, state, error, now: at }));
        });
      } catch (failed) {
        if (failed instanceof FinishFailed) {
          const jobError = jobErrorFrom(failed.cause);
          await event(null, `finishing failed: ${jobError.message}`, 'error');
          return finish(error ?? jobError, from, false);
        }
        if (failed instanceof LeaseGone) abandon('another engine took the job over');
        else abandon("could not record the job's end", failed);
        return lost;
      }
      log.info({ jobId: job.id, state }, 'job finished');
      return { jobId: job.id, state, error };
    }
  }

  return {
    claimNext: () => claim(),
    async runNext() {
      return (await claim())?.run();
    },
    async runJob(jobId) {
      return (await claim(jobId))?.run();
    },
  };
}
