/**
 * Which node group a Node belongs to, from what kaas gives it: the control-plane role label kubeadm
 * sets on masters, and the deterministic server name (names.ts), which the kubelet registers as its
 * Node name. kaas sets no group label of its own (a group's labels are the user's).
 */
import { clusterNames, dnsName, MAX_NAME_LENGTH, NAME_PREFIX } from './names.ts';
import type { ClusterSpec } from './spec.ts';

/** The group name control-plane nodes are counted under. */
export const MASTERS_GROUP = 'masters';
/** Nodes that match no group of the spec (registered by hand, or of a group since removed). */
export const OTHER_GROUP = 'other';
/** Label kubeadm's mark-control-plane phase puts on masters. */
export const CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane';

/** Indexes tried when a group's names are too long to match by prefix (hashed, see dnsName). */
const HASHED_INDEX_LIMIT = 256;

/** The group of Node `name` with `labels` in a cluster of `spec`: masters, a spec group, or `other`. */
export function nodeGroupOf(
  spec: Pick<ClusterSpec, 'name' | 'nodeGroups'>,
  name: string,
  labels: Readonly<Record<string, string>>,
): string {
  const names = clusterNames(spec.name);
  const indexed = (prefix: string) =>
    name.startsWith(`${prefix}-`) && /^\d+$/.test(name.slice(prefix.length + 1));
  if (CONTROL_PLANE_LABEL in labels || indexed(dnsName(NAME_PREFIX, spec.name, 'master')))
    return MASTERS_GROUP;
  for (const group of spec.nodeGroups) {
    const prefix = dnsName(NAME_PREFIX, spec.name, group.name);
    if (indexed(prefix)) return group.name;
    // Long names end in a hash instead of the index: compare whole names.
    if (prefix.length > MAX_NAME_LENGTH - 4) {
      for (let i = 0; i < HASHED_INDEX_LIMIT; i++)
        if (names.worker(group.name, i) === name) return group.name;
    }
  }
  return OTHER_GROUP;
}
