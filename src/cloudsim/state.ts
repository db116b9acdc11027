import { createHash, randomBytes, randomUUID } from 'node:crypto';

/** Per-project limits; -1 means unlimited. Names follow the services' own quota names. */
export interface Quotas {
  instances: number;
  cores: number;
  ram: number;
  networks: number;
  subnets: number;
  ports: number;
  routers: number;
  floatingips: number;
  security_groups: number;
  loadbalancers: number;
  volumes: number;
}

/** Defaults equal to the lab's (Nova/Neutron/Octavia/Cinder stock defaults). */
export const defaultQuotas: Quotas = {
  instances: 10,
  cores: 20,
  ram: 51200,
  networks: 100,
  subnets: 100,
  ports: 500,
  routers: 10,
  floatingips: 50,
  security_groups: 10,
  loadbalancers: -1,
  volumes: 10,
};

export interface Domain {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
}
export interface Project {
  id: string;
  name: string;
  domainId: string;
  description: string;
  enabled: boolean;
  tags: string[];
}
export interface User {
  id: string;
  name: string;
  domainId: string;
  password: string | undefined;
  enabled: boolean;
  email?: string;
  description?: string;
  defaultProjectId?: string;
}
export interface Role {
  id: string;
  name: string;
  domainId: string | null;
  description: string | null;
}
export interface Group {
  id: string;
  name: string;
  domainId: string;
  description: string;
  members: Set<string>;
}
/** A direct assignment: an actor (user or group) holds a role on a project or domain. */
export interface Assignment {
  actor: 'user' | 'group';
  actorId: string;
  scope: 'project' | 'domain';
  scopeId: string;
  roleId: string;
}
export interface AppCredential {
  id: string;
  name: string;
  description: string | null;
  secretHash: string;
  userId: string;
  projectId: string;
  roleIds: string[];
  expiresAt: number | null;
  unrestricted: boolean;
}
export interface Token {
  id: string;
  userId: string;
  projectId: string | null;
  methods: string[];
  issuedAt: number;
  expiresAt: number;
  auditId: string;
  appCredentialId: string | null;
}

export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
}
export interface Image {
  id: string;
  name: string;
  status: string;
  visibility: string;
  owner: string;
  diskFormat: string | null;
  containerFormat: string | null;
  size: number | null;
  checksum: string | null;
  hashValue: string | null;
  createdAt: number;
  updatedAt: number;
  tags: string[];
  minDisk: number;
  minRam: number;
  properties: Record<string, unknown>;
}
export interface Keypair {
  id: number;
  name: string;
  userId: string;
  publicKey: string;
  fingerprint: string;
  type: string;
  createdAt: number;
}
export interface Server {
  id: string;
  name: string;
  projectId: string;
  userId: string;
  flavorId: string;
  imageId: string;
  keyName: string | null;
  userData: string | null;
  metadata: Record<string, string>;
  tags: string[];
  securityGroups: string[];
  configDrive: boolean;
  portIds: string[];
  createdPortIds: string[];
  createdAt: number;
  activeAt: number;
  host: string;
  seq: number;
  groupId: string | null;
  reservationId: string;
  description: string | null;
  /** Being deleted: listed, with task_state `deleting`, until Knobs.serverDeletion resolves. */
  deleting?: boolean;
  /** Its deletion failed (Knobs.serverDeletion rejected): status ERROR with this fault. */
  fault?: string;
}
export interface ServerGroup {
  id: string;
  name: string;
  policy: string;
  projectId: string;
  userId: string;
  members: string[];
}

export interface Network {
  id: string;
  name: string;
  projectId: string;
  external: boolean;
  shared: boolean;
  adminStateUp: boolean;
  mtu: number;
  description: string;
  tags: string[];
  createdAt: number;
  updatedAt: number;
  segmentationId: number;
  portSecurity: boolean;
}
export interface Subnet {
  id: string;
  name: string;
  projectId: string;
  networkId: string;
  ipVersion: number;
  cidr: string;
  gatewayIp: string | null;
  allocationPools: { start: string; end: string }[];
  enableDhcp: boolean;
  dnsNameservers: string[];
  description: string;
  tags: string[];
  createdAt: number;
  updatedAt: number;
}
export interface Port {
  id: string;
  name: string;
  projectId: string;
  networkId: string;
  macAddress: string;
  fixedIps: { subnet_id: string; ip_address: string }[];
  deviceId: string;
  deviceOwner: string;
  securityGroups: string[];
  status: string;
  hostId: string;
  adminStateUp: boolean;
  description: string;
  tags: string[];
  createdAt: number;
  updatedAt: number;
  allowedAddressPairs: { ip_address: string; mac_address?: string }[];
  portSecurity: boolean;
}
export interface Router {
  id: string;
  name: string;
  projectId: string;
  gateway: { networkId: string; portId: string; enableSnat: boolean } | null;
  description: string;
  tags: string[];
  createdAt: number;
  updatedAt: number;
  adminStateUp: boolean;
}
export interface SecurityGroupRule {
  id: string;
  projectId: string;
  securityGroupId: string;
  direction: string;
  ethertype: string;
  protocol: string | null;
  portRangeMin: number | null;
  portRangeMax: number | null;
  remoteIpPrefix: string | null;
  remoteGroupId: string | null;
  description: string;
  createdAt: number;
}
export interface SecurityGroup {
  id: string;
  name: string;
  projectId: string;
  description: string;
  tags: string[];
  createdAt: number;
  updatedAt: number;
}
export interface FloatingIp {
  id: string;
  projectId: string;
  floatingNetworkId: string;
  floatingIpAddress: string;
  portId: string | null;
  fixedIpAddress: string | null;
  routerId: string | null;
  description: string;
  tags: string[];
  createdAt: number;
  updatedAt: number;
  ownPortId: string;
}

