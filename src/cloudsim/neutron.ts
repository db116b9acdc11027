import { randomBytes } from 'node:crypto';
import type { Ctx, Env, Reply, Route, Service } from './http.ts';
import { bodyOf, discoveryRoute, HttpError, isAdmin, projectOf, quotaOf, str } from './http.ts';
import { deleteRoute, showRoute, unauthorizedReply } from './http.ts';
import { allocate, contains, intToIp, overlaps, parseCidr, cidrSize } from './ipam.ts';
import {
  isoSeconds,
  uuid,
  type FloatingIp,
  type Network,
  type Port,
  type Quotas,
  type Router,
  type SecurityGroup,
  type SecurityGroupRule,
  type Subnet,
} from './state.ts';

const PAGING = new Set([
  'limit',
  'marker',
  'page_reverse',
  'fields',
  'sort_key',
  'sort_dir',
  'tags',
  'tags-any',
  'not-tags',
  'not-tags-any',
  'fixed_ips',
]);

function neutronError(err: HttpError): Reply {
  const defaults: Record<number, string> = {
    400: 'HTTPBadRequest',
    403: 'HTTPForbidden',
    404: 'HTTPNotFound',
    405: 'HTTPMethodNotAllowed',
    409: 'HTTPConflict',
  };
  if (err.status === 401) return unauthorizedReply(err.message);
  return {
    status: err.status,
    json: {
      NeutronError: {
        type: err.type ?? defaults[err.status] ?? 'HTTPError',
        message: err.message,
        detail: '',
      },
    },
  };
}

const notFound = (kind: string, id: string, type: string) =>
  new HttpError(404, `${kind} ${id} could not be found.`, type);

function overQuota(ctx: Ctx, projectId: string, resource: keyof Quotas, used: number): void {
  const limit = quotaOf(ctx.env, projectId, resource);
  if (limit >= 0 && used + 1 > limit) {
    const name = resource.replace(/s$/, '');
    throw new HttpError(409, `Quota exceeded for resources: ['${name}'].`, 'OverQuota');
  }
}

function visible<T extends { projectId: string }>(
  ctx: Ctx,
  item: T | undefined,
  extra = false,
): T | undefined {
  if (!item) return undefined;
  return isAdmin(ctx) || extra || item.projectId === projectOf(ctx) ? item : undefined;
}

function common(x: {
  id: string;
  projectId: string;
  description: string;
  tags: string[];
  createdAt: number;
  updatedAt: number;
}) {
  return {
    tenant_id: x.projectId,
    project_id: x.projectId,
    description: x.description,
    tags: x.tags,
    created_at: isoSeconds(x.createdAt),
    updated_at: isoSeconds(x.updatedAt),
    revision_number: 1,
  };
}

// ---- views ----

function networkView(env: Env, n: Network) {
  return {
    id: n.id,
    name: n.name,
    admin_state_up: n.adminStateUp,
    mtu: n.mtu,
    status: 'ACTIVE',
    subnets: [...env.state.subnets.values()].filter((s) => s.networkId === n.id).map((s) => s.id),
    shared: n.shared,
    port_security_enabled: n.portSecurity,
    'router:external': n.external,
    'provider:network_type': n.external ? 'flat' : 'vxlan',
    'provider:physical_network': n.external ? 'public' : null,
    'provider:segmentation_id': n.external ? null : n.segmentationId,
    is_default: false,
    availability_zone_hints: [],
    availability_zones: [],
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    ...common(n),
  };
}

function subnetView(s: Subnet) {
  return {
    id: s.id,
    name: s.name,
    network_id: s.networkId,
    ip_version: s.ipVersion,
    subnetpool_id: null,
    enable_dhcp: s.enableDhcp,
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    gateway_ip: s.gatewayIp,
    cidr: s.cidr,
    allocation_pools: s.allocationPools,
    host_routes: [],
    dns_nameservers: s.dnsNameservers,
    service_types: [],
    ...common(s),
    revision_number: 0,
  };
}

function portView(p: Port) {
  return {
    id: p.id,
    name: p.name,
    network_id: p.networkId,
    mac_address: p.macAddress,
    admin_state_up: p.adminStateUp,
    status: p.status,
    device_id: p.deviceId,
    device_owner: p.deviceOwner,
    fixed_ips: p.fixedIps,
    port_security_enabled: p.portSecurity,
    security_groups: p.securityGroups,
    'binding:vnic_type': 'normal',
    'binding:profile': {},
    'binding:host_id': p.hostId,
    'binding:vif_type': p.hostId ? 'ovs' : 'unbound',
    'binding:vif_details': {},
    allowed_address_pairs: p.allowedAddressPairs,
    extra_dhcp_opts: [],
    ...common(p),
  };
}

function routerView(env: Env, r: Router) {
  const gwPort = r.gateway ? env.state.ports.get(r.gateway.portId) : undefined;
  return {
    id: r.id,
    name: r.name,
    admin_state_up: r.adminStateUp,
    status: 'ACTIVE',
    external_gateway_info: r.gateway
      ? {
          network_id: r.gateway.networkId,
          enable_snat: r.gateway.enableSnat,
          external_fixed_ips: gwPort?.fixedIps ?? [],
        }
      : null,
    availability_zones: [],
    distributed: false,
    ha: false,
    availability_zone_hints: [],
    routes: [],
    flavor_id: null,
    ...common(r),
  };
}

function ruleView(r: SecurityGroupRule) {
  return {
    id: r.id,
    tenant_id: r.projectId,
    project_id: r.projectId,
    security_group_id: r.securityGroupId,
    ethertype: r.ethertype,
    direction: r.direction,
    protocol: r.protocol,
    port_range_min: r.portRangeMin,
    port_range_max: r.portRangeMax,
    remote_ip_prefix: r.remoteIpPrefix,
    remote_address_group_id: null,
    normalized_cidr: r.remoteIpPrefix,
    remote_group_id: r.remoteGroupId,
    description: r.description,
    tags: [],
    created_at: isoSeconds(r.createdAt),
    updated_at: isoSeconds(r.createdAt),
    revision_number: 0,
  };
}

