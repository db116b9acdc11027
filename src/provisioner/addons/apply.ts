/**
 * Applies the managed services of one cluster: each rendered addon in dependency order, its
 * objects phased (namespaces and CRDs, RBAC, config, workloads, custom resources), with
 * server-side apply as field manager `kaas`; waits for CRDs to be established and workloads to
 * roll out; prunes what an earlier apply created that the spec no longer renders; and records
 * every service's status in the store for the control panel.
 *
 * Applied objects are tracked per service in the store (not found again by label): pruning then
 * needs no list of every kind in the cluster and never touches an object kaas did not write.
 *
 * One owner per object: the applier never takes over an object another writer put in the cluster
 * (a forced server-side apply would do so silently). An object new to a service must be absent or
 * already carry that service's label; the only objects of other writers it removes are those a
 * service declares it supersedes (what master-0's bootstrap applied in earlier releases).
 */
import type { KubernetesObject, RenderedAddon, RequiredSecret } from '../../addons/index.ts';
import { ADDON_NAMES } from '../../addons/index.ts';
import { ADDON_LABEL } from '../../addons/objects.ts';
import { ConflictError, UpstreamError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Db } from '../../store/db.ts';
import { deleteAddonStatus } from '../../store/deleteAddonStatus.ts';
import {
  listAddonStatus,
  type AddonState,
  type AddonStatus,
  type ObjectRef,
} from '../../store/listAddonStatus.ts';
import { upsertAddonStatus } from '../../store/upsertAddonStatus.ts';
import { describeRef, refOf, type ClusterApi, type LiveObject } from './client.ts';
import { applyPhases, phaseOf } from './order.ts';
import { crdEstablished, workloadReadiness } from './readiness.ts';
import { DEFAULT_WAIT, pollUntil, type PollDeps, type WaitOptions } from './wait.ts';

/** What the addon applier needs. */
export interface ApplyAddonsDeps extends PollDeps {
  db: Db;
  logger: Logger;
  kube: ClusterApi;
}

/** One run's input: the cluster, the addons renderAddons produced, and the secrets they read. */
export interface ApplyAddonsInput {
  clusterId: string;
  addons: readonly RenderedAddon[];
  /**
   * Secrets (generated credentials, certificates) the addons read but cannot render. Applied
   * once the namespaces exist, never pruned, never logged.
   */
  secrets?: readonly KubernetesObject[];
  wait?: Partial<WaitOptions>;
}

const sameRef = (a: ObjectRef, b: ObjectRef) =>
  a.apiVersion === b.apiVersion && a.kind === b.kind && a.namespace === b.namespace && a.name === b.name;

function union(a: readonly ObjectRef[], b: readonly ObjectRef[]): ObjectRef[] {
  return [...a, ...b.filter((r) => !a.some((x) => sameRef(x, r)))];
}

/**
 * Applies `input.addons`, prunes services recorded for the cluster that are no longer among them,
 * and returns every service's final status. On the first failure the service is marked failed
 * with the reason, later services stay pending, and the error (an UpstreamError) is thrown.
 * Safe to repeat: unchanged objects are no-ops for the API server.
 */
