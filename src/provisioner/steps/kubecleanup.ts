/**
 * The first steps of delete: remove, through the cluster's own API, the objects whose controllers
 * made cloud resources for them (Services of type LoadBalancer: the cloud controller's Octavia load
 * balancers; PersistentVolumeClaims, only when asked: Cinder CSI's volumes), and wait, bounded, until
 * they are gone, so those controllers release what they made while the nodes still run. When the
 * API does not answer this is said in an event and delete goes on: the cloud sweep still removes the
 * load balancers by name; volumes are then left in the project.
 */
import type { PlanResource } from '../../cluster/plan.ts';
import type { ObjectRef } from '../kubeclient.ts';
import type { ExecDeps } from './context.ts';

type Res<T extends PlanResource['type']> = Extract<PlanResource, { type: T }>;

/** What one cleanup step did; `ids` are `namespace/name` of the objects it removed. */
export interface KubeCleanupOutput {
  reachable: boolean;
  removed: number;
  ids: string[];
  /** Deleted but still present when the wait ran out (a finalizer that never completed). */
  remaining: string[];
}

const WHAT = {
  'load-balancer-services': { resource: 'services', label: 'LoadBalancer Services' },
  'persistent-volume-claims': { resource: 'persistentvolumeclaims', label: 'PersistentVolumeClaims' },
} as const;

const key = (o: ObjectRef) => `${o.namespace}/${o.name}`;

/** Deletes every object of the step's kind through the API and waits until they are gone. */
export async function deleteKubeObjects(deps: ExecDeps, r: Res<'kube-objects'>): Promise<KubeCleanupOutput> {
  const { resource, label } = WHAT[r.params.objects];
  const kube = deps.kube;
  if (!kube || !(await kube.client.healthy(deps.ctx.signal))) {
    const why = kube
      ? `the cluster API at ${kube.url} did not answer`
      : 'the cluster API cannot be reached (no endpoint or credentials recorded)';
    await deps.ctx.event(`${why}: ${label} not deleted through it; going on with the cloud sweep`, 'warn');
    return { reachable: false, removed: 0, ids: [], remaining: [] };
  }
  const list = () =>
    r.params.objects === 'load-balancer-services'
      ? kube.client.loadBalancerServices()
      : kube.client.persistentVolumeClaims();
  const doomed = await list();
  for (const o of doomed) await kube.client.deleteNamespaced(resource, o);
  if (doomed.length > 0)
    await deps.ctx.event(`deleting ${doomed.length} ${label}: ${doomed.map(key).join(', ')}`);
  const uids = new Set(doomed.map((o) => o.uid));
  const deadline = deps.now().getTime() + deps.kubeCleanupTimeoutMs;
  let left = doomed;
  while (left.length > 0) {
    left = (await list()).filter((o) => uids.has(o.uid));
    if (left.length === 0 || deps.now().getTime() > deadline || deps.ctx.signal.aborted) break;
    await deps.sleep(deps.pollIntervalMs);
  }
  const remaining = new Set(left.map((o) => o.uid));
  if (left.length > 0) {
    await deps.ctx.event(
      `${left.length} ${label} still present after ${Math.round(deps.kubeCleanupTimeoutMs / 1000)} s (a finalizer did not complete): ${left.map(key).join(', ')}; going on with the cloud sweep`,
      'warn',
    );
  }
  const removed = doomed.filter((o) => !remaining.has(o.uid)).map(key);
  return { reachable: true, removed: removed.length, ids: removed, remaining: left.map(key) };
}
