/**
 * The auto-healing switches of a stored spec (the cluster's `autoHeal` and each node group's), as
 * an admin flips them after create. Pure. The switches belong to the healer, not to the jobs: a job
 * that finishes writes its spec with the switches as stored at that moment (keepAutoHeal), so a
 * switch flipped while a resize or an upgrade runs is not undone by it.
 */
import { InputError } from '../errors.ts';
import type { ClusterSpec, NodeGroup } from './spec.ts';

/** One flip: the whole cluster's switch, or with `group` one node group's. */
export interface AutoHealChange {
  autoHeal: boolean;
  group?: string;
}

/** `item` with its switch `value` (absent when undefined); `item` itself when that changes nothing. */
function withSwitch<T extends { readonly autoHeal?: boolean }>(item: T, value: boolean | undefined): T {
  if (item.autoHeal === value) return item;
  const { autoHeal: _old, ...rest } = item;
  return (value === undefined ? rest : { ...rest, autoHeal: value }) as T;
}

/** The spec with one switch set; a group the spec does not have is an InputError naming `group`. */
export function setAutoHeal(spec: ClusterSpec, change: AutoHealChange): ClusterSpec {
  if (change.group === undefined) return withSwitch(spec, change.autoHeal);
  if (!spec.nodeGroups.some((g) => g.name === change.group)) {
    throw new InputError(
      `cluster ${spec.name} has no node group "${change.group}" (it has ${spec.nodeGroups.map((g) => g.name).join(', ') || 'none'}); its masters follow the cluster's own switch`,
      { field: 'group', code: 'group_not_found' },
    );
  }
  return {
    ...spec,
    nodeGroups: spec.nodeGroups.map((g) => (g.name === change.group ? withSwitch(g, change.autoHeal) : g)),
  };
}

/** `next` (a finished job's spec) with the switches of `stored`, group by group (by name). */
export function keepAutoHeal(next: ClusterSpec, stored: ClusterSpec): ClusterSpec {
  const groups = new Map<string, NodeGroup>(stored.nodeGroups.map((g) => [g.name, g]));
  const nodeGroups = next.nodeGroups.map((g) => {
    const kept = groups.get(g.name);
    return kept ? withSwitch(g, kept.autoHeal) : g;
  });
  return { ...withSwitch(next, stored.autoHeal), nodeGroups };
}

/** How `kaas cluster show` says it: `on`, `off`, or `on (off for group gpu)`. */
export function describeAutoHeal(spec: Pick<ClusterSpec, 'autoHeal' | 'nodeGroups'>): string {
  if (spec.autoHeal === false) return 'off';
  const off = spec.nodeGroups.filter((g) => g.autoHeal === false).map((g) => g.name);
  return off.length === 0 ? 'on' : `on (off for group${off.length > 1 ? 's' : ''} ${off.join(', ')})`;
}