function sgView(env: Env, g: SecurityGroup) {
  const rules = [...env.state.securityGroupRules.values()]
    .filter((r) => r.securityGroupId === g.id)
    .map(ruleView);
  return { id: g.id, name: g.name, stateful: true, shared: false, security_group_rules: rules, ...common(g) };
}

function fipView(env: Env, f: FloatingIp) {
  return {
    id: f.id,
    floating_network_id: f.floatingNetworkId,
    floating_ip_address: f.floatingIpAddress,
    port_id: f.portId,
    fixed_ip_address: f.fixedIpAddress,
    router_id: f.routerId,
    status: f.portId ? 'ACTIVE' : 'DOWN',
    port_details: null,
    dns_domain: '',
    dns_name: '',
    qos_policy_id: null,
    port_forwardings: [],
    ...common(f),
  };
}

// ---- list / filter / paginate ----

function matchesTags(q: URLSearchParams, tags: string[]): boolean {
  const list = (k: string) => (q.get(k) ?? '').split(',').filter(Boolean);
  if (q.has('tags') && !list('tags').every((t) => tags.includes(t))) return false;
  if (q.has('tags-any') && !list('tags-any').some((t) => tags.includes(t))) return false;
  if (q.has('not-tags') && list('not-tags').every((t) => tags.includes(t))) return false;
  if (q.has('not-tags-any') && list('not-tags-any').some((t) => tags.includes(t))) return false;
  return true;
}

function listReply(ctx: Ctx, collection: string, views: Record<string, unknown>[]): Reply {
  const q = ctx.query;
  let items = views.filter((v) => {
    if (!matchesTags(q, (v.tags as string[]) ?? [])) return false;
    for (const key of new Set(q.keys())) {
      if (PAGING.has(key)) continue;
      if (!(key in v)) continue;
      const wanted = q.getAll(key).map((w) => w.toLowerCase());
      if (!wanted.includes(String(v[key]).toLowerCase())) return false;
    }
    const fixed = q.getAll('fixed_ips');
    return fixed.every((f) => {
      const [k, val] = f.split('=');
      return ((v.fixed_ips as Record<string, string>[]) ?? []).some((ip) => k !== undefined && ip[k] === val);
    });
  });
  const body: Record<string, unknown> = {};
  const marker = q.get('marker');
  if (marker) {
    const idx = items.findIndex((v) => v.id === marker);
    items = idx >= 0 ? items.slice(idx + 1) : [];
  }
  const limit = Number(q.get('limit') ?? 0);
  if (limit > 0 && items.length > limit) {
    items = items.slice(0, limit);
    const next = new URLSearchParams(q);
    next.set('marker', String(items[items.length - 1]?.id));
    body[`${collection}_links`] = [{ rel: 'next', href: `${ctx.env.url}${ctx.rawPath}?${next}` }];
  }
  const fields = q.getAll('fields');
  body[collection] = fields.length
    ? items.map((v) => Object.fromEntries(fields.map((f) => [f, v[f]])))
    : items;
  return { status: 200, json: body };
}

// ---- ports and IPs (also used by Nova and Octavia) ----

function usedIps(env: Env, subnetId: string): Set<string> {
  const used = new Set<string>();
  for (const p of env.state.ports.values())
    for (const ip of p.fixedIps) if (ip.subnet_id === subnetId) used.add(ip.ip_address);
  const subnet = env.state.subnets.get(subnetId);
  if (subnet?.gatewayIp) used.add(subnet.gatewayIp);
  return used;
}

function allocateIp(env: Env, subnet: Subnet, wanted?: string): { subnet_id: string; ip_address: string } {
  const used = usedIps(env, subnet.id);
  if (wanted) {
    const cidr = parseCidr(subnet.cidr);
    if (!cidr || !contains(cidr, wanted))
      throw new HttpError(
        400,
        `IP address ${wanted} is not a valid IP for the specified subnet.`,
        'InvalidIpForSubnet',
      );
    if (used.has(wanted) && wanted !== subnet.gatewayIp)
      throw new HttpError(
        409,
        `Unable to complete operation for network ${subnet.networkId}. The IP address ${wanted} is in use.`,
        'IpAddressInUse',
      );
    return { subnet_id: subnet.id, ip_address: wanted };
  }
  const ip = allocate(subnet.allocationPools, used);
  if (!ip)
    throw new HttpError(
      409,
      `No more IP addresses available on network ${subnet.networkId}.`,
      'IpAddressGenerationFailure',
    );
  return { subnet_id: subnet.id, ip_address: ip };
}

/** Default security group of a project, created on first use as Neutron does. */
export function ensureDefaultSecurityGroup(env: Env, projectId: string): SecurityGroup {
  const existing = [...env.state.securityGroups.values()].find(
    (g) => g.projectId === projectId && g.name === 'default',
  );
  if (existing) return existing;
  const now = env.now();
  const group: SecurityGroup = {
    id: uuid(),
    name: 'default',
    projectId,
    description: 'Default security group',
    tags: [],
    createdAt: now,
    updatedAt: now,
  };
  env.state.securityGroups.set(group.id, group);
  for (const ethertype of ['IPv4', 'IPv6']) {
    addRule(env, { projectId, securityGroupId: group.id, direction: 'egress', ethertype });
    addRule(env, {
      projectId,
      securityGroupId: group.id,
      direction: 'ingress',
      ethertype,
      remoteGroupId: group.id,
    });
  }
  return group;
}

function addRule(
  env: Env,
  r: Partial<SecurityGroupRule> & {
    projectId: string;
    securityGroupId: string;
    direction: string;
    ethertype: string;
  },
): SecurityGroupRule {
  const rule: SecurityGroupRule = {
    id: uuid(),
    protocol: null,
    portRangeMin: null,
    portRangeMax: null,
    remoteIpPrefix: null,
    remoteGroupId: null,
    description: '',
    createdAt: env.now(),
    ...r,
  };
  env.state.securityGroupRules.set(rule.id, rule);
  return rule;
}

export interface NewPort {
  projectId: string;
  networkId: string;
  name?: string;
  fixedIps?: { subnet_id?: string; ip_address?: string }[];
  securityGroups?: string[];
  deviceId?: string;
  deviceOwner?: string;
  hostId?: string;
  status?: string;
  description?: string;
  tags?: string[];
  portSecurity?: boolean;
  allowedAddressPairs?: { ip_address: string; mac_address?: string }[];
  /** Skip the ports quota (ports Neutron makes for itself: router gateways, floating IPs). */
  internal?: boolean;
}

