import { UpstreamError } from '../errors.ts';
import { isOpenStackError } from './errors.ts';
import type { Session } from './session.ts';
import { pollUntil, type WaitDeps, type WaitOptions } from './wait.ts';

/** Fields of every Octavia object. */
export interface LbObject {
  id: string;
  name: string;
  provisioning_status: string;
  operating_status: string;
  tags?: string[];
  [field: string]: unknown;
}

/** A load balancer. */
export interface LoadBalancer extends LbObject {
  vip_address: string;
  vip_port_id: string;
  vip_subnet_id: string;
  listeners: { id: string }[];
  pools: { id: string }[];
}

/** A listener. */
export interface Listener extends LbObject {
  protocol: string;
  protocol_port: number;
  default_pool_id: string | null;
  loadbalancers: { id: string }[];
}

/** A pool. */
export interface Pool extends LbObject {
  protocol: string;
  lb_algorithm: string;
  members: { id: string }[];
  healthmonitor_id: string | null;
}

/** A pool member. */
export interface Member extends LbObject {
  address: string;
  protocol_port: number;
  subnet_id?: string;
}

/** A health monitor. */
export interface HealthMonitor extends LbObject {
  type: string;
  delay: number;
  timeout: number;
  max_retries: number;
  pool_id?: string;
  pools?: { id: string }[];
}

