/**
 * What the auto-healing suites on kubelab share: the production worker loop with the provisioner's
 * healer (and its jobs, or none), the cluster's jobs, servers, AutoHeal condition and audit log as
 * the store and the cloud hold them, and waits on kubelab's poll.
 */
import type { WorkerLoop } from '../../src/cli/worker.ts';
import { startWorkerLoop } from '../../src/cli/worker.ts';
import { tagsFor } from '../../src/cluster/names.ts';
import type { Provisioner } from '../../src/provisioner/provisioner.ts';
import { findHealStatus } from '../../src/store/findHealStatus.ts';
import { listAuditEvents } from '../../src/store/listAuditEvents.ts';
import { listJobs } from '../../src/store/listJobs.ts';
import type { ClusterLab } from '../provisioner/clusterlab.ts';
import { logger, type CloudsimSuite } from '../provisioner/support.ts';

/**
 * The healing suites' times: a node is replaced 5 s after it went NotReady, the healer looks every
 * second, and a dead node's drain is given up after 5 s (the node is removed anyway).
 */
export const LAB_HEAL = { unhealthyAfterSeconds: 5, pollMs: 1_000, drainMs: 5_000 } as const;

/** Helpers bound to one suite's cluster and provisioner (read when called: set in beforeAll). */
export interface HealingLab {
  /**
   * (Re)starts the production worker loop: the healer looking every `pollMs`, and the jobs unless
   * `jobs` is false. One loop at a time: a running one is stopped first.
   */
  startWorker(jobs?: boolean): Promise<void>;
  /** Stops the worker loop, if one runs (waiting up to 30 s for its jobs). */
  stopWorker(): Promise<void>;
  /** Waits (kubelab's poll) until `check` holds, for up to `ms`; returns how long it took. */
  within(ms: number, what: string, check: () => Promise<boolean>): Promise<number>;
  jobs(): ReturnType<typeof listJobs>;
  /** The names of the cluster's servers, sorted. */
  servers(): Promise<string[]>;
  condition(): Promise<{ status: string; reason: string; message: string } | undefined>;
  audit(): ReturnType<typeof listAuditEvents>;
  /** Waits up to a minute until the AutoHeal condition's reason is `reason`. */
  untilReason(reason: string): Promise<void>;
  /** Waits long enough for the healer to have replaced a node, were it going to. */
  pastUnhealthyAfter(): Promise<void>;
}

export function healingLab(
  suite: Pick<CloudsimSuite, 'cloud'>,
  current: () => { c: ClusterLab; p: Provisioner },
): HealingLab {
  const timing = LAB_HEAL;
  const within: HealingLab['within'] = async (ms, what, check) => {
    const started = Date.now();
    await current().c.lab.waitFor(what, check, ms);
    return Date.now() - started;
  };
  const condition = async () => {
    const { c } = current();
    return (await findHealStatus({ db: c.store.db, clusterId: c.clusterId }))?.condition;
  };
  let loop: WorkerLoop | undefined;
  const stopWorker = async () => {
    await loop?.stop(30_000);
    loop = undefined;
  };
  return {
    async startWorker(jobs = true) {
      await stopWorker();
      const { p } = current();
      loop = startWorkerLoop({
        engine: jobs ? p.engine : { claimNext: async () => undefined },
        healer: p.healer({ pollMs: timing.pollMs }),
        logger,
        idleMs: 200,
        concurrency: 2,
      });
    },
    stopWorker,
    within,
    jobs: () => listJobs({ db: current().c.store.db, clusterId: current().c.clusterId }),
    servers: async () =>
      (await suite.cloud.nova.listServers({ tags: tagsFor(current().c.clusterId) }))
        .map((s) => s.name)
        .sort(),
    condition,
    audit: () =>
      listAuditEvents({
        db: current().c.store.db,
        clusterId: current().c.clusterId,
        projectId: 'none',
        limit: 100,
      }),
    async untilReason(reason) {
      await within(60_000, `the ${reason} condition`, async () => (await condition())?.reason === reason);
    },
    pastUnhealthyAfter: () =>
      new Promise((r) => setTimeout(r, timing.unhealthyAfterSeconds * 1000 + 4 * timing.pollMs)),
  };
}