/** Creates a port with fixed IPs allocated from the network's subnets (first IPv4 subnet unless told). */
export function createPort(ctx: Ctx, input: NewPort): Port {
  const { env } = ctx;
  const network = env.state.networks.get(input.networkId);
  if (!network) throw notFound('Network', input.networkId, 'NetworkNotFound');
  if (!input.internal)
    overQuota(
      ctx,
      input.projectId,
      'ports',
      [...env.state.ports.values()].filter((p) => p.projectId === input.projectId).length,
    );
  const subnets = [...env.state.subnets.values()].filter((s) => s.networkId === network.id);
  const fixedIps = input.fixedIps?.length
    ? input.fixedIps.map((f) => {
        const subnet = f.subnet_id
          ? subnets.find((s) => s.id === f.subnet_id)
          : subnets.find(
              (s) =>
                f.ip_address &&
                parseCidr(s.cidr) &&
                contains(parseCidr(s.cidr) as NonNullable<ReturnType<typeof parseCidr>>, f.ip_address),
            );
        if (!subnet)
          throw new HttpError(
            400,
            `Invalid input for operation: Failed to create port on network ${network.id}, because fixed_ips included invalid subnet ${f.subnet_id ?? f.ip_address}.`,
            'InvalidInput',
          );
        return allocateIp(env, subnet, f.ip_address);
      })
    : subnets.slice(0, 1).map((s) => allocateIp(env, s));
  const compute =
    (input.deviceOwner ?? '').startsWith('compute:') ||
    input.deviceOwner === '' ||
    input.deviceOwner === undefined;
  const portSecurity = input.portSecurity ?? network.portSecurity;
  const securityGroups =
    input.securityGroups ??
    (compute && portSecurity ? [ensureDefaultSecurityGroup(env, input.projectId).id] : []);
  const now = env.now();
  const mac = 'fa:16:3e:' + [...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':');
  const port: Port = {
    id: uuid(),
    name: input.name ?? '',
    projectId: input.projectId,
    networkId: network.id,
    macAddress: mac,
    fixedIps,
    deviceId: input.deviceId ?? '',
    deviceOwner: input.deviceOwner ?? '',
    securityGroups,
    status: input.status ?? 'DOWN',
    hostId: input.hostId ?? '',
    adminStateUp: true,
    description: input.description ?? '',
    tags: input.tags ?? [],
    createdAt: now,
    updatedAt: now,
    allowedAddressPairs: input.allowedAddressPairs ?? [],
    portSecurity,
  };
  env.state.ports.set(port.id, port);
  return port;
}

/** Deletes a port and releases what points at it (floating IP associations). */
export function deletePortById(env: Env, portId: string): void {
  env.state.ports.delete(portId);
  for (const f of env.state.floatingIps.values()) {
    if (f.portId === portId) Object.assign(f, { portId: null, fixedIpAddress: null, routerId: null });
  }
}

// ---- handlers ----

function tagsList(b: Record<string, unknown>): string[] {
  return Array.isArray(b.tags) ? (b.tags as unknown[]).map(String) : [];
}

function getNetwork(ctx: Ctx, id: string): Network {
  const n = ctx.env.state.networks.get(id);
  const v = visible(ctx, n, n?.shared || n?.external);
  if (!v) throw notFound('Network', id, 'NetworkNotFound');
  return v;
}

function createNetwork(ctx: Ctx): Reply {
  const projectId = projectOf(ctx);
  const b = bodyOf(ctx, 'network');
  const owner = (isAdmin(ctx) && (str(b.project_id) ?? str(b.tenant_id))) || projectId;
  overQuota(
    ctx,
    owner,
    'networks',
    [...ctx.env.state.networks.values()].filter((n) => n.projectId === owner).length,
  );
  const external = b['router:external'] === true;
  if ((external || b.shared === true) && !isAdmin(ctx))
    throw new HttpError(
      403,
      '(rule:create_network and rule:create_network:router:external) is disallowed by policy',
      'PolicyNotAuthorized',
    );
  const now = ctx.env.now();
  const n: Network = {
    id: uuid(),
    name: str(b.name) ?? '',
    projectId: owner,
    external,
    shared: b.shared === true,
    adminStateUp: b.admin_state_up !== false,
    mtu: typeof b.mtu === 'number' ? b.mtu : 1450,
    description: str(b.description) ?? '',
    tags: tagsList(b),
    createdAt: now,
    updatedAt: now,
    segmentationId: 100 + ctx.env.state.nextSeq(),
    portSecurity: b.port_security_enabled !== false,
  };
  ctx.env.state.networks.set(n.id, n);
  return { status: 201, json: { network: networkView(ctx.env, n) } };
}

function deleteNetwork(ctx: Ctx, n: Network): void {
  const { state } = ctx.env;
  const inUse = [...state.ports.values()].filter(
    (p) => p.networkId === n.id && p.deviceOwner !== 'network:dhcp',
  );
  if (inUse.length > 0) {
    throw new HttpError(
      409,
      `Unable to complete operation on network ${n.id}. There are one or more ports still in use on the network, id for these ports is: ${inUse.map((p) => p.id).join(', ')}.`,
      'NetworkInUse',
    );
  }
  for (const [id, s] of state.subnets) if (s.networkId === n.id) state.subnets.delete(id);
  state.networks.delete(n.id);
}

