/**
 * A cluster's state as its own API reports it, read when asked and never stored: kaas's database
 * holds what kaas last did, which is not what the cluster is (DESIGN: status shown to users is
 * observed from the cluster). Nodes are counted per group (nodegroup.ts) with their Ready
 * condition and kubelet versions; an API that does not answer in a short time is reported as
 * unreachable with the reason, not as an error.
 */
import { MASTERS_GROUP, nodeGroupOf, OTHER_GROUP } from '../cluster/nodegroup.ts';
import type { ClusterSpec } from '../cluster/spec.ts';
import type { KubeClient, NodeState } from './kubeclient.ts';
import type { ObservedState } from './observedState.ts';

export type { ObservedState };

/** How long a look at the cluster may take before it is reported as a timeout. */
export const OBSERVE_TIMEOUT_MS = 3_000;

/** Nodes counted per group: masters first, then the spec's groups in order, then `other` if any. */
export function summarizeNodes(
  spec: Pick<ClusterSpec, 'name' | 'nodeGroups'>,
  nodes: readonly NodeState[],
): Pick<ObservedState, 'nodes' | 'groups'> {
  const order = [MASTERS_GROUP, ...spec.nodeGroups.map((g) => g.name)];
  const groups = new Map(
    order.map((name) => [name, { name, ready: 0, total: 0, versions: new Set<string>() }]),
  );
  for (const node of nodes) {
    const name = nodeGroupOf(spec, node.name, node.labels);
    let group = groups.get(name);
    if (!group) groups.set(name, (group = { name: OTHER_GROUP, ready: 0, total: 0, versions: new Set() }));
    group.total++;
    if (node.ready) group.ready++;
    if (node.kubeletVersion) group.versions.add(node.kubeletVersion);
  }
  return {
    nodes: { ready: nodes.filter((n) => n.ready).length, total: nodes.length },
    groups: [...groups.values()].map((g) => ({
      name: g.name,
      ready: g.ready,
      total: g.total,
      kubeletVersions: [...g.versions].sort(),
    })),
  };
}

/** An unreachable observation: nothing counted, and why. */
export function unreachableState(checkedAt: string, reason: string): ObservedState {
  return { checkedAt, reachable: false, reason, nodes: { ready: 0, total: 0 }, groups: [] };
}

/** Reads the Nodes through `client` within `timeoutMs`; any failure becomes `reachable: false`. */
export async function observeNodes(input: {
  client: KubeClient;
  spec: Pick<ClusterSpec, 'name' | 'nodeGroups'>;
  now: () => Date;
  timeoutMs?: number;
}): Promise<ObservedState> {
  const checkedAt = input.now().toISOString();
  try {
    const nodes = await input.client.nodes(AbortSignal.timeout(input.timeoutMs ?? OBSERVE_TIMEOUT_MS));
    return { checkedAt, reachable: true, ...summarizeNodes(input.spec, nodes) };
  } catch (error) {
    return unreachableState(checkedAt, (error as Error).message);
  }
}
