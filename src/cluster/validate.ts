/**
 * Turns untrusted cluster input (API body, CLI flags, environment) into a normalised ClusterSpec,
 * failing on the first bad field with an InputError whose `field` is its path
 * (`nodeGroups[1].count`), so the API and CLI can point at it.
 */
import { InputError } from '../errors.ts';
import {
  cidrContains,
  cidrsOverlap,
  formatIpv4,
  nthAddress,
  parseCidr,
  parseIpv4,
  type Ipv4Cidr,
} from './cidr.ts';
import { DEFAULT_RELEASE, nextRelease, releaseForPatch, supportedPatchList } from '../versions/index.ts';
import type { ClusterNetwork, ClusterSpec, NodeGroup, OsFamily } from './spec.ts';

/** Longest cluster name: `kaas-<name>-` plus the longest suffix still fits a 63-char label. */
export const MAX_CLUSTER_NAME = 40;
/** Longest node group name, keeping worker names readable before hashing kicks in. */
export const MAX_GROUP_NAME = 20;
/** Upper bound of nodes in one group. */
export const MAX_GROUP_COUNT = 1000;
/** Replacement servers a rolling upgrade boots at once per group when the spec does not say. */
export const DEFAULT_MAX_SURGE = 1;
/** Longest a group may set for a Node to stay NotReady before it is replaced: one day. */
export const MAX_UNHEALTHY_AFTER_SECONDS = 86_400;
/** Upper bound of node groups in one cluster. */
export const MAX_NODE_GROUPS = 20;
/** The overlay interface used when the spec does not name one (the Rackspace-era cloud network). */
export const DEFAULT_OVERLAY_INTERFACE = 'eth2';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VERSION = /^v?(\d+)\.(\d+)\.(\d+)$/;
const INTERFACE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
const KEYPAIR_NAME = /^[A-Za-z0-9 _.@-]{1,255}$/;
const ROLE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SSH_KEY =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/;
const REGISTRY_HOST =
  /^(localhost|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+|\d{1,3}(\.\d{1,3}){3})(:\d{1,5})?$/;
const REPOSITORY_PATH = /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
/** Longest image repository: leaves room under the 255-character reference limit for image path and tag. */
const MAX_IMAGE_REPOSITORY = 128;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

const SPEC_KEYS = [
  'name',
  'kubernetesVersion',
  'masters',
  'masterFlavor',
  'image',
  'os',
  'nodeGroups',
  'network',
  'overlayInterface',
  'sshKeyName',
  'sshPublicKey',
  'externalNetwork',
  'dnsDomain',
  'adminRoleId',
  'loadBalancer',
  'autoHeal',
  'masterUnhealthyAfterSeconds',
  'imageRepository',
] as const;
const GROUP_KEYS = [
  'name',
  'count',
  'flavor',
  'image',
  'labels',
  'maxSurge',
  'autoHeal',
  'unhealthyAfterSeconds',
  'maxUnhealthyPercent',
  'minSize',
  'maxSize',
] as const;
const NETWORK_KEYS = ['nodeCidr', 'podCidr', 'serviceCidr', 'dnsIp'] as const;
const OS_FAMILIES: readonly OsFamily[] = ['ubuntu', 'debian', 'flatcar'];

function fail(field: string, message: string): never {
  throw new InputError(`${field} ${message}`, { field });
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function record(value: unknown, field: string, allowed: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(field || 'spec', 'must be an object');
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(field ? `${field}.${key}` : key, 'is not a known field');
  }
  return value as Record<string, unknown>;
}

function text(value: unknown, field: string): string {
  if (value === undefined || value === null || value === '') fail(field, 'is required');
  if (typeof value !== 'string') fail(field, `must be a string, got ${show(value)}`);
  return value;
}

function optionalText(value: unknown, field: string): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : text(value, field);
}

/** A flavor, image or network reference: any name/id OpenStack accepts. */
function cloudRef(value: unknown, field: string): string {
  const ref = text(value, field);
  if (ref.length > 255 || CONTROL_CHARS.test(ref) || ref.trim() !== ref) {
    fail(
      field,
      `must be a name or id of at most 255 characters without surrounding spaces, got ${show(ref)}`,
    );
  }
  return ref;
}

function dnsLabel(value: unknown, field: string, max: number): string {
  const label = text(value, field);
  if (label.length > max || !DNS_LABEL.test(label)) {
    fail(
      field,
      `must be a DNS label: at most ${max} lowercase letters, digits and '-', starting and ending with a letter or digit, got ${show(label)}`,
    );
  }
  return label;
}

