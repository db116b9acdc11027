/**
 * Executors that talk to the cluster's own Kubernetes API rather than to OpenStack: waiting for the
 * API, the kubeconfig endpoint, join tokens, drains and node objects.
 *
 * kaas holds no kubelet or SSH access to nodes, so what it can do from here is bounded and stated
 * in each step's output: it checks the API's anonymous /readyz, waits for Node objects to be Ready,
 * records endpoints and versions, and drains nodes with the break-glass certificate (skipped, with
 * an event, when the API cannot be reached). Upgrades replace nodes (a new server with the new
 * version's user data, then the old one drained and deleted), so nothing here upgrades a node in
 * place. On a cloud where
 * nothing really boots (Nova's fake driver, cloudsim) the API wait fails with `api_unreachable`
 * unless the cluster's options say `waitForApi: false`, which the tests use.
 */
import type { PlanResource } from '../../cluster/plan.ts';
import { UpstreamError } from '../../errors.ts';
import type { ExecDeps } from './context.ts';

type Res<T extends PlanResource['type']> = Extract<PlanResource, { type: T }>;

/**
 * The API URL: once create recorded one, that endpoint (an upgrade looks the load balancer up, but
 * its VIP is on the cluster's private subnet); during create the address the API really answers
 * at when kaas was told one (`apiAddress`), else the floating IP when there is one, else the load
 * balancer VIP / master-0 address.
 */
export function apiUrl(deps: ExecDeps): string | undefined {
  if (deps.kube?.url) return deps.kube.url;
  const local = deps.apiAddress?.();
  if (local) return local;
  const fip = deps.ctx.outputs.get('api-floating-ip') as { address?: string } | undefined;
  const endpoint = (deps.ctx.outputs.get('load-balancer') ?? deps.ctx.outputs.get('master-port-0')) as
    { vipAddress?: string; address?: string } | undefined;
  const host = fip?.address ?? endpoint?.vipAddress ?? endpoint?.address;
  return host ? `https://${host}:6443` : undefined;
}

/** Whether the API's anonymous `path` (/healthz, /readyz) answers 200 (false without a probe). */
export async function reachable(deps: ExecDeps, url: string, path = '/healthz'): Promise<boolean> {
  if (!deps.fetchApi) return false;
  try {
    return (await deps.fetchApi(`${url}${path}`, deps.ctx.signal, deps.clusterCaPem)) === 200;
  } catch {
    return false;
  }
}

/** What a skipped wait says, in its output and as a warning event: nothing was checked. */
export const WAIT_SKIPPED =
  'skipped: the cluster was created with waitForApi=false, so kaas did not check it';

/** Waits for the API's anonymous `path` (/readyz) to answer 200; `api_unreachable` when it never does. */
export async function waitApi(deps: ExecDeps, r: Res<'api'>) {
  // Jobs after create plan no network steps: the endpoint recorded when the cluster was created.
  const url = apiUrl(deps) ?? deps.kube?.url;
  const path = r.params.path;
  if (!deps.options.waitForApi) {
    await deps.ctx.event(`API ${path} not waited for: ${WAIT_SKIPPED}`, 'warn');
    return { skipped: WAIT_SKIPPED, url: url ?? null };
  }
  if (!url) throw new UpstreamError('no API endpoint was recorded', { code: 'invalid_plan' });
  const deadline = deps.now().getTime() + deps.waitTimeoutMs;
  while (!(await reachable(deps, url, path))) {
    if (deps.now().getTime() > deadline || deps.ctx.signal.aborted) {
      throw new UpstreamError(
        `the Kubernetes API at ${url} did not answer ${path} within ${Math.round(deps.waitTimeoutMs / 1000)} s: the servers are ACTIVE but the control plane is not reachable (check the master's console log; on a cloud whose servers do not really boot, create the cluster with waitForApi=false)`,
        { code: 'api_unreachable' },
      );
    }
    await deps.sleep(deps.pollIntervalMs);
  }
  return { url, path, healthy: true };
}

/** Longest one look at the Node list may take before it counts as unanswered. */
const NODE_LIST_TIMEOUT_MS = 10_000;

