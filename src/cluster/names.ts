/**
 * Deterministic names for every cloud resource of a cluster. The provisioner finds resources by
 * these names (and the tag below) before creating them, which is what makes every step safe to
 * re-run. Names are DNS-1123 labels of at most 63 characters; longer ones keep a readable prefix
 * and end in a short hash of the full name, so distinct inputs stay distinct.
 */
import { createHash } from 'node:crypto';
import { InputError } from '../errors.ts';

/** Longest DNS label. */
export const MAX_NAME_LENGTH = 63;
/** Prefix of every resource kaas creates. */
export const NAME_PREFIX = 'kaas';
/** Tag key every resource carries: `kaas-cluster=<clusterId>`. */
export const CLUSTER_TAG_KEY = 'kaas-cluster';

const HASH_LENGTH = 8;
const CLUSTER_ID = /^[a-z0-9][a-z0-9-]{0,46}$/;

/**
 * Joins parts with `-` into a DNS label, lowercased, with characters outside `[a-z0-9-]` turned
 * into `-`. If longer than 63 it is cut and suffixed with 8 hex chars of the SHA-256 of the full
 * name.
 */
export function dnsName(...parts: string[]): string {
  const full = parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  if (full.length <= MAX_NAME_LENGTH) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, HASH_LENGTH);
  const head = full.slice(0, MAX_NAME_LENGTH - HASH_LENGTH - 1).replace(/-+$/, '');
  return `${head}-${hash}`;
}

/** All resource names of one cluster. */
export interface ClusterNames {
  readonly network: string;
  readonly subnet: string;
  readonly router: string;
  readonly securityGroupMaster: string;
  readonly securityGroupNode: string;
  readonly keypair: string;
  readonly serverGroupMasters: string;
  readonly apiLoadBalancer: string;
  readonly apiFloatingIp: string;
  readonly artifactsContainer: string;
  /** Swift containers of etcd backups, Velero and the registry (the managed services' `<prefix>-…`). */
  readonly backupContainers: readonly string[];
  /** Control-plane server `kaas-<c>-master-<i>` and its pre-created port. */
  master(index: number): string;
  masterPort(index: number): string;
  /** Worker server `kaas-<c>-<group>-<i>`. */
  worker(group: string, index: number): string;
}

/** The names of cluster `clusterName` (a validated DNS label). */
export function clusterNames(clusterName: string): ClusterNames {
  const n = (...suffix: string[]) => dnsName(NAME_PREFIX, clusterName, ...suffix);
  return {
    network: n('net'),
    subnet: n('subnet'),
    router: n('router'),
    securityGroupMaster: n('sg-master'),
    securityGroupNode: n('sg-node'),
    keypair: n('keypair'),
    serverGroupMasters: n('servergroup-masters'),
    apiLoadBalancer: n('api-lb'),
    apiFloatingIp: n('api-fip'),
    artifactsContainer: n('artifacts'),
    backupContainers: [n('etcd'), n('velero'), n('registry')],
    master: (index) => n('master', String(index)),
    masterPort: (index) => n('master', String(index), 'port'),
    worker: (group, index) => n(group, String(index)),
  };
}

/**
 * The tags every resource of the cluster carries; garbage collection deletes by them. Cluster ids
 * are limited so the tag fits Nova's 60-character tag limit.
 */
export function tagsFor(clusterId: string): string[] {
  if (!CLUSTER_ID.test(clusterId)) {
    throw new InputError(
      `clusterId must be 1 to 47 lowercase letters, digits or '-', starting with a letter or digit, got ${JSON.stringify(clusterId)}`,
      { field: 'clusterId' },
    );
  }
  return [`${CLUSTER_TAG_KEY}=${clusterId}`];
}
