import type { Query, Session } from './session.ts';

/** Fields every Neutron resource has. */
export interface NeutronResource {
  id: string;
  name?: string;
  project_id?: string;
  tags?: string[];
  description?: string;
  [field: string]: unknown;
}

/** A network. */
export interface Network extends NeutronResource {
  name: string;
  status: string;
  subnets: string[];
  'router:external'?: boolean;
  'provider:network_type'?: string;
  mtu?: number;
}

/** A subnet. */
export interface Subnet extends NeutronResource {
  network_id: string;
  cidr: string;
  ip_version: number;
  gateway_ip: string | null;
}

/** A router. */
export interface Router extends NeutronResource {
  status: string;
  external_gateway_info: {
    network_id: string;
    enable_snat?: boolean;
    external_fixed_ips?: { subnet_id: string; ip_address: string }[];
  } | null;
}

/** A port. */
export interface Port extends NeutronResource {
  network_id: string;
  status: string;
  device_id: string;
  device_owner: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
  security_groups: string[];
  mac_address: string;
}

/** A security group. */
export interface SecurityGroup extends NeutronResource {
  name: string;
  security_group_rules: SecurityGroupRule[];
}

/** A security group rule. */
export interface SecurityGroupRule extends NeutronResource {
  security_group_id: string;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
}

/** A floating IP. */
export interface FloatingIp extends NeutronResource {
  floating_ip_address: string;
  floating_network_id: string;
  port_id: string | null;
  fixed_ip_address: string | null;
  status: string;
}

/** List filters: any Neutron field, plus `tags` (all of) and `tagsAny`. */
export interface NeutronFilter {
  tags?: string[];
  tagsAny?: string[];
  [field: string]: string | number | boolean | string[] | undefined;
}

/** CRUD of one Neutron resource type, the same shape for all of them. */
export interface NeutronCollection<T extends NeutronResource> {
  list(filter?: NeutronFilter): Promise<T[]>;
  get(id: string): Promise<T>;
  create(fields: Record<string, unknown>): Promise<T>;
  update(id: string, fields: Record<string, unknown>): Promise<T>;
  delete(id: string, options?: { ignoreMissing?: boolean }): Promise<void>;
  /** Replaces the resource's tags (kaas tags everything it creates, for garbage collection). */
  setTags(id: string, tags: string[]): Promise<string[]>;
}

/** Neutron calls kaas makes for cluster networking. */
export function createNeutron(session: Session) {
  const e = encodeURIComponent;

  function collection<T extends NeutronResource>(plural: string, singular: string): NeutronCollection<T> {
    const base = `/v2.0/${plural}`;
    return {
      async list(filter: NeutronFilter = {}) {
        const { tags, tagsAny, ...rest } = filter;
        const query: Query = { ...rest, tags: tags?.join(','), 'tags-any': tagsAny?.join(',') };
        const out: T[] = [];
        for await (const item of session.paginate<T>('network', base, {
          itemsKey: plural.replace(/-/g, '_'),
          query,
        }))
          out.push(item);
        return out;
      },
      async get(id) {
        return (await session.request<Record<string, T>>('network', 'GET', `${base}/${e(id)}`)).body[
          singular
        ] as T;
      },
      async create(fields) {
        const res = await session.request<Record<string, T>>('network', 'POST', base, {
          json: { [singular]: fields },
        });
        return res.body[singular] as T;
      },
      async update(id, fields) {
        const res = await session.request<Record<string, T>>('network', 'PUT', `${base}/${e(id)}`, {
          json: { [singular]: fields },
        });
        return res.body[singular] as T;
      },
      async delete(id, options = {}) {
        await session.request(
          'network',
          'DELETE',
          `${base}/${e(id)}`,
          options.ignoreMissing ? { okStatuses: [404] } : {},
        );
      },
      async setTags(id, tags) {
        const res = await session.request<{ tags: string[] }>('network', 'PUT', `${base}/${e(id)}/tags`, {
          json: { tags },
        });
        return res.body.tags;
      },
    };
  }

  const routers = collection<Router>('routers', 'router');
  return {
    networks: collection<Network>('networks', 'network'),
    subnets: collection<Subnet>('subnets', 'subnet'),
    routers,
    ports: collection<Port>('ports', 'port'),
    securityGroups: collection<SecurityGroup>('security-groups', 'security_group'),
    securityGroupRules: collection<SecurityGroupRule>('security-group-rules', 'security_group_rule'),
    floatingIps: collection<FloatingIp>('floatingips', 'floatingip'),
    /** Sets (or with null clears) the router's gateway on an external network. */
    async setRouterGateway(routerId: string, externalNetworkId: string | null): Promise<Router> {
      return routers.update(routerId, {
        external_gateway_info: externalNetworkId ? { network_id: externalNetworkId } : {},
      });
    },
    /** Plugs a subnet (or an existing port) into the router. */
    async addRouterInterface(routerId: string, target: { subnetId: string } | { portId: string }) {
      const json = 'subnetId' in target ? { subnet_id: target.subnetId } : { port_id: target.portId };
      const res = await session.request<{ port_id: string; subnet_id: string }>(
        'network',
        'PUT',
        `/v2.0/routers/${e(routerId)}/add_router_interface`,
        { json },
      );
      return res.body;
    },
    async removeRouterInterface(routerId: string, target: { subnetId: string } | { portId: string }) {
      const json = 'subnetId' in target ? { subnet_id: target.subnetId } : { port_id: target.portId };
      await session.request('network', 'PUT', `/v2.0/routers/${e(routerId)}/remove_router_interface`, {
        json,
      });
    },
  };
}

/** The Neutron client returned by {@link createNeutron}. */
export type Neutron = ReturnType<typeof createNeutron>;
