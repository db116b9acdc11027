/**
 * A node group's autoscaling bounds as a cluster's admin changes them after create. Pure. The
 * group's count is not changed here: when it falls outside the new bounds, the caller resizes the
 * group to `count` (the nearest size inside them) with the new bounds in the same job.
 */
import { InputError } from '../errors.ts';
import { parseCidr } from './cidr.ts';
import { isAutoscaled, type ClusterSpec, type NodeGroup } from './spec.ts';
import { addressRoomProblem, MAX_GROUP_COUNT, peakServers } from './validate.ts';

/** New bounds for one group; a bound not given keeps its stored value (the group's count when it has none). */
export interface SizeBoundsChange {
  /** The node group; absent: the cluster's only one. */
  group?: string;
  minSize?: number;
  maxSize?: number;
}

/** The spec with the new bounds, the group they apply to, and the size the group must have within them. */
export interface SizeBounds {
  spec: ClusterSpec;
  group: string;
  /** The group's count, or the bound nearest to it when it is outside the new bounds. */
  count: number;
  /** Whether the group is autoscaled before and after (maxSize above minSize). */
  autoscaled: { before: boolean; after: boolean };
}

function bound(value: number | undefined, field: 'minSize' | 'maxSize'): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0 || value > MAX_GROUP_COUNT) {
    throw new InputError(`${field} must be an integer from 0 to ${MAX_GROUP_COUNT}, got ${String(value)}`, {
      field,
    });
  }
  return value;
}

/** The group `name` names, or the cluster's only one; an InputError on `group` otherwise. */
function groupOf(spec: ClusterSpec, name: string | undefined): NodeGroup {
  const names = spec.nodeGroups.map((g) => g.name).join(', ') || 'none';
  if (name === undefined) {
    if (spec.nodeGroups.length === 1) return spec.nodeGroups[0]!;
    throw new InputError(`group must name one of the node groups of ${spec.name}: ${names}`, {
      field: 'group',
      code: 'group_required',
    });
  }
  const group = spec.nodeGroups.find((g) => g.name === name);
  if (!group) {
    throw new InputError(
      `group ${JSON.stringify(name)} is not a node group of ${spec.name}; it has ${names}`,
      {
        field: 'group',
        code: 'group_not_found',
      },
    );
  }
  return group;
}

/**
 * Sets one group's bounds: `minSize ≤ maxSize`, each from 0 to MAX_GROUP_COUNT, and the cluster's
 * network must have room for the group at maxSize (as at create). InputErrors name the field.
 */
export function setSizeBounds(spec: ClusterSpec, change: SizeBoundsChange): SizeBounds {
  const group = groupOf(spec, change.group);
  const min = bound(change.minSize, 'minSize');
  const max = bound(change.maxSize, 'maxSize');
  if (min === undefined && max === undefined) {
    throw new InputError('minSize must be given, or maxSize, or both', { field: 'minSize' });
  }
  const minSize = min ?? group.minSize ?? Math.min(group.count, max!);
  const maxSize = max ?? group.maxSize ?? Math.max(group.count, min!);
  if (minSize > maxSize) {
    const field = min === undefined ? 'maxSize' : 'minSize';
    throw new InputError(
      `${field} ${field === 'minSize' ? minSize : maxSize} leaves no size: the minimum would be ${minSize}, above the maximum ${maxSize}`,
      { field, code: 'invalid_size_bounds' },
    );
  }
  const bounded: NodeGroup = { ...group, minSize, maxSize };
  const nodeGroups = spec.nodeGroups.map((g) => (g === group ? bounded : g));
  const node = parseCidr(spec.network.nodeCidr);
  const pod = parseCidr(spec.network.podCidr);
  const room = node && pod ? addressRoomProblem(node, pod, peakServers(spec.masters, nodeGroups)) : undefined;
  if (room) {
    throw new InputError(
      `maxSize ${maxSize} is more than the cluster's network has room for: ${room.field} ${room.message}`,
      { field: 'maxSize', code: 'invalid_size_bounds' },
    );
  }
  return {
    spec: { ...spec, nodeGroups },
    group: group.name,
    count: Math.min(Math.max(group.count, minSize), maxSize),
    autoscaled: { before: isAutoscaled(group), after: isAutoscaled(bounded) },
  };
}

/** How `kaas cluster show` says it: `off`, or each autoscaled group with its bounds (`default 1..5`). */
export function describeAutoscaling(spec: Pick<ClusterSpec, 'nodeGroups'>): string {
  const groups = spec.nodeGroups.filter(isAutoscaled).map((g) => `${g.name} ${g.minSize}..${g.maxSize}`);
  return groups.length === 0 ? 'off' : groups.join(', ');
}
