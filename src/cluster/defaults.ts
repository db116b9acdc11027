/**
 * Defaults and environment overrides, in the spirit of the old Kubernetes-on-Rackspace
 * `config-default.sh`: every knob has a sensible default, an environment variable, and an explicit
 * override that wins over both.
 */
import { InputError } from '../errors.ts';
import { DEFAULT_RELEASE } from '../versions/index.ts';
import type { ClusterSpec } from './spec.ts';
import { DEFAULT_OVERLAY_INTERFACE, validateSpec } from './validate.ts';

/** Name of the node group created from NUM_NODES / KUBE_NODE_FLAVOR. */
export const DEFAULT_GROUP_NAME = 'default';

/** Values used when neither the environment nor the caller sets a field. */
export const CLUSTER_DEFAULTS = {
  /** The version catalogue's default release. */
  kubernetesVersion: DEFAULT_RELEASE.patch,
  masters: 1,
  numNodes: 3,
  /** 4 vCPU / 8 GB RAM / 40 GB disk on a stock OpenStack flavor list. */
  masterFlavor: 'm1.large',
  nodeFlavor: 'm1.large',
  image: 'debian-12-genericcloud-amd64',
  network: {
    nodeCidr: '10.240.0.0/16',
    podCidr: '10.244.0.0/16',
    serviceCidr: '10.96.0.0/12',
    dnsIp: '10.96.0.10',
  },
  overlayInterface: DEFAULT_OVERLAY_INTERFACE,
  externalNetwork: 'public',
  dnsDomain: 'kaas.local',
  loadBalancer: 'auto',
} as const;

/** Environment variable → the spec field it sets (the field appears in InputError.field). */
export const ENV_VARS = {
  NUM_NODES: `nodeGroups[0].count`,
  NUM_MASTERS: 'masters',
  KUBE_MASTER_FLAVOR: 'masterFlavor',
  KUBE_NODE_FLAVOR: 'nodeGroups[0].flavor',
  KUBE_IMAGE: 'image',
  KUBE_OS: 'os',
  SSH_KEY_NAME: 'sshKeyName',
  KUBE_VERSION: 'kubernetesVersion',
  NODE_NETWORK_CIDR: 'network.nodeCidr',
  POD_CIDR: 'network.podCidr',
  SERVICE_CIDR: 'network.serviceCidr',
  DNS_SERVER_IP: 'network.dnsIp',
  KUBE_NETWORK_INTERFACE: 'overlayInterface',
  EXTERNAL_NETWORK: 'externalNetwork',
  DNS_DOMAIN: 'dnsDomain',
  KUBE_ADMIN_ROLE_ID: 'adminRoleId',
  KUBE_LOAD_BALANCER: 'loadBalancer',
} as const;

/** Environment variable names read by specFromEnv. */
export type SpecEnvVar = keyof typeof ENV_VARS;

/** Explicit values (CLI flags, API body) that win over the environment and the defaults. */
export interface SpecOverrides {
  name?: string;
  kubernetesVersion?: string;
  masters?: number;
  masterFlavor?: string;
  image?: string;
  os?: string;
  nodeGroups?: unknown[];
  network?: Partial<Record<'nodeCidr' | 'podCidr' | 'serviceCidr' | 'dnsIp', string>>;
  overlayInterface?: string;
  sshKeyName?: string;
  sshPublicKey?: string;
  externalNetwork?: string;
  dnsDomain?: string;
  adminRoleId?: string;
  loadBalancer?: string;
  /** Absent: the server's KAAS_IMAGE_REPOSITORY, if the operator set one, at create. */
  imageRepository?: string;
  autoHeal?: boolean;
  masterUnhealthyAfterSeconds?: number;
}

/** Numbers from the environment stay strings when malformed, so validation reports them. */
function envNumber(value: string): number | string {
  return /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : value;
}

/**
 * Builds a spec from defaults, then `env` (e.g. `process.env`), then `overrides`, and validates
 * it. An invalid value that came from the environment is reported with the variable's name.
 */