function createSubnet(ctx: Ctx): Reply {
  const { state } = ctx.env;
  const projectId = projectOf(ctx);
  const b = bodyOf(ctx, 'subnet');
  // As Neutron: the body's attributes first, then the quota, then the network it names.
  if (b.ip_version !== undefined && b.ip_version !== 4)
    throw new HttpError(
      400,
      'Invalid input for ip_version. Reason: cloudsim supports IPv4 subnets only.',
      'HTTPBadRequest',
    );
  const cidrText = str(b.cidr) ?? '';
  const cidr = parseCidr(cidrText);
  if (!cidr)
    throw new HttpError(400, `Invalid input for cidr. Reason: '${cidrText}' is not a valid IP subnet.`);
  if (cidr.prefix > 30)
    throw new HttpError(
      400,
      `Invalid input for operation: Invalid CIDR ${cidrText} for IPv4 address mode.`,
      'InvalidInput',
    );
  overQuota(
    ctx,
    projectId,
    'subnets',
    [...state.subnets.values()].filter((s) => s.projectId === projectId).length,
  );
  const network = getNetwork(ctx, str(b.network_id) ?? '');
  for (const other of state.subnets.values()) {
    const o = parseCidr(other.cidr);
    if (other.networkId === network.id && o && overlaps(o, cidr)) {
      throw new HttpError(
        400,
        `Invalid input for operation: Requested subnet with cidr: ${cidrText} for network: ${network.id} overlaps with another subnet.`,
        'InvalidInput',
      );
    }
  }
  const gatewayIp = b.gateway_ip === null ? null : (str(b.gateway_ip) ?? intToIp(cidr.network + 1));
  const pools = Array.isArray(b.allocation_pools)
    ? (b.allocation_pools as { start: string; end: string }[])
    : [
        {
          start: intToIp(cidr.network + (gatewayIp === intToIp(cidr.network + 1) ? 2 : 1)),
          end: intToIp(cidr.network + cidrSize(cidr) - 2),
        },
      ];
  const now = ctx.env.now();
  const s: Subnet = {
    id: uuid(),
    name: str(b.name) ?? '',
    projectId,
    networkId: network.id,
    ipVersion: 4,
    cidr: cidrText,
    gatewayIp,
    allocationPools: pools,
    enableDhcp: b.enable_dhcp !== false,
    dnsNameservers: Array.isArray(b.dns_nameservers) ? (b.dns_nameservers as string[]) : [],
    description: str(b.description) ?? '',
    tags: tagsList(b),
    createdAt: now,
    updatedAt: now,
  };
  state.subnets.set(s.id, s);
  return { status: 201, json: { subnet: subnetView(s) } };
}

function getSubnet(ctx: Ctx, id: string): Subnet {
  const s = ctx.env.state.subnets.get(id);
  const net = s ? ctx.env.state.networks.get(s.networkId) : undefined;
  const v = visible(ctx, s, net?.shared || net?.external);
  if (!v) throw notFound('Subnet', id, 'SubnetNotFound');
  return v;
}

function deleteSubnet(ctx: Ctx, s: Subnet): void {
  const inUse = [...ctx.env.state.ports.values()].filter((p) => p.fixedIps.some((f) => f.subnet_id === s.id));
  if (inUse.length > 0) {
    throw new HttpError(
      409,
      `Unable to complete operation on subnet ${s.id}: One or more ports have an IP allocation from this subnet.`,
      'SubnetInUse',
    );
  }
  ctx.env.state.subnets.delete(s.id);
}

function getPort(ctx: Ctx, id: string): Port {
  const v = visible(ctx, ctx.env.state.ports.get(id));
  if (!v) throw notFound('Port', id, 'PortNotFound');
  return v;
}

function portInput(ctx: Ctx, b: Record<string, unknown>, projectId: string): NewPort {
  const sgs = Array.isArray(b.security_groups) ? (b.security_groups as string[]) : undefined;
  for (const id of sgs ?? [])
    if (!ctx.env.state.securityGroups.has(id)) throw notFound('Security group', id, 'SecurityGroupNotFound');
  return {
    projectId,
    networkId: str(b.network_id) ?? '',
    name: str(b.name),
    securityGroups: sgs,
    fixedIps: Array.isArray(b.fixed_ips)
      ? (b.fixed_ips as { subnet_id?: string; ip_address?: string }[])
      : undefined,
    deviceId: str(b.device_id),
    deviceOwner: str(b.device_owner),
    description: str(b.description),
    tags: tagsList(b),
    portSecurity: typeof b.port_security_enabled === 'boolean' ? b.port_security_enabled : undefined,
    allowedAddressPairs: Array.isArray(b.allowed_address_pairs)
      ? (b.allowed_address_pairs as { ip_address: string }[])
      : undefined,
  };
}

function updatePort(ctx: Ctx, p: Port, b: Record<string, unknown>): void {
  if (str(b.name) !== undefined) p.name = str(b.name) as string;
  if (str(b.description) !== undefined) p.description = str(b.description) as string;
  if (Array.isArray(b.security_groups)) p.securityGroups = b.security_groups as string[];
  if (Array.isArray(b.allowed_address_pairs))
    p.allowedAddressPairs = b.allowed_address_pairs as { ip_address: string }[];
  if (str(b.device_id) !== undefined) p.deviceId = str(b.device_id) as string;
  if (str(b.device_owner) !== undefined) p.deviceOwner = str(b.device_owner) as string;
  if (typeof b.port_security_enabled === 'boolean') p.portSecurity = b.port_security_enabled;
  p.updatedAt = ctx.env.now();
}

function getRouter(ctx: Ctx, id: string): Router {
  const v = visible(ctx, ctx.env.state.routers.get(id));
  if (!v) throw notFound('Router', id, 'RouterNotFound');
  return v;
}

function setGateway(ctx: Ctx, r: Router, info: unknown): void {
  if (r.gateway) {
    deletePortById(ctx.env, r.gateway.portId);
    r.gateway = null;
  }
  // null and {} both clear the gateway, as in Neutron
  const g = (info ?? {}) as Record<string, unknown>;
  if (typeof g !== 'object' || !str(g.network_id)) return;
  const net = getNetwork(ctx, str(g.network_id) ?? '');
  if (!net.external)
    throw new HttpError(
      400,
      `Bad router request: Network ${net.id} is not an external network.`,
      'BadRequest',
    );
  const fixed = Array.isArray(g.external_fixed_ips)
    ? (g.external_fixed_ips as { subnet_id?: string; ip_address?: string }[])
    : undefined;
  const port = createPort(ctx, {
    projectId: '',
    networkId: net.id,
    fixedIps: fixed,
    deviceId: r.id,
    deviceOwner: 'network:router_gateway',
    status: 'ACTIVE',
    internal: true,
  });
  r.gateway = { networkId: net.id, portId: port.id, enableSnat: g.enable_snat !== false };
}