/** Octavia objects share one shape: a typed `kind`, their fields as the API shows them, and a ready time. */
export interface LbObject {
  kind: 'loadbalancer' | 'listener' | 'pool' | 'member' | 'healthmonitor';
  id: string;
  projectId: string;
  lbId: string;
  parentId: string | null;
  fields: Record<string, unknown>;
  tags: string[];
  createdAt: number;
  updatedAt: number;
  readyAt: number;
  pendingStatus: string;
  seq: number;
  /** Set by a delete: PENDING_DELETE until then, gone after (with a load balancer's VIP port). */
  deletedAt?: number;
}
export interface Volume {
  id: string;
  name: string | null;
  projectId: string;
  userId: string;
  size: number;
  description: string | null;
  metadata: Record<string, string>;
  createdAt: number;
  readyAt: number;
  volumeType: string;
  seq: number;
  /** Set by a delete: the volume is `deleting` until then, and gone after. */
  deletedAt?: number;
  /** Set by `os-extend`: the volume is `extending` until then (its size is already the new one). */
  extendedAt?: number;
}

/** A Cinder volume type. */
export interface VolumeType {
  id: string;
  name: string;
  description: string | null;
  extraSpecs: Record<string, string>;
}

export interface Snapshot {
  id: string;
  name: string | null;
  projectId: string;
  volumeId: string;
  size: number;
  /** Absent in states saved before snapshots kept it. */
  metadata?: Record<string, string>;
  description?: string | null;
  createdAt: number;
  readyAt: number;
  seq: number;
}

export interface SwiftObject {
  data: Buffer;
  etag: string;
  contentType: string;
  lastModified: number;
  meta: Record<string, string>;
}
export interface SwiftContainer {
  name: string;
  createdAt: number;
  meta: Record<string, string>;
  objects: Map<string, SwiftObject>;
}
export interface SwiftAccount {
  name: string;
  createdAt: number;
  meta: Record<string, string>;
  containers: Map<string, SwiftContainer>;
}

/**
 * Everything the simulated cloud knows, in plain maps so tests can seed and inspect it directly.
 * Maps keep insertion order, which gives every list a stable order.
 */
export class CloudState {
  domains = new Map<string, Domain>();
  projects = new Map<string, Project>();
  users = new Map<string, User>();
  roles = new Map<string, Role>();
  /** prior role id → implied role ids (Keystone's implied roles: admin ⇒ member ⇒ reader). */
  impliedRoles = new Map<string, string[]>();
  groups = new Map<string, Group>();
  assignments: Assignment[] = [];
  appCredentials = new Map<string, AppCredential>();
  tokens = new Map<string, Token>();
  flavors = new Map<string, Flavor>();
  images = new Map<string, Image>();
  keypairs = new Map<string, Keypair>();
  servers = new Map<string, Server>();
  serverGroups = new Map<string, ServerGroup>();
  networks = new Map<string, Network>();
  subnets = new Map<string, Subnet>();
  ports = new Map<string, Port>();
  routers = new Map<string, Router>();
  securityGroups = new Map<string, SecurityGroup>();
  securityGroupRules = new Map<string, SecurityGroupRule>();
  floatingIps = new Map<string, FloatingIp>();
  lb = new Map<string, LbObject>();
  volumes = new Map<string, Volume>();
  volumeTypes = new Map<string, VolumeType>();
  snapshots = new Map<string, Snapshot>();
  swift = new Map<string, SwiftAccount>();
  private counter = 0;

  /** Monotonic sequence for stable "newest first" ordering and Nova keypair ids. */
  nextSeq(): number {
    this.counter += 1;
    return this.counter;
  }

  keypairKey(userId: string, name: string): string {
    return `${userId}/${name}`;
  }

  findUserByName(name: string, domainId: string): User | undefined {
    return [...this.users.values()].find((u) => u.name === name && u.domainId === domainId);
  }

  findProjectByName(name: string, domainId: string): Project | undefined {
    return [...this.projects.values()].find((p) => p.name === name && p.domainId === domainId);
  }

  findDomainByName(name: string): Domain | undefined {
    return [...this.domains.values()].find((d) => d.name === name);
  }

  findRoleByName(name: string): Role | undefined {
    return [...this.roles.values()].find((r) => r.name === name);
  }
}

/** Keystone-style id: 32 lowercase hex characters. */
export function hexId(): string {
  return randomBytes(16).toString('hex');
}

/** Nova/Neutron/Glance/Octavia/Cinder-style id. */
export function uuid(): string {
  return randomUUID();
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** ISO timestamp with microseconds, as Keystone prints `expires_at`. */
export function isoMicro(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** ISO timestamp without fractional seconds, as Neutron, Glance and Nova print theirs. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
