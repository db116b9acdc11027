import type { Logger } from '../log.ts';
import type { Engine } from '../provisioner/engine.ts';

/** Dependencies of {@link startWorkerLoop}. */
export interface WorkerLoopDeps {
  engine: Pick<Engine, 'runNext'>;
  logger: Logger;
  /** Wait between two claims when no job was runnable (or the database failed); keep it short. */
  idleMs: number;
}

/** How {@link WorkerLoop.stop} ended: the loop finished, or the grace period ran out mid-job. */
export type StopResult = 'stopped' | 'abandoned';

/** A running job worker. */
export interface WorkerLoop {
  /**
   * Stops claiming and waits up to `graceMs` for the job in hand. An abandoned job is safe: its
   * lease stops being renewed when the process exits, and another replica resumes it.
   */
  stop(graceMs: number): Promise<StopResult>;
}

/**
 * The replica's job worker: claims and runs jobs one after another, polling every `idleMs` when
 * nothing is runnable. Several replicas run this loop against one database; the engine's row
 * locks and leases make sure each job has one runner at a time.
 */
export function startWorkerLoop(deps: WorkerLoopDeps): WorkerLoop {
  let stopping = false;
  let wake: (() => void) | undefined;

  const idle = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, deps.idleMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const loop = (async () => {
    while (!stopping) {
      let ran = false;
      try {
        ran = (await deps.engine.runNext()) !== undefined;
      } catch (error) {
        deps.logger.error({ err: error }, 'job worker: claiming or running a job failed');
      }
      if (!ran && !stopping) await idle();
      wake = undefined;
    }
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