function createRouter(ctx: Ctx): Reply {
  const projectId = projectOf(ctx);
  const b = bodyOf(ctx, 'router');
  overQuota(
    ctx,
    projectId,
    'routers',
    [...ctx.env.state.routers.values()].filter((r) => r.projectId === projectId).length,
  );
  const now = ctx.env.now();
  const r: Router = {
    id: uuid(),
    name: str(b.name) ?? '',
    projectId,
    gateway: null,
    description: str(b.description) ?? '',
    tags: tagsList(b),
    createdAt: now,
    updatedAt: now,
    adminStateUp: b.admin_state_up !== false,
  };
  setGateway(ctx, r, b.external_gateway_info);
  ctx.env.state.routers.set(r.id, r);
  return { status: 201, json: { router: routerView(ctx.env, r) } };
}

function routerInterface(ctx: Ctx, add: boolean): Reply {
  const { state } = ctx.env;
  const r = getRouter(ctx, ctx.params.id as string);
  const b = (ctx.body ?? {}) as Record<string, unknown>;
  const subnetId = str(b.subnet_id);
  const portId = str(b.port_id);
  if (!subnetId && !portId)
    throw new HttpError(
      400,
      'Bad router request: Either subnet_id or port_id must be specified.',
      'BadRequest',
    );
  let port: Port | undefined;
  if (add) {
    if (portId) {
      port = getPort(ctx, portId);
      if (port.deviceId) throw new HttpError(409, `Port ${port.id} is already in use.`, 'PortInUse');
      Object.assign(port, { deviceId: r.id, deviceOwner: 'network:router_interface', status: 'ACTIVE' });
    } else {
      const subnet = getSubnet(ctx, subnetId as string);
      const taken = [...state.ports.values()].some(
        (p) => p.deviceId === r.id && p.fixedIps.some((f) => f.subnet_id === subnet.id),
      );
      if (taken)
        throw new HttpError(
          400,
          `Bad router request: Router already has a port on subnet ${subnet.id}.`,
          'BadRequest',
        );
      if (!subnet.gatewayIp)
        throw new HttpError(
          400,
          `Bad router request: Subnet for router interface must have a gateway IP.`,
          'BadRequest',
        );
      port = createPort(ctx, {
        projectId: subnet.projectId,
        networkId: subnet.networkId,
        fixedIps: [{ subnet_id: subnet.id, ip_address: subnet.gatewayIp }],
        deviceId: r.id,
        deviceOwner: 'network:router_interface',
        status: 'ACTIVE',
        securityGroups: [],
        internal: true,
      });
    }
  } else {
    port = [...state.ports.values()].find(
      (p) =>
        p.deviceId === r.id &&
        p.deviceOwner === 'network:router_interface' &&
        (portId ? p.id === portId : p.fixedIps.some((f) => f.subnet_id === subnetId)),
    );
    if (!port) {
      throw subnetId
        ? new HttpError(
            404,
            `Router ${r.id} does not have an interface with id ${subnetId}`,
            'RouterInterfaceNotFoundForSubnet',
          )
        : new HttpError(
            404,
            `Router ${r.id} does not have an interface with id ${portId}`,
            'RouterInterfaceNotFound',
          );
    }
    state.ports.delete(port.id);
  }
  const subnetIds = port.fixedIps.map((f) => f.subnet_id);
  return {
    status: 200,
    json: {
      id: r.id,
      tenant_id: r.projectId,
      port_id: port.id,
      network_id: port.networkId,
      subnet_id: subnetIds[0],
      subnet_ids: subnetIds,
    },
  };
}

function deleteRouter(ctx: Ctx, r: Router): void {
  const ifaces = [...ctx.env.state.ports.values()].filter(
    (p) => p.deviceId === r.id && p.deviceOwner === 'network:router_interface',
  );
  if (ifaces.length > 0)
    throw new HttpError(
      409,
      `Router ${r.id} has ports still attached: ${ifaces.map((p) => p.id).join(', ')}`,
      'RouterInUse',
    );
  if (r.gateway) deletePortById(ctx.env, r.gateway.portId);
  ctx.env.state.routers.delete(r.id);
}

function getSg(ctx: Ctx, id: string): SecurityGroup {
  const v = visible(ctx, ctx.env.state.securityGroups.get(id));
  if (!v) throw notFound('Security group', id, 'SecurityGroupNotFound');
  return v;
}

function createSg(ctx: Ctx): Reply {
  const projectId = projectOf(ctx);
  ensureDefaultSecurityGroup(ctx.env, projectId);
  const b = bodyOf(ctx, 'security_group');
  overQuota(
    ctx,
    projectId,
    'security_groups',
    [...ctx.env.state.securityGroups.values()].filter((g) => g.projectId === projectId).length,
  );
  const name = str(b.name) ?? '';
  if (name === 'default')
    throw new HttpError(409, 'Default security group already exists.', 'SecurityGroupDefaultAlreadyExists');
  const now = ctx.env.now();
  const g: SecurityGroup = {
    id: uuid(),
    name,
    projectId,
    description: str(b.description) ?? '',
    tags: tagsList(b),
    createdAt: now,
    updatedAt: now,
  };
  ctx.env.state.securityGroups.set(g.id, g);
  for (const ethertype of ['IPv4', 'IPv6'])
    addRule(ctx.env, { projectId, securityGroupId: g.id, direction: 'egress', ethertype });
  return { status: 201, json: { security_group: sgView(ctx.env, g) } };
}

function deleteSg(ctx: Ctx, g: SecurityGroup): void {
  const { state } = ctx.env;
  const users = [...state.ports.values()].filter((p) => p.securityGroups.includes(g.id));
  if (users.length > 0) throw new HttpError(409, `Security Group ${g.id} in use.`, 'SecurityGroupInUse');
  for (const [id, r] of state.securityGroupRules)
    if (r.securityGroupId === g.id) state.securityGroupRules.delete(id);
  state.securityGroups.delete(g.id);
}

function getRule(ctx: Ctx, id: string): SecurityGroupRule {
  const r = visible(ctx, ctx.env.state.securityGroupRules.get(id));
  if (!r) throw notFound('Security group rule', id, 'SecurityGroupRuleNotFound');
  return r;
}