/** Octavia calls kaas makes for the Kubernetes API load balancer of HA control planes. */
export function createOctavia(session: Session, deps: WaitDeps = {}) {
  const e = encodeURIComponent;
  const base = '/v2/lbaas';

  async function create<T>(plural: string, singular: string, fields: Record<string, unknown>): Promise<T> {
    const res = await session.request<Record<string, T>>('load-balancer', 'POST', `${base}/${plural}`, {
      json: { [singular]: fields },
    });
    return res.body[singular] as T;
  }
  async function get<T>(path: string, singular: string): Promise<T> {
    return (await session.request<Record<string, T>>('load-balancer', 'GET', `${base}/${path}`)).body[
      singular
    ] as T;
  }
  async function del(
    path: string,
    options: { ignoreMissing?: boolean; query?: Record<string, string> } = {},
  ) {
    await session.request('load-balancer', 'DELETE', `${base}/${path}`, {
      ...(options.ignoreMissing ? { okStatuses: [404] } : {}),
      ...(options.query ? { query: options.query } : {}),
    });
  }
  async function list<T>(path: string, itemsKey: string, query: Record<string, string | undefined>) {
    const out: T[] = [];
    for await (const x of session.paginate<T>('load-balancer', `${base}/${path}`, { itemsKey, query }))
      out.push(x);
    return out;
  }
  async function getLoadBalancer(id: string) {
    return get<LoadBalancer>(`loadbalancers/${e(id)}`, 'loadbalancer');
  }

  return {
    async createLoadBalancer(input: {
      name: string;
      vipSubnetId: string;
      description?: string;
      tags?: string[];
    }) {
      return create<LoadBalancer>('loadbalancers', 'loadbalancer', {
        name: input.name,
        vip_subnet_id: input.vipSubnetId,
        ...(input.description ? { description: input.description } : {}),
        ...(input.tags ? { tags: input.tags } : {}),
      });
    },
    getLoadBalancer,
    /** `tags` matches load balancers having all of them. */
    async listLoadBalancers(filter: { name?: string; tags?: string[] } = {}) {
      return list<LoadBalancer>('loadbalancers', 'loadbalancers', {
        name: filter.name,
        tags: filter.tags?.join(','),
      });
    },
    /** Deletes a load balancer; `cascade` removes its listeners, pools, members and monitors too. */
    async deleteLoadBalancer(id: string, options: { cascade?: boolean; ignoreMissing?: boolean } = {}) {
      await del(`loadbalancers/${e(id)}`, {
        ...(options.ignoreMissing ? { ignoreMissing: true } : {}),
        ...(options.cascade ? { query: { cascade: 'true' } } : {}),
      });
    },
    /** Waits for provisioning_status (default ACTIVE); fails at once on ERROR. */
    async waitForLoadBalancer(
      id: string,
      status = 'ACTIVE',
      options: WaitOptions = {},
    ): Promise<LoadBalancer> {
      return pollUntil(
        `load balancer ${id} to become ${status}`,
        async () => {
          const lb = await getLoadBalancer(id);
          if (lb.provisioning_status === status) return { done: true, value: lb };
          if (lb.provisioning_status === 'ERROR')
            throw new UpstreamError(`Load balancer ${lb.name} (${id}) went into ERROR`, {
              code: 'openstack_resource_failed',
            });
          return { done: false, state: lb.provisioning_status };
        },
        deps,
        options,
      );
    },
    /** Waits until the load balancer is gone (404). */
    async waitForLoadBalancerDeleted(id: string, options: WaitOptions = {}): Promise<void> {
      await pollUntil(
        `load balancer ${id} to be deleted`,
        async () => {
          try {
            const lb = await getLoadBalancer(id);
            return { done: false, state: lb.provisioning_status };
          } catch (err) {
            if (isOpenStackError(err, 'openstack_not_found')) return { done: true, value: undefined };
            throw err;
          }
        },
        deps,
        options,
      );
    },

    async createListener(input: {
      loadBalancerId: string;
      name: string;
      protocol: string;
      protocolPort: number;
      tags?: string[];
    }) {
      return create<Listener>('listeners', 'listener', {
        loadbalancer_id: input.loadBalancerId,
        name: input.name,
        protocol: input.protocol,
        protocol_port: input.protocolPort,
        ...(input.tags ? { tags: input.tags } : {}),
      });
    },
    getListener: (id: string) => get<Listener>(`listeners/${e(id)}`, 'listener'),
    deleteListener: (id: string, options: { ignoreMissing?: boolean } = {}) =>
      del(`listeners/${e(id)}`, options),

    async createPool(input: {
      name: string;
      protocol: string;
      lbAlgorithm?: string;
      listenerId?: string;
      loadBalancerId?: string;
      tags?: string[];
    }) {
      return create<Pool>('pools', 'pool', {
        name: input.name,
        protocol: input.protocol,
        lb_algorithm: input.lbAlgorithm ?? 'ROUND_ROBIN',
        ...(input.listenerId ? { listener_id: input.listenerId } : {}),
        ...(input.loadBalancerId ? { loadbalancer_id: input.loadBalancerId } : {}),
        ...(input.tags ? { tags: input.tags } : {}),
      });
    },
    getPool: (id: string) => get<Pool>(`pools/${e(id)}`, 'pool'),
    deletePool: (id: string, options: { ignoreMissing?: boolean } = {}) => del(`pools/${e(id)}`, options),

    async createMember(
      poolId: string,
      input: { name?: string; address: string; protocolPort: number; subnetId?: string },
    ) {
      return create<Member>(`pools/${e(poolId)}/members`, 'member', {
        address: input.address,
        protocol_port: input.protocolPort,
        ...(input.name ? { name: input.name } : {}),
        ...(input.subnetId ? { subnet_id: input.subnetId } : {}),
      });
    },
    listMembers: (poolId: string) => list<Member>(`pools/${e(poolId)}/members`, 'members', {}),
    deleteMember: (poolId: string, memberId: string, options: { ignoreMissing?: boolean } = {}) =>
      del(`pools/${e(poolId)}/members/${e(memberId)}`, options),

    async createHealthMonitor(input: {
      poolId: string;
      type: 'TCP' | 'HTTP' | 'HTTPS' | 'PING';
      delay: number;
      timeout: number;
      maxRetries: number;
      name?: string;
      urlPath?: string;
    }) {
      return create<HealthMonitor>('healthmonitors', 'healthmonitor', {
        pool_id: input.poolId,
        type: input.type,
        delay: input.delay,
        timeout: input.timeout,
        max_retries: input.maxRetries,
        ...(input.name ? { name: input.name } : {}),
        ...(input.urlPath ? { url_path: input.urlPath } : {}),
      });
    },
    getHealthMonitor: (id: string) => get<HealthMonitor>(`healthmonitors/${e(id)}`, 'healthmonitor'),
    deleteHealthMonitor: (id: string, options: { ignoreMissing?: boolean } = {}) =>
      del(`healthmonitors/${e(id)}`, options),
  };
}

/** The Octavia client returned by {@link createOctavia}. */
export type Octavia = ReturnType<typeof createOctavia>;
