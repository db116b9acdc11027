/**
 * The durable job engine: runs the steps of a claimed job in dependency order, several at once when
 * they are independent, checkpointing each step's output in the database. It knows nothing about
 * clusters or clouds; a `JobHandler` supplies the steps and runs each one. Because every state
 * change is in the database and every step is idempotent, a process killed at any point is simply
 * restarted: its lease expires, another engine claims the job and re-runs whatever was not done.
 */
import { InputError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { claimJob } from '../store/claimJob.ts';
import type { Db, Dialect } from '../store/db.ts';
import { finishJob } from '../store/finishJob.ts';
import type { JobError, JobRecord } from '../store/findJob.ts';
import { insertJobEvent, type JobEvent } from '../store/insertJobEvent.ts';
import { listJobSteps } from '../store/listJobSteps.ts';
import { renewJobLease } from '../store/renewJobLease.ts';
import { updateJobStep } from '../store/updateJobStep.ts';

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
  /** Called once the job has succeeded or failed (still under the lease). */
  finished?(
    job: JobRecord,
    result: { state: 'succeeded' | 'failed'; error: JobError | null; outputs: ReadonlyMap<string, unknown> },
  ): Promise<void>;
}

/** Test seams. Throwing from a hook is treated as the process dying at that point. */
export interface EngineHooks {
  /** Runs right after a step's output is checkpointed. */
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
  /** How often the lease is renewed; default a third of `leaseMs`. */
  heartbeatMs?: number;
  /** Most steps run at once; default 8. */
  concurrency?: number;
  handlerFor(job: JobRecord): JobHandler | Promise<JobHandler>;
  hooks?: EngineHooks;
}

/** How a run ended for this engine: finished either way, or `lost` when the lease went elsewhere. */
export interface RunOutcome {
  jobId: string;
  state: 'succeeded' | 'failed' | 'lost';
  error: JobError | null;
}