function createRule(ctx: Ctx): Reply {
  const projectId = projectOf(ctx);
  const b = bodyOf(ctx, 'security_group_rule');
  const g = getSg(ctx, str(b.security_group_id) ?? '');
  const direction = str(b.direction);
  if (direction !== 'ingress' && direction !== 'egress')
    throw new HttpError(400, `Invalid input for direction. Reason: ${direction} is not in valid_values.`);
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  const protocol = b.protocol === undefined || b.protocol === null ? null : String(b.protocol);
  const candidate = {
    direction,
    ethertype: str(b.ethertype) ?? 'IPv4',
    protocol,
    portRangeMin: num(b.port_range_min),
    portRangeMax: num(b.port_range_max),
    remoteIpPrefix: str(b.remote_ip_prefix) ?? null,
    remoteGroupId: str(b.remote_group_id) ?? null,
  };
  if (
    candidate.portRangeMin !== null &&
    candidate.portRangeMax !== null &&
    candidate.portRangeMin > candidate.portRangeMax
  ) {
    throw new HttpError(
      400,
      'For TCP/UDP protocols, port_range_min must be <= port_range_max',
      'SecurityGroupInvalidPortRange',
    );
  }
  const dup = [...ctx.env.state.securityGroupRules.values()].find(
    (r) =>
      r.securityGroupId === g.id &&
      (Object.keys(candidate) as (keyof typeof candidate)[]).every((k) => r[k] === candidate[k]),
  );
  if (dup)
    throw new HttpError(
      409,
      `Security group rule already exists. Rule id is ${dup.id}.`,
      'SecurityGroupRuleExists',
    );
  const rule = addRule(ctx.env, {
    projectId,
    securityGroupId: g.id,
    description: str(b.description) ?? '',
    ...candidate,
  });
  return { status: 201, json: { security_group_rule: ruleView(rule) } };
}

function createFip(ctx: Ctx): Reply {
  const projectId = projectOf(ctx);
  const b = bodyOf(ctx, 'floatingip');
  const net = getNetwork(ctx, str(b.floating_network_id) ?? '');
  if (!net.external)
    throw new HttpError(
      400,
      `Bad floatingip request: Network ${net.id} is not a valid external network.`,
      'BadRequest',
    );
  overQuota(
    ctx,
    projectId,
    'floatingips',
    [...ctx.env.state.floatingIps.values()].filter((f) => f.projectId === projectId).length,
  );
  const fixed = str(b.floating_ip_address)
    ? [{ ip_address: str(b.floating_ip_address) }]
    : str(b.subnet_id)
      ? [{ subnet_id: str(b.subnet_id) }]
      : undefined;
  const now = ctx.env.now();
  const id = uuid();
  const own = createPort(ctx, {
    projectId: '',
    networkId: net.id,
    fixedIps: fixed,
    deviceId: id,
    deviceOwner: 'network:floatingip',
    status: 'N/A',
    internal: true,
  });
  const f: FloatingIp = {
    id,
    projectId,
    floatingNetworkId: net.id,
    floatingIpAddress: own.fixedIps[0]?.ip_address ?? '',
    portId: null,
    fixedIpAddress: null,
    routerId: null,
    description: str(b.description) ?? '',
    tags: tagsList(b),
    createdAt: now,
    updatedAt: now,
    ownPortId: own.id,
  };
  associate(ctx, f, b);
  ctx.env.state.floatingIps.set(f.id, f);
  return { status: 201, json: { floatingip: fipView(ctx.env, f) } };
}

function associate(ctx: Ctx, f: FloatingIp, b: Record<string, unknown>): void {
  if (!('port_id' in b)) return;
  const portId = str(b.port_id);
  if (!portId) {
    Object.assign(f, { portId: null, fixedIpAddress: null, routerId: null });
    return;
  }
  const port = getPort(ctx, portId);
  const fixed = str(b.fixed_ip_address) ?? port.fixedIps[0]?.ip_address;
  if (!fixed)
    throw new HttpError(
      400,
      `Bad floatingip request: Port ${port.id} does not have any IPv4 address.`,
      'BadRequest',
    );
  const router = [...ctx.env.state.routers.values()].find(
    (r) =>
      r.gateway?.networkId === f.floatingNetworkId &&
      [...ctx.env.state.ports.values()].some(
        (p) =>
          p.deviceId === r.id &&
          p.networkId === port.networkId &&
          p.deviceOwner === 'network:router_interface',
      ),
  );
  if (!router) {
    const subnet = port.fixedIps[0]?.subnet_id;
    throw new HttpError(
      404,
      `External network ${f.floatingNetworkId} is not reachable from subnet ${subnet}.  Therefore, cannot associate Port ${port.id} with a Floating IP.`,
      'ExternalGatewayForFloatingIPNotFound',
    );
  }
  Object.assign(f, { portId: port.id, fixedIpAddress: fixed, routerId: router.id, updatedAt: ctx.env.now() });
}

function getFip(ctx: Ctx, id: string): FloatingIp {
  const v = visible(ctx, ctx.env.state.floatingIps.get(id));
  if (!v) throw notFound('Floating IP', id, 'FloatingIPNotFound');
  return v;
}

// ---- tags ----

type Tagged = { tags: string[]; projectId: string };
const TAGGABLE: Record<string, (ctx: Ctx, id: string) => Tagged> = {
  networks: getNetwork,
  subnets: getSubnet,
  ports: getPort,
  routers: getRouter,
  'security-groups': getSg,
  security_groups: getSg,
  floatingips: getFip,
};

function tagged(ctx: Ctx): Tagged {
  const getter = TAGGABLE[ctx.params.resource as string];
  if (!getter) throw new HttpError(404, 'The resource could not be found.');
  return getter(ctx, ctx.params.id as string);
}

const tagRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v2.0/{resource}/{id}/tags',
    handler: (ctx) => ({ status: 200, json: { tags: tagged(ctx).tags } }),
  },
  {
    method: 'GET',
    path: '/v2.0/{resource}/{id}/tags/{tag}',
    handler: (ctx) => {
      if (!tagged(ctx).tags.includes(ctx.params.tag as string))
        throw new HttpError(404, `Tag ${ctx.params.tag} could not be found.`, 'TagNotFound');
      return { status: 204 };
    },
  },
  {
    method: 'PUT',
    path: '/v2.0/{resource}/{id}/tags/{tag}',
    handler: (ctx) => {
      const t = tagged(ctx);
      if (!t.tags.includes(ctx.params.tag as string)) t.tags.push(ctx.params.tag as string);
      return { status: 201 };
    },
  },
  {
    method: 'PUT',
    path: '/v2.0/{resource}/{id}/tags',
    handler: (ctx) => {
      const t = tagged(ctx);
      const tags = (ctx.body as { tags?: unknown } | undefined)?.tags;
      if (!Array.isArray(tags))
        throw new HttpError(400, "Invalid input for tags. Reason: 'tags' is a required property.");
      t.tags = [...new Set(tags.map(String))];
      return { status: 200, json: { tags: t.tags } };
    },
  },
  deleteRoute('/v2.0/{resource}/{id}/tags/{tag}', 204, (ctx) => {
    const t = tagged(ctx);
    if (!t.tags.includes(ctx.params.tag as string))
      throw new HttpError(404, `Tag ${ctx.params.tag} could not be found.`, 'TagNotFound');
    t.tags = t.tags.filter((x) => x !== ctx.params.tag);
  }),
  {
    method: 'DELETE',
    path: '/v2.0/{resource}/{id}/tags',
    handler: (ctx) => ((tagged(ctx).tags = []), { status: 204 }),
  },
];

function mine<T extends { projectId: string }>(ctx: Ctx, items: Iterable<T>, also?: (t: T) => boolean): T[] {
  const admin = isAdmin(ctx);
  const project = projectOf(ctx);
  return [...items].filter((i) => admin || i.projectId === project || (also?.(i) ?? false));
}

/**
 * The API extensions whose resources and attributes cloudsim serves, as Neutron lists them (clients
 * ask before using an optional attribute), worded and dated as the lab's Neutron 21 (Zed) lists them.
 */
const EXTENSIONS = new Map(
  (
    [
      ['security-group', 'security-group', 'The security groups extension.', '2012-10-05'],
      [
        'router',
        'Neutron L3 Router',
        'Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.',
        '2012-07-20',
      ],
      [
        'external-net',
        'Neutron external network',
        'Adds external network attribute to network resource.',
        '2013-01-14',
      ],
      [
        'quotas',
        'Quota management support',
        'Expose functions for quotas management per project',
        '2012-07-29',
      ],
      [
        'binding',
        'Port Binding',
        'Expose port bindings of a virtual port to external application',
        '2014-02-03',
      ],
      ['port-security', 'Port Security', 'Provides port security', '2012-07-23'],
      ['allowed-address-pairs', 'Allowed Address Pairs', 'Provides allowed address pairs', '2013-07-23'],
      [
        'standard-attr-tag',
        'Tag support for resources with standard attribute: port, subnet, subnetpool, network, security_group, router, floatingip, policy, trunk, network_segment_range',
        'Enables to set tag on resources with standard attribute.',
        '2017-01-01',
      ],
      [
        'standard-attr-description',
        'standard-attr-description',
        'Extension to add descriptions to standard attributes',
        '2016-02-10',
      ],
      [
        'standard-attr-revisions',
        'Resource revision numbers',
        'This extension will display the revision number of neutron resources.',
        '2016-04-11',
      ],
      ['net-mtu', 'Network MTU', 'Provides MTU attribute for a network resource.', '2015-03-25'],
    ] as const
  ).map(([alias, name, description, day]): [string, unknown] => [
    alias,
    // Neutron stamps most extensions at 10:00 on their day; the tag extension at midnight.
    {
      name,
      alias,
      description,
      updated: `${day}T${alias === 'standard-attr-tag' ? '00' : '10'}:00:00-00:00`,
      links: [],
    },
  ]),
);

/** GET of a collection: the caller's views of it, filtered and paged as Neutron does. */
/** How one Neutron collection is served: its JSON keys, who sees what, and what each verb does. */
interface Collection<T> {
  plural: string;
  singular: string;
  list: (ctx: Ctx) => T[];
  /** The item of `id`, or the 404 Neutron answers. */
  get: (ctx: Ctx, id: string) => T;
  view: (ctx: Ctx, item: T) => Record<string, unknown>;
  create: (ctx: Ctx) => Reply;
  /** Applies a PUT's body to the item; without it the collection has no PUT. */
  update?: (ctx: Ctx, item: T, body: Record<string, unknown>) => void;
  /** Forgets the item (or throws the 409 of one in use); the reply is 204. */
  remove: (ctx: Ctx, item: T) => void;
}

/** The list, create, show, update and delete routes of the collection at `path`. */
function collectionRoutes<T>(path: string, c: Collection<T>): Route[] {
  const one = `${path}/{id}`;
  const item = (ctx: Ctx) => c.get(ctx, ctx.params.id as string);
  const { update } = c;
  return [
    {
      method: 'GET',
      path,
      handler: (ctx) =>
        listReply(
          ctx,
          c.plural,
          c.list(ctx).map((i) => c.view(ctx, i)),
        ),
    },
    { method: 'POST', path, handler: c.create },
    showRoute(one, c.singular, (ctx) => c.view(ctx, item(ctx))),
    ...(update
      ? [
          {
            method: 'PUT',
            path: one,
            handler: (ctx: Ctx) => {
              const i = item(ctx);
              update(ctx, i, bodyOf(ctx, c.singular));
              return { status: 200, json: { [c.singular]: c.view(ctx, i) } };
            },
          } as const,
        ]
      : []),
    deleteRoute(one, 204, (ctx) => c.remove(ctx, item(ctx))),
  ];
}