function flag(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') fail(field, `must be true or false, got ${show(value)}`);
  return value;
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(field, `must be an integer from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

/** Parses `major.minor.patch`, with or without a leading `v`; undefined when malformed. */
export function parseVersion(version: string): { major: number; minor: number; patch: number } | undefined {
  const match = VERSION.exec(version);
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

/** A patch release the version catalogue lists, normalised without the `v`. */
function kubernetesVersion(value: unknown, field: string): string {
  const raw = text(value, field);
  if (!parseVersion(raw)) fail(field, `must look like ${DEFAULT_RELEASE.patch}, got ${show(raw)}`);
  const release = releaseForPatch(raw);
  if (!release) fail(field, `${show(raw)} is not offered; supported versions: ${supportedPatchList()}`);
  return release.patch;
}

function deriveOs(value: unknown, image: string, field: string): OsFamily {
  if (value !== undefined && value !== null && value !== '') {
    if (!OS_FAMILIES.includes(value as OsFamily)) {
      fail(field, `must be one of ${OS_FAMILIES.join(', ')}, got ${show(value)}`);
    }
    return value as OsFamily;
  }
  const lower = image.toLowerCase();
  const found = OS_FAMILIES.find((family) => lower.includes(family));
  if (!found)
    fail(field, `cannot be derived from image ${show(image)}; set it to one of ${OS_FAMILIES.join(', ')}`);
  return found;
}

function labelKey(key: string, field: string): void {
  const slash = key.indexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    fail(field, `has key ${show(key)} whose prefix must be a DNS subdomain of at most 253 characters`);
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    fail(
      field,
      `has key ${show(key)} whose name must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
    );
  }
  // The NodeRestriction admission plugin refuses kubelets that self-assign these namespaces.
  if (prefix !== undefined && /(^|\.)(kubernetes\.io|k8s\.io)$/.test(prefix)) {
    const allowed = /(^|\.)(kubelet|node)\.kubernetes\.io$/.test(prefix);
    if (!allowed) fail(field, `has key ${show(key)} in a namespace reserved for Kubernetes`);
  }
}

function labels(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) fail(field, 'must be an object of string values');
  const out: Record<string, string> = {};
  for (const key of Object.keys(value).sort()) {
    labelKey(key, field);
    const labelValue = (value as Record<string, unknown>)[key];
    if (typeof labelValue !== 'string') fail(`${field}.${key}`, `must be a string, got ${show(labelValue)}`);
    if (labelValue.length > 63 || (labelValue !== '' && !LABEL_NAME.test(labelValue))) {
      fail(
        `${field}.${key}`,
        `must be empty or at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, got ${show(labelValue)}`,
      );
    }
    out[key] = labelValue;
  }
  return out;
}

function nodeGroups(value: unknown, image: string): NodeGroup[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_NODE_GROUPS) {
    fail('nodeGroups', `must be a list of 1 to ${MAX_NODE_GROUPS} node groups`);
  }
  const seen = new Set<string>();
  return value.map((entry, index) => {
    const path = `nodeGroups[${index}]`;
    const group = record(entry, path, GROUP_KEYS);
    const name = dnsLabel(group.name, `${path}.name`, MAX_GROUP_NAME);
    // Worker `kaas-<c>-master-0` would collide with the first control-plane server.
    if (name === 'master') fail(`${path}.name`, 'must not be "master" (reserved for control-plane servers)');
    if (seen.has(name)) fail(`${path}.name`, `repeats node group name ${show(name)}`);
    seen.add(name);
    const count = integer(group.count, `${path}.count`, 0, MAX_GROUP_COUNT);
    return {
      name,
      count,
      flavor: cloudRef(group.flavor, `${path}.flavor`),
      image: group.image === undefined ? image : cloudRef(group.image, `${path}.image`),
      labels: labels(group.labels, `${path}.labels`),
      maxSurge:
        group.maxSurge === undefined
          ? DEFAULT_MAX_SURGE
          : integer(group.maxSurge, `${path}.maxSurge`, 1, MAX_GROUP_COUNT),
      // Auto-healing settings are kept only when given: healPolicy (heal.ts) supplies the defaults.
      ...(group.autoHeal === undefined ? {} : { autoHeal: flag(group.autoHeal, `${path}.autoHeal`) }),
      ...(group.unhealthyAfterSeconds === undefined
        ? {}
        : {
            unhealthyAfterSeconds: integer(
              group.unhealthyAfterSeconds,
              `${path}.unhealthyAfterSeconds`,
              1,
              MAX_UNHEALTHY_AFTER_SECONDS,
            ),
          }),
      ...(group.maxUnhealthyPercent === undefined
        ? {}
        : {
            maxUnhealthyPercent: integer(group.maxUnhealthyPercent, `${path}.maxUnhealthyPercent`, 0, 100),
          }),
      ...sizeBounds(group, path, count),
    };
  });
}

