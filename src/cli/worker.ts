import type { Logger } from '../log.ts';
import type { Engine } from '../provisioner/engine.ts';

/** Dependencies of {@link startWorkerLoop}. */
export interface WorkerLoopDeps {
  engine: Pick<Engine, 'claimNext'>;
  logger: Logger;
  /** Wait between two claims when no job was runnable (or the database failed); keep it short. */
  idleMs: number;
  /** Most jobs run at once by this replica (the claim keeps them on different clusters); default 4. */
  concurrency?: number;
}

/** How many jobs a replica runs at once unless configured (`KAAS_JOB_CONCURRENCY`). */
export const DEFAULT_JOB_CONCURRENCY = 4;

/** How {@link WorkerLoop.stop} ended: the loop finished, or the grace period ran out mid-job. */
export type StopResult = 'stopped' | 'abandoned';

/** A running job worker. */
export interface WorkerLoop {
  /**
   * Stops claiming and waits up to `graceMs` for the jobs in hand. An abandoned job is safe: its
   * lease stops being renewed when the process exits, and another replica resumes it.
   */
  stop(graceMs: number): Promise<StopResult>;
}

/**
 * The replica's job worker: keeps up to `concurrency` jobs running, claiming the next as soon as a
 * slot is free and polling every `idleMs` when nothing is runnable. Several replicas run this loop
 * against one database; the claim's row locks and leases give each job one runner at a time, and
 * each cluster at most one running job.
 */
export function startWorkerLoop(deps: WorkerLoopDeps): WorkerLoop {
  const concurrency = Math.max(1, deps.concurrency ?? DEFAULT_JOB_CONCURRENCY);
  const running = new Set<Promise<void>>();
  let stopping = false;
  let wake: (() => void) | undefined;

  /** Waits `ms` (forever when undefined) or until a job ends or stop is called. */
  const pause = (ms: number | undefined) =>
    new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const start = (run: () => Promise<unknown>) => {
    const job: Promise<void> = run()
      .then(() => undefined)
      .catch((error: unknown) => deps.logger.error({ err: error }, 'job worker: running a job failed'))
      .finally(() => {
        running.delete(job);
        wake?.();
      });
    running.add(job);
  };

  const loop = (async () => {
    while (!stopping) {
      if (running.size >= concurrency) {
        await pause(undefined);
        continue;
      }
      let claimed = false;
      try {
        const next = await deps.engine.claimNext();
        if (next) {
          claimed = true;
          start(() => next.run());
        }
      } catch (error) {
        deps.logger.error({ err: error }, 'job worker: claiming a job failed');
      }
      if (!claimed && !stopping) await pause(deps.idleMs);
    }
    await Promise.all(running);
  })();

  return {
    async stop(graceMs) {
      stopping = true;
      wake?.();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<StopResult>((resolve) => {
        timer = setTimeout(() => resolve('abandoned'), graceMs);
      });
      try {
        return await Promise.race([loop.then((): StopResult => 'stopped'), grace]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