export function specFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  overrides: SpecOverrides,
): ClusterSpec {
  const used = new Map<string, SpecEnvVar>();
  const read = (name: SpecEnvVar): string | undefined => {
    const value = env[name];
    if (value === undefined || value.trim() === '') return undefined;
    used.set(ENV_VARS[name], name);
    return value.trim();
  };
  const pick = <T>(
    override: T | undefined,
    name: SpecEnvVar,
    parse: (v: string) => T | string,
  ): T | string | undefined => {
    if (override !== undefined) return override;
    const value = read(name);
    return value === undefined ? undefined : parse(value);
  };
  const asIs = (v: string) => v;
  const image = pick(overrides.image, 'KUBE_IMAGE', asIs) ?? CLUSTER_DEFAULTS.image;
  const nodeGroups = overrides.nodeGroups ?? [
    {
      name: DEFAULT_GROUP_NAME,
      count: pick(undefined, 'NUM_NODES', envNumber) ?? CLUSTER_DEFAULTS.numNodes,
      flavor: pick(undefined, 'KUBE_NODE_FLAVOR', asIs) ?? CLUSTER_DEFAULTS.nodeFlavor,
      image,
      labels: {},
    },
  ];
  const net = overrides.network ?? {};
  const input = {
    // Fields without an environment variable or a default as given, and any unknown one (a spec
    // file's typo) for validation to name: none may be dropped in silence.
    ...overrides,
    name: overrides.name,
    kubernetesVersion:
      pick(overrides.kubernetesVersion, 'KUBE_VERSION', asIs) ?? CLUSTER_DEFAULTS.kubernetesVersion,
    masters: pick(overrides.masters, 'NUM_MASTERS', envNumber) ?? CLUSTER_DEFAULTS.masters,
    masterFlavor: pick(overrides.masterFlavor, 'KUBE_MASTER_FLAVOR', asIs) ?? CLUSTER_DEFAULTS.masterFlavor,
    image,
    os: pick(overrides.os, 'KUBE_OS', asIs),
    nodeGroups,
    network: {
      nodeCidr: pick(net.nodeCidr, 'NODE_NETWORK_CIDR', asIs) ?? CLUSTER_DEFAULTS.network.nodeCidr,
      podCidr: pick(net.podCidr, 'POD_CIDR', asIs) ?? CLUSTER_DEFAULTS.network.podCidr,
      serviceCidr: pick(net.serviceCidr, 'SERVICE_CIDR', asIs) ?? CLUSTER_DEFAULTS.network.serviceCidr,
      dnsIp: pick(net.dnsIp, 'DNS_SERVER_IP', asIs) ?? CLUSTER_DEFAULTS.network.dnsIp,
    },
    overlayInterface:
      pick(overrides.overlayInterface, 'KUBE_NETWORK_INTERFACE', asIs) ?? CLUSTER_DEFAULTS.overlayInterface,
    sshKeyName:
      overrides.sshPublicKey === undefined ? pick(overrides.sshKeyName, 'SSH_KEY_NAME', asIs) : undefined,
    sshPublicKey: overrides.sshPublicKey,
    externalNetwork:
      pick(overrides.externalNetwork, 'EXTERNAL_NETWORK', asIs) ?? CLUSTER_DEFAULTS.externalNetwork,
    dnsDomain: pick(overrides.dnsDomain, 'DNS_DOMAIN', asIs) ?? CLUSTER_DEFAULTS.dnsDomain,
    adminRoleId: pick(overrides.adminRoleId, 'KUBE_ADMIN_ROLE_ID', asIs),
    loadBalancer: pick(overrides.loadBalancer, 'KUBE_LOAD_BALANCER', asIs) ?? CLUSTER_DEFAULTS.loadBalancer,
    imageRepository: overrides.imageRepository,
  };
  try {
    return validateSpec(input);
  } catch (error) {
    if (!(error instanceof InputError) || error.field === undefined) throw error;
    const fromEnv = used.get(error.field);
    if (fromEnv !== undefined) {
      throw new InputError(`${error.message} (from environment variable ${fromEnv})`, {
        field: error.field,
        code: error.code,
        cause: error,
      });
    }
    if (error.field === 'adminRoleId' && input.adminRoleId === undefined) {
      throw new InputError(`${error.message}: set KUBE_ADMIN_ROLE_ID or pass adminRoleId`, {
        field: error.field,
        code: error.code,
        cause: error,
      });
    }
    throw error;
  }
}