/**
 * A group's autoscaling bounds: both or neither kept, the one not given defaulting to `count`,
 * and `minSize ≤ count ≤ maxSize` (the autoscaler starts from the group as it is).
 */
function sizeBounds(
  group: Record<string, unknown>,
  path: string,
  count: number,
): { minSize?: number; maxSize?: number } {
  if (group.minSize === undefined && group.maxSize === undefined) return {};
  const minSize =
    group.minSize === undefined ? count : integer(group.minSize, `${path}.minSize`, 0, MAX_GROUP_COUNT);
  const maxSize =
    group.maxSize === undefined ? count : integer(group.maxSize, `${path}.maxSize`, 0, MAX_GROUP_COUNT);
  if (minSize > count) fail(`${path}.minSize`, `must be at most count (${count}), got ${minSize}`);
  if (maxSize < count) fail(`${path}.maxSize`, `must be at least count (${count}), got ${maxSize}`);
  return { minSize, maxSize };
}

function cidr(value: unknown, field: string): Ipv4Cidr {
  const raw = text(value, field);
  const parsed = parseCidr(raw);
  if (!parsed) fail(field, `must be an IPv4 CIDR with no host bits set (e.g. 10.0.0.0/16), got ${show(raw)}`);
  return parsed;
}

/**
 * Most servers a cluster has at once: its masters, and each group at the larger of its count and
 * maxSize plus the surge of a rolling upgrade.
 */
export function peakServers(masters: number, groups: readonly NodeGroup[]): number {
  return (
    masters +
    groups.reduce(
      (sum, group) => sum + Math.max(group.count, group.maxSize ?? 0) + (group.maxSurge ?? DEFAULT_MAX_SURGE),
      0,
    )
  );
}

/** Why `node` and `pod` ranges have no room for `servers` (the field at fault and what is wrong), or undefined. */
export function addressRoomProblem(
  node: Ipv4Cidr,
  pod: Ipv4Cidr,
  servers: number,
): { field: string; message: string } | undefined {
  // Network, gateway, broadcast, DHCP and the load balancer VIP need addresses too.
  if (node.size - 8 < servers)
    return { field: 'network.nodeCidr', message: `is too small for ${servers} servers` };
  // flannel hands every node a /24 of the pod range.
  if (pod.prefix > 24 || pod.size / 256 < servers) {
    return {
      field: 'network.podCidr',
      message: `is too small: flannel needs one /24 per node and the cluster can have ${servers}`,
    };
  }
  return undefined;
}

function network(value: unknown, nodeTotal: number): ClusterNetwork {
  const input = record(value, 'network', NETWORK_KEYS);
  const node = cidr(input.nodeCidr, 'network.nodeCidr');
  const pod = cidr(input.podCidr, 'network.podCidr');
  if (cidrsOverlap(pod, node)) fail('network.podCidr', 'overlaps network.nodeCidr');
  const room = addressRoomProblem(node, pod, nodeTotal);
  if (room) fail(room.field, room.message);
  const service = cidr(input.serviceCidr, 'network.serviceCidr');
  if (cidrsOverlap(service, node)) fail('network.serviceCidr', 'overlaps network.nodeCidr');
  if (cidrsOverlap(service, pod)) fail('network.serviceCidr', 'overlaps network.podCidr');
  // kube-apiserver refuses ranges wider than /12; kubeadm needs at least the 10th address.
  if (service.prefix < 12 || service.prefix > 24)
    fail('network.serviceCidr', 'must have a prefix from /12 to /24');
  const dnsRaw = text(input.dnsIp, 'network.dnsIp');
  const dns = parseIpv4(dnsRaw);
  if (dns === undefined) fail('network.dnsIp', `must be an IPv4 address, got ${show(dnsRaw)}`);
  if (!cidrContains(service, dns)) fail('network.dnsIp', 'must be inside network.serviceCidr');
  const expected = formatIpv4(nthAddress(service, 10));
  // kubeadm always gives the CoreDNS Service the 10th address; any other value breaks DNS.
  if (dns !== nthAddress(service, 10)) {
    fail(
      'network.dnsIp',
      `must be ${expected}, the 10th address of network.serviceCidr where kubeadm places CoreDNS`,
    );
  }
  return {
    nodeCidr: formatIpv4(node.base) + `/${node.prefix}`,
    podCidr: formatIpv4(pod.base) + `/${pod.prefix}`,
    serviceCidr: formatIpv4(service.base) + `/${service.prefix}`,
    dnsIp: expected,
  };
}

