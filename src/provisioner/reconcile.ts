/**
 * Continuous reconciliation: keeps each ready cluster's managed services and tenant role bindings
 * as declared, run by the job workers of `kaas dev` and `kaas serve` between jobs.
 *
 * A pass on one cluster is claimed like a job (claimReconcile: one statement, a lease, one replica
 * at a time) and re-applies with the same appliers create/resize/upgrade use (applyAddons,
 * applyRoleBindings), which compare through server-side apply: nothing changes in the cluster when
 * nothing drifted. A full pass is due every resync period; a role-binding revision saved in the
 * panel and not yet tried makes a bindings-only pass due at the next poll. A cluster with a job
 * queued or running is never claimed, and a pass in progress stops at its next lease renewal when
 * one is queued (the operation goes first). The reconciler writes only service statuses and its
 * own record: never the cluster's state or its jobs. Failures are recorded and logged, never thrown.
 * Unlike a job, a pass never removes a service the cluster still declares: one that can no longer
 * be applied (its operator Secret is gone) is reported failed and left running. A service no longer
 * declared (cluster-autoscaler once no group is autoscaled, or kaas no longer serves its provider)
 * is removed, as a job's addons step would.
 */
import { wantedAddons, type AddonContext } from '../addons/index.ts';
import { ConflictError, UpstreamError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { claimReconcile, type ReconcileClaim } from '../store/claimReconcile.ts';
import type { Db, Dialect } from '../store/db.ts';
import { finishReconcile } from '../store/finishReconcile.ts';
import { getRoleBindings } from '../store/getRoleBindings.ts';
import { insertReconcileRows } from '../store/insertReconcileRows.ts';
import { listAddonStatus } from '../store/listAddonStatus.ts';
import { renewReconcileLease } from '../store/renewReconcileLease.ts';
import { upsertAddonStatus } from '../store/upsertAddonStatus.ts';
import { applyAddons, type ApplyAddonsDeps } from './addons/apply.ts';
import type { ClusterApi } from './addons/client.ts';
import { applyRoleBindings } from './addons/rolebindings.ts';
import type { WaitOptions } from './addons/wait.ts';
import { keepLease } from './lease.ts';
import { selectAddons } from './steps/addons.ts';

/** How often a cluster's managed services are re-applied unless configured (`KAAS_RESYNC_SECONDS`). */
export const DEFAULT_RESYNC_SECONDS = 300;

/** What a pass applies to: the cluster's API as kaas, and the context its services render from. */
export interface ReconcileTarget {
  kube: ClusterApi;
  context: AddonContext;
  /** How long the applier waits for CRDs and workloads (default the appliers' own). */
  wait?: Partial<WaitOptions>;
}

/** Dependencies of {@link createReconciler}. */
export interface ReconcilerDeps {
  db: Db;
  dialect: Dialect;
  logger: Logger;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** Lease owner name of this replica. */
  owner: string;
  /** Time between two full passes on one cluster. */
  resyncMs: number;
  /** How long a claim lasts without renewal; default 60 s (renewed every third of it). */
  leaseMs?: number;
  /** Opens a cluster for a pass; throws (a clear error, recorded) when kaas cannot reach it. */
  target(clusterId: string): Promise<ReconcileTarget>;
}

/** How a pass ended: converged, failed (recorded), or stopped (a job came, or the lease was lost). */
export interface ReconcileOutcome {
  clusterId: string;
  full: boolean;
  state: 'synced' | 'failed' | 'stopped';
  error?: string;
}

/** A claimed pass, not started yet. */
export interface ClaimedPass {
  clusterId: string;
  run(): Promise<ReconcileOutcome>;
}

/** The reconciler a worker loop polls. */
export interface Reconciler {
  /** Claims the cluster most in need of a pass; undefined when none is due. */
  claimNext(): Promise<ClaimedPass | undefined>;
}

/** Thrown by a stopped pass's API calls, so the appliers end at their next call. */
const STOPPED = 'reconcile_stopped';

/** `kube` whose every call fails once `signal` aborted: a pass that lost its lease writes nothing more. */
function fenced(kube: ClusterApi, signal: AbortSignal, why: () => string): ClusterApi {
  const guard =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (signal.aborted) throw new UpstreamError(`reconcile stopped: ${why()}`, { code: STOPPED });
      return call(...args);
    };
  return {
    apply: guard((o) => kube.apply(o)),
    read: guard((r) => kube.read(r)),
    list: guard((v, k, s) => kube.list(v, k, s)),
    remove: guard((r) => kube.remove(r)),
    served: guard((v, k) => kube.served(v, k)),
  };
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Re-applies the services the addons step would (same selection, same applier), which removes those
 * no longer declared. A declared service applied before that can no longer be (an operator Secret
 * it needs is gone) would be removed too; a resync never takes such a service down, so the pass
 * applies nothing, marks each such service failed saying why, and fails naming them.
 */
async function applyServices(
  deps: ApplyAddonsDeps & { log: Logger },
  clusterId: string,
  target: ReconcileTarget,
): Promise<void> {
  const skipped: string[] = [];
  const { rendered, secrets } = await selectAddons(
    async (message) => void skipped.push(message),
    deps.kube,
    target.context,
  );
  const applied = new Set(rendered.map((a) => a.addon));
  const declared = new Set(wantedAddons(target.context));
  const dropped = (await listAddonStatus({ db: deps.db, clusterId })).filter(
    (s) => declared.has(s.addon) && !applied.has(s.addon),
  );
  if (dropped.length > 0) {
    for (const s of dropped) {
      const why = skipped.find((m) => m.includes(`"${s.addon}"`)) ?? `managed service "${s.addon}" skipped`;
      await upsertAddonStatus({
        db: deps.db,
        status: { ...s, state: 'failed', message: why, observedAt: deps.now().toISOString() },
      });
    }
    throw new ConflictError(
      `managed services not re-applied, so as not to remove ${dropped.map((s) => s.addon).join(', ')}: ${skipped.join('; ')}`,
      { code: 'reconcile_would_remove' },
    );
  }
  if (skipped.length > 0) deps.log.debug({ clusterId, skipped }, 'reconcile: services skipped');
  await applyAddons(deps, {
    clusterId,
    addons: rendered,
    secrets,
    ...(target.wait ? { wait: target.wait } : {}),
  });
}

/** Creates the reconciler; several replicas may run one against the same database. */
export function createReconciler(deps: ReconcilerDeps): Reconciler {
  const leaseMs = deps.leaseMs ?? 60_000;
  const log = deps.logger.child({ reconciler: deps.owner });
  const iso = (offsetMs = 0) => new Date(deps.now().getTime() + offsetMs).toISOString();

  async function pass(claim: ReconcileClaim, claimedAt: Date): Promise<ReconcileOutcome> {
    const { clusterId, full } = claim;
    const controller = new AbortController();
    let stopped: string | undefined;
    const lease = keepLease({
      renew: (_now, leaseExpiresAt) =>
        renewReconcileLease({ db: deps.db, clusterId, owner: deps.owner, leaseExpiresAt }),
      logger: log.child({ clusterId }),
      now: deps.now,
      leaseMs,
      heartbeatMs: Math.max(10, Math.floor(leaseMs / 3)),
      renewedAt: claimedAt,
      onLost: (why) => {
        // The renewal fails for a job queued or running on the cluster, as for a lease taken over.
        stopped ??= `a job on the cluster goes first, or another replica took the pass over (${why})`;
        controller.abort();
      },
    });
    const errors: string[] = [];
    let revision: number | undefined;
    try {
      revision = (await getRoleBindings({ db: deps.db, clusterId })).revision;
      const target = await deps.target(clusterId);
      const kube = fenced(target.kube, controller.signal, () => stopped ?? 'stopped');
      const applier = { db: deps.db, logger: deps.logger, now: deps.now, sleep: deps.sleep, kube };
      if (full) {
        try {
          await applyServices({ ...applier, log }, clusterId, target);
        } catch (error) {
          errors.push(messageOf(error));
        }
      }
      await applyRoleBindings(applier, { clusterId });
    } catch (error) {
      errors.push(messageOf(error));
    } finally {
      lease.stop();
    }
    if (stopped !== undefined) {
      // Nothing recorded: the cluster stays due, and is claimed again once its job is done.
      await finishReconcile({ db: deps.db, clusterId, owner: deps.owner });
      log.info({ clusterId, why: stopped }, 'reconcile stopped');
      return { clusterId, full, state: 'stopped', error: stopped };
    }
    const error = errors.length > 0 ? errors.join('; ') : null;
    await finishReconcile({
      db: deps.db,
      clusterId,
      owner: deps.owner,
      ...(revision === undefined ? {} : { bindingsTried: revision }),
      ...(full ? { syncedAt: iso() } : {}),
      // A bindings-only pass that succeeded says nothing of the services' last error.
      ...(full || error !== null ? { error } : {}),
    });
    if (error === null) {
      log.info({ clusterId, full, bindingsRevision: revision }, 'reconciled');
      return { clusterId, full, state: 'synced' };
    }
    log.warn({ clusterId, full, error }, 'reconcile failed');
    return { clusterId, full, state: 'failed', error };
  }

  return {
    async claimNext() {
      await insertReconcileRows({ db: deps.db });
      const claimedAt = deps.now();
      const claim = await claimReconcile({
        db: deps.db,
        dialect: deps.dialect,
        owner: deps.owner,
        now: claimedAt.toISOString(),
        leaseExpiresAt: iso(leaseMs),
        dueBefore: iso(-deps.resyncMs),
      });
      return claim && { clusterId: claim.clusterId, run: () => pass(claim, claimedAt) };
    },
  };
}
