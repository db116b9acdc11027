import type { Logger } from '../log.ts';
import type { Engine } from '../provisioner/engine.ts';
import { DEFAULT_HEAL_POLL_SECONDS, type Healer } from '../provisioner/heal.ts';
import type { Provisioner } from '../provisioner/provisioner.ts';
import type { Reconciler } from '../provisioner/reconcile.ts';

/** Dependencies of {@link startWorkerLoop}. */
export interface WorkerLoopDeps {
  engine: Pick<Engine, 'claimNext'>;
  logger: Logger;
  /** Wait between two claims when no job was runnable (or the database failed); keep it short. */
  idleMs: number;
  /** Most jobs run at once by this replica (the claim keeps them on different clusters); default 4. */
  concurrency?: number;
  /**
   * Claimed from when no job is runnable: reconcile passes share the slots with jobs, but never
   * take the last one (unless `concurrency` is 1), so a job queued meanwhile can start.
   */
  reconciler?: Pick<Reconciler, 'claimNext'>;
  /** Run between claims, one pass at a time, beside the jobs (it only queues heal jobs). */
  healer?: Pick<Healer, 'pass'>;
}

/** How many jobs a replica runs at once unless configured (`KAAS_JOB_CONCURRENCY`). */
export const DEFAULT_JOB_CONCURRENCY = 4;

/**
 * The worker loop's controllers: the reconciler for a resync period in seconds (0: reconciliation
 * off) and the healer, looking at each cluster every `healPollSeconds` (clusters switch it off in
 * their spec, `autoHeal: false`).
 */
export function reconcilerOf(
  provisioner: Pick<Provisioner, 'reconciler' | 'healer'>,
  resyncSeconds: number,
  healPollSeconds = DEFAULT_HEAL_POLL_SECONDS,
): Pick<WorkerLoopDeps, 'reconciler' | 'healer'> {
  return {
    ...(resyncSeconds > 0 ? { reconciler: provisioner.reconciler({ resyncMs: resyncSeconds * 1000 }) } : {}),
    healer: provisioner.healer({ pollMs: healPollSeconds * 1000 }),
  };
}

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
 * slot is free and polling every `idleMs` when nothing is runnable; between jobs it runs the
 * reconciler's passes and, when nothing was claimed, a healer pass (one at a time). Several replicas run this loop against one database; the claim's row locks
 * and leases give each job (and each cluster's reconcile pass) one runner at a time, and each
 * cluster at most one running job.
 */
export function startWorkerLoop(deps: WorkerLoopDeps): WorkerLoop {
  const concurrency = Math.max(1, deps.concurrency ?? DEFAULT_JOB_CONCURRENCY);
  const running = new Set<Promise<void>>();
  const passes = new Set<Promise<void>>();
  const passSlots = Math.max(1, concurrency - 1);
  let stopping = false;
  let wake: (() => void) | undefined;
  let healing: Promise<void> | undefined;

  /** Waits `ms` (forever when undefined) or until a job ends or stop is called. */
  const pause = (ms: number | undefined) =>
    new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const start = (run: () => Promise<unknown>, what: string, also?: Set<Promise<void>>) => {
    const work: Promise<void> = run()
      .then(() => undefined)
      .catch((error: unknown) => deps.logger.error({ err: error }, `job worker: running ${what} failed`))
      .finally(() => {
        running.delete(work);
        also?.delete(work);
        wake?.();
      });
    running.add(work);
    also?.add(work);
  };

  /** Claims a job, else (a slot left for passes) a reconcile pass; whether anything was claimed. */
  const claim = async (): Promise<boolean> => {
    const next = await deps.engine.claimNext();
    if (next) {
      start(() => next.run(), 'a job');
      return true;
    }
    if (!deps.reconciler || passes.size >= passSlots) return false;
    const pass = await deps.reconciler.claimNext();
    if (pass) start(() => pass.run(), `a reconcile pass on ${pass.clusterId}`, passes);
    return pass !== undefined;
  };

  const loop = (async () => {
    while (!stopping) {
      if (running.size >= concurrency) {
        await pause(undefined);
        continue;
      }
      let claimed = false;
      try {
        claimed = await claim();
      } catch (error) {
        deps.logger.error({ err: error }, 'job worker: claiming work failed');
      }
      if (!claimed && !stopping && deps.healer && !healing) {
        healing = deps.healer
          .pass()
          .then(() => undefined)
          .catch((error: unknown) => deps.logger.error({ err: error }, 'job worker: auto-healing failed'))
          .finally(() => (healing = undefined));
      }
      if (!claimed && !stopping) await pause(deps.idleMs);
    }
    await Promise.all([...running, healing]);
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