/**
 * Validates and normalises a cluster description. Derived fields: `os` from the image name,
 * `loadBalancer` (octavia with 3 masters), node group images from `image`, `overlayInterface`
 * `eth2`. Throws InputError naming the first bad field.
 */
export function validateSpec(input: unknown): ClusterSpec {
  const spec = record(input, '', SPEC_KEYS);
  const name = dnsLabel(spec.name, 'name', MAX_CLUSTER_NAME);
  const version = kubernetesVersion(spec.kubernetesVersion, 'kubernetesVersion');
  if (spec.masters !== 1 && spec.masters !== 3) fail('masters', `must be 1 or 3, got ${show(spec.masters)}`);
  const masters = spec.masters;
  const masterFlavor = cloudRef(spec.masterFlavor, 'masterFlavor');
  const image = cloudRef(spec.image, 'image');
  const os = deriveOs(spec.os, image, 'os');
  const groups = nodeGroups(spec.nodeGroups, image);
  const net = network(spec.network, peakServers(masters, groups));
  const overlayInterface =
    optionalText(spec.overlayInterface, 'overlayInterface') ?? DEFAULT_OVERLAY_INTERFACE;
  if (!INTERFACE.test(overlayInterface) || overlayInterface === '.' || overlayInterface === '..') {
    fail(
      'overlayInterface',
      `must be a Linux interface name of at most 15 characters, got ${show(overlayInterface)}`,
    );
  }
  const sshKeyName = optionalText(spec.sshKeyName, 'sshKeyName');
  if (sshKeyName !== undefined && !KEYPAIR_NAME.test(sshKeyName)) {
    fail(
      'sshKeyName',
      `must be a Nova keypair name (letters, digits, space, '_', '.', '@', '-'), got ${show(sshKeyName)}`,
    );
  }
  const sshPublicKey = optionalText(spec.sshPublicKey, 'sshPublicKey')?.trim();
  if (sshPublicKey !== undefined) {
    if (sshKeyName !== undefined) fail('sshPublicKey', 'cannot be combined with sshKeyName; set one of them');
    if (sshPublicKey.length > 16384 || !SSH_KEY.test(sshPublicKey)) {
      fail('sshPublicKey', 'must be one OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)');
    }
  }
  const externalNetwork = cloudRef(spec.externalNetwork, 'externalNetwork');
  const dnsDomain = text(spec.dnsDomain, 'dnsDomain');
  if (
    dnsDomain.length > 253 ||
    !DNS_SUBDOMAIN.test(dnsDomain) ||
    dnsDomain.split('.').some((l) => l.length > 63)
  ) {
    fail('dnsDomain', `must be a lowercase DNS domain such as apps.example.com, got ${show(dnsDomain)}`);
  }
  const adminRoleId = text(spec.adminRoleId, 'adminRoleId');
  if (!ROLE_ID.test(adminRoleId)) {
    fail(
      'adminRoleId',
      `must be a Keystone role id (letters, digits, '_' or '-', at most 64), got ${show(adminRoleId)}`,
    );
  }
  const lbInput = spec.loadBalancer ?? 'auto';
  if (lbInput !== 'auto' && lbInput !== 'octavia' && lbInput !== 'none') {
    fail('loadBalancer', `must be octavia, none or auto, got ${show(lbInput)}`);
  }
  const loadBalancer = lbInput === 'auto' ? (masters === 3 ? 'octavia' : 'none') : lbInput;
  if (masters === 3 && loadBalancer === 'none') {
    fail('loadBalancer', 'must be octavia with 3 masters: the API needs one address in front of them');
  }
  const imageRepository =
    optionalText(spec.imageRepository, 'imageRepository') === undefined
      ? undefined
      : checkImageRepository(spec.imageRepository, 'imageRepository');
  if (imageRepository !== undefined && os === 'flatcar') {
    fail(
      'imageRepository',
      "cannot be used with Flatcar nodes yet: kaas does not set their containerd's sandbox (pause) image, which would still come from registry.k8s.io",
    );
  }
  return {
    name,
    kubernetesVersion: version,
    masters,
    masterFlavor,
    image,
    os,
    nodeGroups: groups,
    network: net,
    overlayInterface,
    ...(sshKeyName === undefined ? {} : { sshKeyName }),
    ...(sshPublicKey === undefined ? {} : { sshPublicKey }),
    externalNetwork,
    dnsDomain,
    adminRoleId,
    loadBalancer,
    ...(spec.autoHeal === undefined ? {} : { autoHeal: flag(spec.autoHeal, 'autoHeal') }),
    ...(spec.masterUnhealthyAfterSeconds === undefined
      ? {}
      : {
          masterUnhealthyAfterSeconds: integer(
            spec.masterUnhealthyAfterSeconds,
            'masterUnhealthyAfterSeconds',
            1,
            MAX_UNHEALTHY_AFTER_SECONDS,
          ),
        }),
    ...(imageRepository === undefined ? {} : { imageRepository }),
  };
}