export async function applyAddons(deps: ApplyAddonsDeps, input: ApplyAddonsInput): Promise<AddonStatus[]> {
  const wait: WaitOptions = { ...DEFAULT_WAIT, ...input.wait };
  const { clusterId } = input;
  const previous = new Map((await listAddonStatus({ db: deps.db, clusterId })).map((s) => [s.addon, s]));
  const record = (addon: string, state: AddonState, message: string, objects: ObjectRef[]) =>
    upsertAddonStatus({
      db: deps.db,
      status: { clusterId, addon, state, message, objects, observedAt: deps.now().toISOString() },
    });

  for (const a of input.addons) {
    await record(a.addon, 'pending', 'waiting to be applied', previous.get(a.addon)?.objects ?? []);
  }

  let secretsApplied = false;
  const applySecrets = async () => {
    if (secretsApplied) return;
    secretsApplied = true;
    for (const s of input.secrets ?? []) await deps.kube.apply(s);
  };

  for (const [i, addon] of input.addons.entries()) {
    const before = previous.get(addon.addon)?.objects ?? [];
    const refs = addon.objects.map(refOf);
    // Record the union first: if this run dies half-way, the next one still knows what to prune.
    await record(addon.addon, 'applying', `applying ${refs.length} objects`, union(before, refs));
    try {
      if (addon.addon !== 'namespaces') await applySecrets();
      await checkSecrets(deps.kube, addon.addon, addon.requiredSecrets);
      // Superseded objects of the same name go before this service's replace them; the others once
      // its workloads are ready, so the cluster is never without what they did.
      const superseded = await othersOf(deps.kube, addon.addon, addon.supersedes ?? []);
      const replaced = superseded.filter((r) => refs.some((x) => sameRef(x, r)));
      await removeAll(deps.kube, replaced);
      await applyObjects(deps, wait, addon, before);
      await waitReady(deps, wait, addon);
      const stale = before.filter((r) => !refs.some((x) => sameRef(x, r)));
      const retired = superseded.filter((r) => !replaced.includes(r));
      await removeAll(deps.kube, [...stale, ...retired]);
      if (addon.addon === 'namespaces') await applySecrets();
      const workloads = addon.readiness.length;
      await record(
        addon.addon,
        'ready',
        `${refs.length} objects applied, ${workloads} workloads ready`,
        refs,
      );
      deps.logger.info(
        {
          clusterId,
          addon: addon.addon,
          objects: refs.length,
          pruned: stale.length,
          superseded: superseded.map(describeRef),
        },
        'addon ready',
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await record(addon.addon, 'failed', message, union(before, refs));
      for (const later of input.addons.slice(i + 1)) {
        await record(
          later.addon,
          'pending',
          `not applied: "${addon.addon}" failed`,
          previous.get(later.addon)?.objects ?? [],
        );
      }
      throw err;
    }
  }

  const wanted = new Set(input.addons.map((a) => a.addon));
  const removed = [...previous.values()]
    .filter((s) => !wanted.has(s.addon))
    .sort((a, b) => ADDON_NAMES.indexOf(b.addon) - ADDON_NAMES.indexOf(a.addon));
  for (const gone of removed) {
    try {
      await removeAll(deps.kube, gone.objects);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await record(gone.addon, 'failed', `removal failed: ${message}`, gone.objects);
      throw err;
    }
    await deleteAddonStatus({ db: deps.db, clusterId, addon: gone.addon });
    deps.logger.info({ clusterId, addon: gone.addon, objects: gone.objects.length }, 'addon removed');
  }
  return listAddonStatus({ db: deps.db, clusterId });
}

/** Fails early, naming the Secret and keys, rather than letting pods crash-loop until the deadline. */
async function checkSecrets(kube: ClusterApi, addon: string, required: readonly RequiredSecret[]) {
  for (const s of required) {
    const live = await kube.read({ apiVersion: 'v1', kind: 'Secret', namespace: s.namespace, name: s.name });
    const data = (live?.['data'] ?? {}) as object;
    const missing = live === undefined ? s.keys : s.keys.filter((k) => !(k in data));
    if (missing.length > 0) {
      throw new UpstreamError(
        `addon "${addon}" needs Secret ${s.namespace}/${s.name} with keys ${s.keys.join(', ')}` +
          (live === undefined ? ', which does not exist' : `; missing: ${missing.join(', ')}`),
        { code: 'addon_secret_missing' },
      );
    }
  }
}

/** Left by a client-side `kubectl apply` (as master-0's bootstrap made), which kaas never does. */
const KUBECTL_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Written by `addon` alone: labelled as its, and never `kubectl apply`d by anyone else. */
function ownedBy(live: LiveObject, addon: string): boolean {
  const { labels, annotations } = live.metadata ?? {};
  return labels?.[ADDON_LABEL] === addon && annotations?.[KUBECTL_APPLIED] === undefined;
}

/** The refs among `refs` whose object exists and is not `addon`'s alone. */
async function othersOf(kube: ClusterApi, addon: string, refs: readonly ObjectRef[]): Promise<ObjectRef[]> {
  const found: ObjectRef[] = [];
  for (const ref of refs) {
    const live = await kube.read(ref);
    if (live !== undefined && !ownedBy(live, addon)) found.push(ref);
  }
  return found;
}

/**
 * Applies phase by phase; CRDs must be established (and custom kinds served) before the next
 * phase. An object not `recorded` for the service yet is applied only if it is absent or already
 * the service's: otherwise it belongs to another writer, and the service fails naming it.
 */
async function applyObjects(
  deps: ApplyAddonsDeps,
  wait: WaitOptions,
  addon: RenderedAddon,
  recorded: readonly ObjectRef[],
) {
  for (const phase of applyPhases(addon.objects)) {
    for (const obj of phase) {
      await ensureServed(deps, wait, addon.addon, obj);
      const ref = refOf(obj);
      if (!recorded.some((r) => sameRef(r, ref))) {
        const [other] = await othersOf(deps.kube, addon.addon, [ref]);
        if (other !== undefined) {
          throw new ConflictError(
            `addon "${addon.addon}": ${describeRef(ref)} already exists and was not written by this service; ` +
              'kaas does not take over an object another writer owns: remove it from the cluster, then retry',
            { code: 'addon_object_conflict' },
          );
        }
      }
      await deps.kube.apply(obj);
    }
    for (const crd of phase.filter((o) => o.kind === 'CustomResourceDefinition')) {
      const ref = refOf(crd);
      const ok = await pollUntil(deps, wait.crdMs, wait.pollMs, async () => {
        const live = await deps.kube.read(ref);
        return live !== undefined && crdEstablished(live);
      });
      if (!ok) {
        throw new UpstreamError(
          `addon "${addon.addon}": CustomResourceDefinition ${crd.metadata.name} not established within ${wait.crdMs} ms`,
          { code: 'addon_not_ready' },
        );
      }
    }
  }
}

async function ensureServed(deps: ApplyAddonsDeps, wait: WaitOptions, addon: string, obj: KubernetesObject) {
  const ok = await pollUntil(deps, wait.crdMs, wait.pollMs, () => deps.kube.served(obj.apiVersion, obj.kind));
  if (!ok) {
    throw new UpstreamError(
      `addon "${addon}": ${obj.kind} (${obj.apiVersion}) is not served by the cluster after ${wait.crdMs} ms; ` +
        `is its CustomResourceDefinition installed?`,
      { code: 'addon_kind_not_served' },
    );
  }
}

/** Waits for every workload of the addon; the error names each one still not ready and why. */
async function waitReady(deps: ApplyAddonsDeps, wait: WaitOptions, addon: RenderedAddon) {
  let pending: string[] = [];
  const ok = await pollUntil(deps, wait.readinessMs, wait.pollMs, async () => {
    pending = [];
    for (const w of addon.readiness) {
      const ref = { apiVersion: 'apps/v1', kind: w.kind, namespace: w.namespace, name: w.name };
      const live = await deps.kube.read(ref);
      if (live === undefined) {
        pending.push(`${describeRef(ref)} (not found)`);
        continue;
      }
      const r = workloadReadiness(w.kind, live);
      if (!r.ready) pending.push(`${describeRef(ref)} (${r.detail})`);
    }
    return pending.length === 0;
  });
  if (!ok) {
    throw new UpstreamError(
      `addon "${addon.addon}" not ready after ${wait.readinessMs} ms: ${pending.join('; ')}`,
      { code: 'addon_not_ready' },
    );
  }
}

/** Deletes in reverse apply order (custom resources and workloads first, namespaces and CRDs last). */
async function removeAll(kube: ClusterApi, refs: readonly ObjectRef[]) {
  const ordered = refs.map((r, i) => ({ r, i, p: phaseOf(r) })).sort((a, b) => b.p - a.p || b.i - a.i);
  for (const { r } of ordered) await kube.remove(r);
}