/**
 * Waits until every named Node exists with condition Ready=True (or, for `Gone`, no longer exists),
 * read from the cluster's API with the break-glass certificate. Other nodes being Ready counts for
 * nothing. Fails with `nodes_not_ready` naming each node still missing or not Ready and why, or at
 * once with `kube_api_refused` when the API refuses the certificate (waiting would not change that).
 */
export async function waitNodes(deps: ExecDeps, r: Res<'nodes'>) {
  const { names, condition } = r.params;
  if (!deps.options.waitForApi) {
    await deps.ctx.event(`node(s) ${names.join(', ')} not waited for: ${WAIT_SKIPPED}`, 'warn');
    return { skipped: WAIT_SKIPPED, nodes: names };
  }
  const url = apiUrl(deps) ?? deps.kube?.url;
  if (!url) throw new UpstreamError('no API endpoint was recorded', { code: 'invalid_plan' });
  // Create learns the endpoint in this very job: a client for it, closed when the wait ends.
  const own = deps.kube?.url === url ? undefined : deps.kubeClientFor?.(url);
  const client = own ?? deps.kube?.client;
  if (!client) {
    throw new UpstreamError('no credentials for the cluster API: its sealed material is missing', {
      code: 'cluster_secrets_missing',
    });
  }
  try {
    const deadline = deps.now().getTime() + deps.waitTimeoutMs;
    for (;;) {
      let pending: string[];
      try {
        const signal = AbortSignal.any([deps.ctx.signal, AbortSignal.timeout(NODE_LIST_TIMEOUT_MS)]);
        const seen = new Map((await client.nodes(signal)).map((n) => [n.name, n]));
        pending =
          condition === 'Gone'
            ? names.filter((n) => seen.has(n)).map((n) => `${n}: still registered`)
            : names.flatMap((n) => {
                const node = seen.get(n);
                if (!node) return [`${n}: not registered`];
                return node.ready ? [] : [`${n}: ${node.reason ?? 'not Ready'}`];
              });
      } catch (error) {
        if ((error as { code?: string }).code !== 'kube_api_unreachable') throw error;
        pending = [`the API at ${url} did not answer: ${(error as Error).message}`];
      }
      if (pending.length === 0) return { api: url, nodes: names, condition };
      if (deps.now().getTime() > deadline || deps.ctx.signal.aborted) {
        throw new UpstreamError(
          `${condition === 'Gone' ? 'node(s) not gone' : 'node(s) not Ready'} after ${Math.round(deps.waitTimeoutMs / 1000)} s: ${pending.join('; ')}`,
          { code: condition === 'Gone' ? 'nodes_not_gone' : 'nodes_not_ready' },
        );
      }
      await deps.sleep(deps.pollIntervalMs);
    }
  } finally {
    await own?.close();
  }
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
 * cannot be reached the node is removed without draining, with a warning event. On a dead node
 * (`deadNode`, healing) an evicted pod never finishes terminating, as no kubelet is left to stop
 * it: once evicted it counts as gone (kubectl drain's --skip-wait-for-delete-timeout), and a
 * drain still refused at `drainTimeoutMs` gives up with a warning and the node is removed anyway
 * (Cluster API's nodeDrainTimeout): its pods are not serving, and waiting would never heal it.
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
    const pods = (await kube.client.podsOn(node)).filter(
      (p) => !p.skip && !(r.params.deadNode && p.terminating),
    );
    if (pods.length === 0) return { drained: true, evicted: [...evicted].sort() };
    const blocked: string[] = [];
    for (const pod of pods) {
      const key = `${pod.namespace}/${pod.name}`;
      if ((await kube.client.evict(pod)) === 'blocked') blocked.push(key);
      else evicted.add(key);
    }
    if (r.params.deadNode && deps.now().getTime() > deadline && !deps.ctx.signal.aborted) {
      const left = pods.map((p) => `${p.namespace}/${p.name}`);
      await deps.ctx.event(
        `drain of dead node ${node} gave up after ${Math.round(deps.drainTimeoutMs / 1000)} s (${left.join(', ')} not evicted${blocked.length > 0 ? ': a PodDisruptionBudget refuses' : ''}); it is removed anyway`,
        'warn',
      );
      return { drained: false, evicted: [...evicted].sort(), left };
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
