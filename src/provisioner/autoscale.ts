/**
 * cluster-autoscaler's view of kaas's node groups (its externalgrpc cloud provider, served by
 * src/server/externalgrpc/): which groups it may scale, their target sizes and instances, and its
 * scale-ups and node deletions, which become kaas's own resize jobs. The autoscaler and a user's
 * resize therefore share one code path (planResize, its bounds included) and the cluster's one-job
 * lock: while any job runs, a change is refused (`operation_in_progress`) and the autoscaler asks
 * again at its next loop.
 */
import { nodeGroupOf } from '../cluster/nodegroup.ts';
import { isAutoscaled, type ClusterSpec, type NodeGroup } from '../cluster/spec.ts';
import { ConflictError, InputError, NotFoundError } from '../errors.ts';
import type { Server } from '../openstack/index.ts';
import type { JobRecord } from '../store/findJob.ts';

/** providerID prefix of OpenStack servers (openstack-cloud-controller-manager's `openstack:///<id>`). */
export const PROVIDER_ID_PREFIX = 'openstack:///';

/** Subject organisation of the client certificates kaas issues cluster-autoscaler (CN: the cluster id). */
export const AUTOSCALER_ORGANIZATION = 'kaas:autoscaler';

/** A node as the autoscaler names it. */
export interface AutoscalerNode {
  name: string;
  providerID: string;
  labels?: Readonly<Record<string, string>>;
}

/** An autoscaled node group: its name in the spec and its bounds. */
export interface AutoscaledGroup {
  name: string;
  minSize: number;
  maxSize: number;
  /** The count the cluster is heading for (its running job's, else its spec's). */
  targetSize: number;
}

/** A server of a group, as the autoscaler's Instance. */
export interface AutoscalerInstance {
  id: string;
  state: 'running' | 'creating' | 'deleting';
  error?: { code: string; message: string };
}

/** What the autoscaler's view reads and does, given by the provisioner. */
export interface AutoscaleDeps {
  /** The cluster's stored spec (NotFoundError when there is no such cluster). */
  spec(clusterId: string): Promise<ClusterSpec>;
  /** The cluster's queued or running job, if any. */
  activeJob(clusterId: string): Promise<JobRecord | undefined>;
  /** The cluster's servers (tagged with its id). */
  servers(clusterId: string): Promise<Server[]>;
  /** Queues a resize job of `group` to `count`, removing exactly `remove` (indexes) when given. */
  resize(clusterId: string, group: string, count: number, remove?: readonly number[]): Promise<JobRecord>;
}

/** The autoscaler's operations on the clusters kaas runs. */
export type Autoscale = ReturnType<typeof createAutoscale>;

const indexOf = (s: Server) => Number(s.metadata['kaas-index']);