/** The engine returned by {@link createEngine}. */
export interface Engine {
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

/** Creates an engine; run several (in one or many processes) against the same database safely. */
export function createEngine(deps: EngineDeps): Engine {
  const leaseMs = deps.leaseMs ?? 30_000;
  const heartbeatMs = deps.heartbeatMs ?? Math.max(10, Math.floor(leaseMs / 3));
  const concurrency = Math.max(1, deps.concurrency ?? 8);
  const iso = (offsetMs = 0) => new Date(deps.now().getTime() + offsetMs).toISOString();
  const log = deps.logger.child({ engine: deps.owner });

  async function claim(jobId?: string): Promise<JobRecord | undefined> {
    return claimJob({
      db: deps.db,
      dialect: deps.dialect,
      owner: deps.owner,
      now: iso(),
      leaseExpiresAt: iso(leaseMs),
      ...(jobId === undefined ? {} : { jobId }),
    });
  }

  async function execute(job: JobRecord): Promise<RunOutcome> {
    const controller = new AbortController();
    let lost = false;
    let crash: { error: unknown } | undefined;
    const stop = () => !controller.signal.aborted && controller.abort();
    const heartbeat = setInterval(() => {
      renewJobLease({
        db: deps.db,
        jobId: job.id,
        owner: deps.owner,
        now: iso(),
        leaseExpiresAt: iso(leaseMs),
      })
        .then((held) => {
          if (!held && !crash) {
            lost = true;
            stop();
          }
        })
        .catch((error: unknown) => log.warn({ err: error, jobId: job.id }, 'lease heartbeat failed'));
    }, heartbeatMs);
    heartbeat.unref();
    const alive = () => !lost && !crash;

    const event = async (stepId: string | null, message: string, level: JobEvent['level'] = 'info') => {
      if (!alive()) return;
      await insertJobEvent({ db: deps.db, jobId: job.id, event: { at: iso(), stepId, level, message } });
    };
    const writeStep = async (stepId: string, update: Parameters<typeof updateJobStep>[0]['update']) => {
      if (!alive()) return;
      const held = await updateJobStep({ db: deps.db, jobId: job.id, stepId, owner: deps.owner, update });
      if (!held) {
        lost = true;
        stop();
      }
    };

    try {
      const handler = await deps.handlerFor(job);
      checkSteps(handler.steps);
      const rows = new Map((await listJobSteps({ db: deps.db, jobId: job.id })).map((r) => [r.stepId, r]));
      const outputs = new Map<string, unknown>();
      const done = new Set<string>();
      for (const step of handler.steps) {
        const row = rows.get(step.id);
        if (row?.state === 'done') {
          done.add(step.id);
          outputs.set(step.id, row.output);
        }
      }
      await event(
        null,
        job.attempt > 1
          ? `resuming (attempt ${job.attempt}), ${done.size}/${handler.steps.length} steps already done`
          : `started ${job.kind}`,
      );

      const started = new Set<string>(done);
      const running = new Map<string, Promise<void>>();
      let failure: JobError | undefined;

      const runStep = async (step: EngineStep) => {
        const row = rows.get(step.id);
        const ctx: StepContext = {
          job,
          previousOutput: row?.output ?? undefined,
          outputs,
          signal: controller.signal,
          checkpoint: (output) => writeStep(step.id, { output }),
          event: (message, level) => event(step.id, message, level),
        };
        await writeStep(step.id, {
          state: 'running',
          startedAt: iso(),
          finishedAt: null,
          error: null,
          countRun: true,
        });
        if (!alive()) return;
        await event(step.id, row?.state === 'running' ? 'step re-run after interruption' : 'step started');
        let output: unknown;
        try {
          output = await handler.run(step, ctx);
        } catch (error) {
          if (!alive()) return;
          const jobError = jobErrorFrom(error, step.id);
          failure ??= jobError;
          await writeStep(step.id, { state: 'failed', error: jobError, finishedAt: iso() });
          await event(step.id, `step failed: ${jobError.message}`, 'error');
          return;
        }
        if (!alive()) return;
        await writeStep(step.id, { state: 'done', output: output ?? null, finishedAt: iso() });
        if (!alive()) return;
        outputs.set(step.id, output ?? null);
        done.add(step.id);
        await event(step.id, 'step done');
        try {
          await deps.hooks?.afterCheckpoint?.(job, step.id);
        } catch (error) {
          crash ??= { error };
          stop();
        }
      };

      for (;;) {
        if (alive() && failure === undefined) {
          for (const step of handler.steps) {
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
      if (lost) {
        log.warn({ jobId: job.id }, 'lost the job lease; another engine owns the job now');
        return { jobId: job.id, state: 'lost', error: null };
      }
      const state = failure === undefined ? 'succeeded' : 'failed';
      const error = failure ?? null;
      if (handler.finished) {
        try {
          await handler.finished(job, { state, error, outputs });
        } catch (finishError) {
          const jobError = jobErrorFrom(finishError);
          await event(null, `finishing failed: ${jobError.message}`, 'error');
          return await finalize('failed', error ?? jobError);
        }
      }
      return await finalize(state, error);
    } catch (error) {
      if (crash) throw crash.error;
      if (lost) return { jobId: job.id, state: 'lost', error: null };
      const jobError = jobErrorFrom(error);
      await event(null, `job failed: ${jobError.message}`, 'error');
      return await finalize('failed', jobError);
    } finally {
      clearInterval(heartbeat);
      stop();
    }

    async function finalize(state: 'succeeded' | 'failed', error: JobError | null): Promise<RunOutcome> {
      await event(
        null,
        state === 'succeeded' ? `${job.kind} succeeded` : `${job.kind} failed`,
        state === 'succeeded' ? 'info' : 'error',
      );
      const held = await finishJob({
        db: deps.db,
        jobId: job.id,
        owner: deps.owner,
        state,
        error,
        now: iso(),
      });
      if (!held) return { jobId: job.id, state: 'lost', error: null };
      log.info({ jobId: job.id, state }, 'job finished');
      return { jobId: job.id, state, error };
    }
  }

  return {
    async runNext() {
      const job = await claim();
      return job ? execute(job) : undefined;
    },
    async runJob(jobId) {
      const job = await claim(jobId);
      return job ? execute(job) : undefined;
    },
  };
}