const routes: Route[] = [
  discoveryRoute('', (env) => ({
    versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${env.url}/network/v2.0/` }] }],
  })),
  {
    method: 'GET',
    path: '/v2.0',
    // Neutron lists the collections it serves at its versioned root; these are cloudsim's.
    handler: (ctx) => ({
      status: 200,
      json: {
        resources: (
          [
            ['network', 'networks'],
            ['subnet', 'subnets'],
            ['port', 'ports'],
            ['router', 'routers'],
            ['security_group', 'security-groups'],
            ['security_group_rule', 'security-group-rules'],
            ['floatingip', 'floatingips'],
            ['quota', 'quotas'],
          ] as const
        ).map(([name, collection]) => ({
          name,
          collection,
          links: [{ rel: 'self', href: `${ctx.env.url}/network/v2.0/${collection}` }],
        })),
      },
    }),
  },
  {
    method: 'GET',
    path: '/v2.0/extensions',
    handler: () => ({ status: 200, json: { extensions: [...EXTENSIONS.values()] } }),
  },
  {
    method: 'GET',
    path: '/v2.0/extensions/{alias}',
    handler: (ctx) => {
      const extension = EXTENSIONS.get(ctx.params.alias as string);
      if (!extension) throw new HttpError(404, `Extension with alias ${ctx.params.alias} does not exist`);
      return { status: 200, json: { extension } };
    },
  },
  ...collectionRoutes('/v2.0/networks', {
    plural: 'networks',
    singular: 'network',
    list: (ctx) => mine(ctx, ctx.env.state.networks.values(), (n) => n.shared || n.external),
    get: getNetwork,
    view: (ctx, n) => networkView(ctx.env, n),
    create: createNetwork,
    update: (ctx, n, b) => {
      if (str(b.name) !== undefined) n.name = str(b.name) as string;
      if (str(b.description) !== undefined) n.description = str(b.description) as string;
      if (typeof b.mtu === 'number') n.mtu = b.mtu;
      n.updatedAt = ctx.env.now();
    },
    remove: deleteNetwork,
  }),
  ...collectionRoutes('/v2.0/subnets', {
    plural: 'subnets',
    singular: 'subnet',
    list: (ctx) => {
      const nets = ctx.env.state.networks;
      return mine(ctx, ctx.env.state.subnets.values(), (s) =>
        Boolean(nets.get(s.networkId)?.shared || nets.get(s.networkId)?.external),
      );
    },
    get: getSubnet,
    view: (_ctx, s) => subnetView(s),
    create: createSubnet,
    update: (ctx, s, b) => {
      if (str(b.name) !== undefined) s.name = str(b.name) as string;
      if (Array.isArray(b.dns_nameservers)) s.dnsNameservers = b.dns_nameservers as string[];
      s.updatedAt = ctx.env.now();
    },
    remove: deleteSubnet,
  }),
  ...collectionRoutes('/v2.0/ports', {
    plural: 'ports',
    singular: 'port',
    list: (ctx) => mine(ctx, ctx.env.state.ports.values()),
    get: getPort,
    view: (_ctx, p) => portView(p),
    create: (ctx) => {
      const projectId = projectOf(ctx);
      const b = bodyOf(ctx, 'port');
      getNetwork(ctx, str(b.network_id) ?? '');
      return { status: 201, json: { port: portView(createPort(ctx, portInput(ctx, b, projectId))) } };
    },
    update: updatePort,
    remove: (ctx, p) => {
      if (p.deviceOwner === 'network:router_interface') {
        throw new HttpError(
          409,
          `Port ${p.id} cannot be deleted directly via the port API: has device owner network:router_interface.`,
          'ServicePortInUse',
        );
      }
      deletePortById(ctx.env, p.id);
    },
  }),
  ...collectionRoutes('/v2.0/routers', {
    plural: 'routers',
    singular: 'router',
    list: (ctx) => mine(ctx, ctx.env.state.routers.values()),
    get: getRouter,
    view: (ctx, r) => routerView(ctx.env, r),
    create: createRouter,
    update: (ctx, r, b) => {
      if (str(b.name) !== undefined) r.name = str(b.name) as string;
      if ('external_gateway_info' in b) setGateway(ctx, r, b.external_gateway_info);
      r.updatedAt = ctx.env.now();
    },
    remove: deleteRouter,
  }),
  {
    method: 'PUT',
    path: '/v2.0/routers/{id}/add_router_interface',
    handler: (ctx) => routerInterface(ctx, true),
  },
  {
    method: 'PUT',
    path: '/v2.0/routers/{id}/remove_router_interface',
    handler: (ctx) => routerInterface(ctx, false),
  },
  ...collectionRoutes('/v2.0/security-groups', {
    plural: 'security_groups',
    singular: 'security_group',
    list: (ctx) => {
      ensureDefaultSecurityGroup(ctx.env, projectOf(ctx));
      return mine(ctx, ctx.env.state.securityGroups.values());
    },
    get: getSg,
    view: (ctx, g) => sgView(ctx.env, g),
    create: createSg,
    remove: deleteSg,
  }),
  ...collectionRoutes('/v2.0/security-group-rules', {
    plural: 'security_group_rules',
    singular: 'security_group_rule',
    list: (ctx) => mine(ctx, ctx.env.state.securityGroupRules.values()),
    get: getRule,
    view: (_ctx, r) => ruleView(r),
    create: createRule,
    remove: (ctx, r) => ctx.env.state.securityGroupRules.delete(r.id),
  }),
  ...collectionRoutes('/v2.0/floatingips', {
    plural: 'floatingips',
    singular: 'floatingip',
    list: (ctx) => mine(ctx, ctx.env.state.floatingIps.values()),
    get: getFip,
    view: (ctx, f) => fipView(ctx.env, f),
    create: createFip,
    update: (ctx, f, b) => associate(ctx, f, b),
    remove: (ctx, f) => {
      ctx.env.state.ports.delete(f.ownPortId);
      ctx.env.state.floatingIps.delete(f.id);
    },
  }),
  {
    method: 'GET',
    path: '/v2.0/quotas/{project}',
    handler: (ctx) => {
      const p = ctx.params.project as string;
      const q = (k: keyof Quotas) => quotaOf(ctx.env, p, k);
      return {
        status: 200,
        json: {
          quota: {
            network: q('networks'),
            subnet: q('subnets'),
            port: q('ports'),
            router: q('routers'),
            floatingip: q('floatingips'),
            security_group: q('security_groups'),
          },
        },
      };
    },
  },
  ...tagRoutes,
];

/** Neutron v2.0 under `/network`. */
export const neutron: Service = { name: 'network', prefix: '/network', routes, errorReply: neutronError };