/**
 * An image repository (`registry.example:5000/mirror`): a registry host (a name with a dot, an IPv4
 * address or `localhost`, so containerd never reads it as a Docker Hub user), an optional port and
 * path; no scheme, tag or digest, since image names and tags are appended to it. InputError naming
 * `field` (the spec field, or the operator's variable).
 */
export function checkImageRepository(value: unknown, field: string): string {
  const repo = text(value, field);
  const example = 'such as registry.example:5000/mirror';
  if (repo.includes('://')) fail(field, `must not have a scheme (${example}), got ${show(repo)}`);
  if (repo.includes('@')) fail(field, `must not have a digest (${example}), got ${show(repo)}`);
  const slash = repo.indexOf('/');
  const [host, path] = slash < 0 ? [repo, undefined] : [repo.slice(0, slash), repo.slice(slash + 1)];
  if (path?.includes(':')) fail(field, `must not have a tag (${example}), got ${show(repo)}`);
  if (repo.length > MAX_IMAGE_REPOSITORY || !REGISTRY_HOST.test(host)) {
    fail(
      field,
      `must start with a registry host (a name with a dot, an IPv4 address or localhost) and optional :port, at most ${MAX_IMAGE_REPOSITORY} characters (${example}), got ${show(repo)}`,
    );
  }
  if (path !== undefined && !REPOSITORY_PATH.test(path)) {
    fail(
      field,
      `path must be lowercase letters, digits and '.', '_', '-' between '/'-separated parts (${example}), got ${show(repo)}`,
    );
  }
  return repo;
}

/** Outcome of an upgrade check; `none` means the cluster already runs that version. */
export interface UpgradeCheck {
  readonly change: 'none' | 'patch' | 'minor';
  readonly from: string;
  readonly to: string;
}

/**
 * Checks a version change against Kubernetes' skew policy, along the version catalogue: to a listed
 * release of the same minor or the next one, never down. Errors carry distinct codes
 * (`upgrade_downgrade`, `upgrade_skips_minor`) so callers can explain.
 */
export function validateUpgrade(from: string, to: string): UpgradeCheck {
  const current = parseVersion(from);
  if (!current) fail('kubernetesVersion', `current version ${show(from)} is not a Kubernetes version`);
  const target = kubernetesVersion(to, 'kubernetesVersion');
  const next = parseVersion(target) as { major: number; minor: number; patch: number };
  const normalisedFrom = `${current.major}.${current.minor}.${current.patch}`;
  const order = (v: { major: number; minor: number; patch: number }) => [v.major, v.minor, v.patch];
  const [a, b] = [order(current), order(next)];
  const cmp = a.map((x, i) => Math.sign(x - (b[i] as number))).find((s) => s !== 0) ?? 0;
  if (cmp === 0) return { change: 'none', from: normalisedFrom, to: target };
  if (cmp > 0) {
    throw new InputError(`kubernetesVersion cannot go down from ${normalisedFrom} to ${target}`, {
      field: 'kubernetesVersion',
      code: 'upgrade_downgrade',
    });
  }
  if (current.major !== next.major || next.minor - current.minor > 1) {
    const currentMinor = `${current.major}.${current.minor}`;
    const step = nextRelease(currentMinor);
    throw new InputError(
      step
        ? `kubernetesVersion can move one minor version at a time: upgrade ${normalisedFrom} to ${step.patch} first`
        : `kubernetesVersion can move one minor version at a time, and kaas no longer offers the minor after ${currentMinor}; supported versions: ${supportedPatchList()}`,
      { field: 'kubernetesVersion', code: 'upgrade_skips_minor' },
    );
  }
  return { change: next.minor === current.minor ? 'patch' : 'minor', from: normalisedFrom, to: target };
}