export function createAutoscale(deps: AutoscaleDeps) {
  /** The spec the cluster is heading for: its running job's, or its stored one. */
  async function targetSpec(clusterId: string): Promise<ClusterSpec> {
    const job = await deps.activeJob(clusterId);
    return (job?.input as { spec?: ClusterSpec } | undefined)?.spec ?? (await deps.spec(clusterId));
  }

  const describe = (target: ClusterSpec, group: NodeGroup): AutoscaledGroup => ({
    name: group.name,
    minSize: group.minSize!,
    maxSize: group.maxSize!,
    targetSize: target.nodeGroups.find((g) => g.name === group.name)?.count ?? group.count,
  });

  /** The autoscaled group `name` of the cluster; NotFoundError for any other name. */
  async function autoscaled(clusterId: string, name: string): Promise<AutoscaledGroup> {
    const spec = await deps.spec(clusterId);
    const group = spec.nodeGroups.find((g) => g.name === name);
    if (!group || !isAutoscaled(group)) {
      throw new NotFoundError(`cluster ${spec.name} has no autoscaled node group ${JSON.stringify(name)}`, {
        code: 'node_group_not_found',
      });
    }
    return describe(await targetSpec(clusterId), group);
  }

  /** Refuses a change while another operation holds the cluster's lock (the autoscaler asks again later). */
  async function idle(clusterId: string): Promise<void> {
    const job = await deps.activeJob(clusterId);
    if (job) {
      throw new ConflictError(
        `cluster ${clusterId} is busy with its ${job.kind} job ${job.id}; ask again once it is done`,
        {
          code: 'operation_in_progress',
        },
      );
    }
  }

  const groupServers = async (clusterId: string, group: string) =>
    (await deps.servers(clusterId)).filter(
      (s) => s.metadata['kaas-group'] === group && Number.isInteger(indexOf(s)),
    );

  return {
    /** The cluster's autoscaled groups (those whose maxSize is above their minSize). */
    async nodeGroups(clusterId: string): Promise<AutoscaledGroup[]> {
      const spec = await deps.spec(clusterId);
      const target = await targetSpec(clusterId);
      return spec.nodeGroups.filter(isAutoscaled).map((g) => describe(target, g));
    },

    targetSize: async (clusterId: string, group: string) => (await autoscaled(clusterId, group)).targetSize,

    /** The autoscaled group of `node` (by its name, else its providerID's server), undefined for any other node. */
    async groupForNode(clusterId: string, node: AutoscalerNode): Promise<AutoscaledGroup | undefined> {
      const spec = await deps.spec(clusterId);
      let name = nodeGroupOf(spec, node.name, node.labels ?? {});
      if (!spec.nodeGroups.some((g) => g.name === name) && node.providerID.startsWith(PROVIDER_ID_PREFIX)) {
        const id = node.providerID.slice(PROVIDER_ID_PREFIX.length);
        name = (await deps.servers(clusterId)).find((s) => s.id === id)?.metadata['kaas-group'] ?? name;
      }
      const group = spec.nodeGroups.find((g) => g.name === name);
      return group && isAutoscaled(group) ? describe(await targetSpec(clusterId), group) : undefined;
    },

    /** Queues a resize adding `delta` nodes; refused above maxSize (planResize's `outside_size_bounds`). */
    async increaseSize(clusterId: string, group: string, delta: number): Promise<JobRecord> {
      if (!Number.isInteger(delta) || delta <= 0) {
        throw new InputError(`delta must be a positive number of nodes, got ${delta}`, { field: 'delta' });
      }
      const { targetSize } = await autoscaled(clusterId, group);
      await idle(clusterId);
      return deps.resize(clusterId, group, targetSize + delta);
    },

    /**
     * Queues a resize deleting exactly `nodes` (drained first, like any resize); refused for a node
     * not of this group and below minSize.
     */
    async deleteNodes(
      clusterId: string,
      group: string,
      nodes: readonly AutoscalerNode[],
    ): Promise<JobRecord> {
      await autoscaled(clusterId, group);
      if (nodes.length === 0) throw new InputError('name at least one node to delete', { field: 'nodes' });
      await idle(clusterId);
      const servers = await groupServers(clusterId, group);
      const remove = nodes.map((node) => {
        const id = node.providerID.startsWith(PROVIDER_ID_PREFIX)
          ? node.providerID.slice(PROVIDER_ID_PREFIX.length)
          : undefined;
        const server = servers.find((s) => s.id === id || (node.name !== '' && s.name === node.name));
        if (!server) {
          throw new InputError(`node ${node.name || node.providerID} is not a node of group ${group}`, {
            field: 'nodes',
            code: 'node_not_in_group',
          });
        }
        return indexOf(server);
      });
      return deps.resize(clusterId, group, servers.length - new Set(remove).size, remove);
    },

    /**
     * Withdraws requested nodes not yet there. kaas boots a resize's servers in its job, which it
     * does not cut short, and never deletes existing nodes for it: always refused, saying why.
     */
    async decreaseTargetSize(clusterId: string, group: string, delta: number): Promise<never> {
      if (!Number.isInteger(delta) || delta >= 0) {
        throw new InputError(`delta must be negative, got ${delta}`, { field: 'delta' });
      }
      const { targetSize } = await autoscaled(clusterId, group);
      const job = await deps.activeJob(clusterId);
      throw new ConflictError(
        job
          ? `the ${job.kind} job ${job.id} is booting group ${group}'s servers and kaas does not cut it short; delete the nodes once they joined`
          : `group ${group} has all its ${targetSize} node(s): decreasing the target would delete existing nodes; use DeleteNodes`,
        { code: 'target_not_decreasable' },
      );
    },

    /** The group's servers as instances (`openstack:///<server id>`), with their Nova state. */
    async nodes(clusterId: string, group: string): Promise<AutoscalerInstance[]> {
      await autoscaled(clusterId, group);
      return (await groupServers(clusterId, group)).map((s) => ({
        id: `${PROVIDER_ID_PREFIX}${s.id}`,
        state:
          s.status === 'BUILD'
            ? 'creating'
            : s.status === 'DELETED' || s['OS-EXT-STS:task_state'] === 'deleting'
              ? 'deleting'
              : 'running',
        ...(s.status === 'ERROR'
          ? { error: { code: 'ERROR', message: s.fault?.message ?? `server ${s.name} is in ERROR` } }
          : {}),
      }));
    },
  };
}
