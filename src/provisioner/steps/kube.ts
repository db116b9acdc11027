/**
 * Executors that talk to the cluster's own Kubernetes API rather than to OpenStack: waiting for the
 * API, the kubeconfig endpoint, join tokens, drains and node objects.
 *
 * kaas holds no kubelet or SSH access to nodes, so what it can do from here is bounded and stated
 * in each step's output: it checks the API's anonymous /healthz, records endpoints and versions,
 * and drains nodes with the break-glass certificate (skipped, with an event, when the API cannot be
 * reached). Upgrades replace nodes (a new server with the new version's user data, then the old
 * one drained and deleted), so nothing here upgrades a node in place. On a cloud where
 * nothing really boots (Nova's fake driver, cloudsim) the API wait fails with `api_unreachable`
 * unless the cluster's options say `waitForApi: false`, which the tests use.
 */
import type { PlanResource } from '../../cluster/plan.ts';
import { UpstreamError } from '../../errors.ts';
import type { ExecDeps } from './context.ts';

type Res<T extends PlanResource['type']> = Extract<PlanResource, { type: T }>;

/** The API URL: floating IP when there is one, else the load balancer VIP / master-0 address. */
export function apiUrl(deps: ExecDeps): string | undefined {
  const fip = deps.ctx.outputs.get('api-floating-ip') as { address?: string } | undefined;
  const endpoint = (deps.ctx.outputs.get('load-balancer') ?? deps.ctx.outputs.get('master-port-0')) as
    { vipAddress?: string; address?: string } | undefined;
  const host = fip?.address ?? endpoint?.vipAddress ?? endpoint?.address;
  return host ? `https://${host}:6443` : undefined;
}

/** Whether the API's anonymous /healthz answers 200 (false without a probe). */
export async function reachable(deps: ExecDeps, url: string): Promise<boolean> {
  if (!deps.fetchApi) return false;
  try {
    return (await deps.fetchApi(`${url}/healthz`, deps.ctx.signal, deps.clusterCaPem)) === 200;
  } catch {
    return false;
  }
}

/** Waits for the API's /healthz; `api_unreachable` when it never answers. */
export async function waitApi(deps: ExecDeps, _r: Res<'api'>) {
  // Jobs after create plan no network steps: the endpoint recorded when the cluster was created.
  const url = apiUrl(deps) ?? deps.kube?.url;
  if (!deps.options.waitForApi) return { skipped: 'waitForApi is false', url: url ?? null };
  if (!url) throw new UpstreamError('no API endpoint was recorded', { code: 'invalid_plan' });
  const deadline = deps.now().getTime() + deps.waitTimeoutMs;
  while (!(await reachable(deps, url))) {
    if (deps.now().getTime() > deadline || deps.ctx.signal.aborted) {
      throw new UpstreamError(
        `the Kubernetes API at ${url} did not answer /healthz within ${Math.round(deps.waitTimeoutMs / 1000)} s: the servers are ACTIVE but the control plane is not reachable (check the master's console log; on a cloud whose servers do not really boot, create the cluster with waitForApi=false)`,
        { code: 'api_unreachable' },
      );
    }
    await deps.sleep(deps.pollIntervalMs);
  }
  return { url, healthy: true };
}

/** Node readiness as far as kaas can see it: the API answering (node objects need cluster credentials). */
export async function waitNodes(deps: ExecDeps, r: Res<'nodes'>) {
  if (!deps.options.waitForApi) return { skipped: 'waitForApi is false', nodes: r.params.names.length };
  const { url } = await waitApi(deps, {
    type: 'api',
    name: r.name,
    tags: r.tags,
    params: { path: '/readyz' },
  });
  return { api: url, nodes: r.params.names.length };
}

/** The endpoint the admin kubeconfig points at (kubeadm writes the credentials on master-0). */
export async function kubeconfigEndpoint(deps: ExecDeps, _r: Res<'kubeconfig'>) {
  return { server: apiUrl(deps) ?? null };
}

/**
 * Keeps the cluster's join token valid for the nodes this job adds: kubeadm's own token lives 24 h,
 * so on a reachable cluster the token is (re)registered with a new expiration. Unreachable: the
 * nodes are still created, with a warning that they can only join while the token is valid.
 */
export async function joinToken(deps: ExecDeps, r: Res<'join-token'>) {
  const expiresAt = new Date(deps.now().getTime() + r.params.ttlSeconds * 1000).toISOString();
  const kube = deps.kube;
  if (!kube || !(await kube.client.healthy(deps.ctx.signal))) {
    await deps.ctx.event(
      'cluster API unreachable: join token not renewed; new nodes join only if it is still valid',
      'warn',
    );
    return { expiresAt, renewed: false };
  }
  const how = await kube.client.ensureBootstrapToken(kube.bootstrapToken, expiresAt);
  return { expiresAt, renewed: how };
}

/**
 * Drains a node before its server goes, as `kubectl drain` does: cordon, then evict every pod that
 * is not a DaemonSet's or a static pod, retrying evictions a PodDisruptionBudget refuses (429) until
 * `drainTimeoutMs`, then failing clearly (retry the job once the budget allows it). When the API
 * cannot be reached the node is removed without draining, with a warning event.
 */
export async function drainNode(deps: ExecDeps, r: Res<'node-drain'>) {
  const node = r.params.node;
  const kube = deps.kube;
  if (!kube || !(await kube.client.healthy(deps.ctx.signal))) {
    await deps.ctx.event(`cluster API unreachable: ${node} removed without draining`, 'warn');
    return { drained: false };
  }
  await kube.client.cordon(node);
  await deps.ctx.event(`cordoned ${node}`);
  const deadline = deps.now().getTime() + deps.drainTimeoutMs;
  const evicted = new Set<string>();
  for (;;) {
    const pods = (await kube.client.podsOn(node)).filter((p) => !p.skip);
    if (pods.length === 0) return { drained: true, evicted: [...evicted].sort() };
    const blocked: string[] = [];
    for (const pod of pods) {
      const key = `${pod.namespace}/${pod.name}`;
      if ((await kube.client.evict(pod)) === 'blocked') blocked.push(key);
      else evicted.add(key);
    }
    if (deps.now().getTime() > deadline || deps.ctx.signal.aborted) {
      throw new UpstreamError(
        blocked.length > 0
          ? `drain of ${node} gave up after ${Math.round(deps.drainTimeoutMs / 1000)} s: a PodDisruptionBudget keeps refusing the eviction of ${blocked.join(', ')}; scale the workload or relax the budget, then retry the job`
          : `drain of ${node} gave up after ${Math.round(deps.drainTimeoutMs / 1000)} s: pods ${pods.map((p) => `${p.namespace}/${p.name}`).join(', ')} are still terminating; retry the job`,
        { code: 'drain_timeout' },
      );
    }
    if (blocked.length > 0)
      await deps.ctx.event(
        `eviction refused by a PodDisruptionBudget, retrying: ${blocked.join(', ')}`,
        'warn',
      );
    await deps.sleep(deps.pollIntervalMs);
  }
}

/** Removes the Node object of a deleted server so it does not linger NotReady; skipped when unreachable. */
export async function deleteNodeObject(deps: ExecDeps, r: Res<'node-object'>) {
  const kube = deps.kube;
  if (!kube || !(await kube.client.healthy(deps.ctx.signal))) {
    await deps.ctx.event(
      `cluster API unreachable: node object ${r.params.node} left for the cluster to expire`,
      'warn',
    );
    return { deleted: false };
  }
  await kube.client.deleteNode(r.params.node);
  return { deleted: true };
}
