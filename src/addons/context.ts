import { checkImageRepository } from '../cluster/validate.ts';
import { InputError } from '../errors.ts';
import { DEFAULT_IMAGES, fromRepository, type ImageKey } from './images.ts';
import { PROTECTED_NAMESPACES } from './names.ts';

/** One tenant grant: Keystone role id (a Kubernetes Group via the webhook) → a ClusterRole or a namespaced Role. */
export interface RoleBindingSpec {
  keystoneRoleId: string;
  /** Bound cluster-wide by a ClusterRoleBinding, or inside `namespace` by a RoleBinding when it is set. */
  clusterRole?: string;
  /** A namespaced Role; needs `namespace`. */
  role?: string;
  namespace?: string;
}

/** Workloads whose replica count a cluster may override. */
export type ReplicaKey =
  'ingress' | 'grafana' | 'kibana' | 'elasticsearch' | 'registryCore' | 'registryPortal';

/** Everything the addons need to know about one cluster; the only input of every renderer. */
export interface AddonContext {
  clusterName: string;
  clusterId: string;
  dnsDomain: string;
  kubernetesVersion: string;
  adminRoleId: string;
  roleBindings: RoleBindingSpec[];
  swift: {
    authUrl: string;
    region: string;
    /** Swift containers are named `<prefix>-registry`, `<prefix>-velero`, `<prefix>-etcd`. */
    containerPrefix: string;
    /** Secret in kaas-system with keys OS_APPLICATION_CREDENTIAL_ID and OS_APPLICATION_CREDENTIAL_SECRET. */
    credentialSecretName: string;
  };
  storageClass: { cinderType?: string; ceph?: boolean };
  /**
   * Id (not secret) of the cluster's application credential, which kaas writes into the cloud
   * Secrets: the pods reading those carry it, so replacing it restarts them. Absent for clusters
   * whose Secrets an operator supplied.
   */
  cloudCredentialId?: string;
  replicas?: Partial<Record<ReplicaKey, number>>;
  /** Registry (and path) the default images are taken from (see fromRepository); absent = upstream. */
  imageRepository?: string;
  /** Per-key images, used as given (also with `imageRepository`). */
  images?: Partial<Record<ImageKey, string>>;
  network?: { overlayInterface?: string; podCidr?: string };
  /**
   * Set when some node group is autoscaled and kaas serves cluster-autoscaler's externalgrpc
   * provider at `address` (`host:port`): the cluster-autoscaler service is installed.
   */
  autoscaler?: { address: string };
}

/** The context after defaults and validation; renderers only ever see this. */
export interface ResolvedContext extends AddonContext {
  replicas: Record<ReplicaKey, number>;
  images: Record<ImageKey, string>;
  network: { overlayInterface: string; podCidr: string };
}

const DEFAULT_REPLICAS: Record<ReplicaKey, number> = {
  ingress: 2,
  grafana: 1,
  kibana: 1,
  elasticsearch: 1,
  registryCore: 1,
  registryPortal: 1,
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const IFACE = /^[a-zA-Z0-9._-]{1,15}$/;
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const PINNED_IMAGE = /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$/;

function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

function isCidr(s: string): boolean {
  const m = CIDR.exec(s);
  if (!m) return false;
  const octets = m.slice(1, 5).map(Number);
  return octets.every((o) => o <= 255) && Number(m[5]) <= 32;
}

/**
 * Fills defaults and rejects contexts that would render broken or unsafe manifests, so every
 * renderer can trust its input. Throws InputError (a bad value; code `protected_namespace` for a
 * tenant grant aimed at a namespace kaas protects).
 */
export function resolveContext(ctx: AddonContext): ResolvedContext {
  if (!isDnsLabel(ctx.clusterName)) {
    throw new InputError(`cluster name "${ctx.clusterName}" must be a DNS label (a-z, 0-9, '-', ≤ 63)`, {
      field: 'clusterName',
    });
  }
  const domainLabels = ctx.dnsDomain.split('.');
  if (!domainLabels.every(isDnsLabel) || `${ctx.clusterName}.${ctx.dnsDomain}`.length > 240) {
    throw new InputError(`DNS domain "${ctx.dnsDomain}" is not a valid lower-case domain name`, {
      field: 'dnsDomain',
    });
  }
  if (ctx.adminRoleId.trim() === '') {
    throw new InputError('admin role id must not be empty', { field: 'adminRoleId' });
  }
  if (!isDnsLabel(ctx.swift.credentialSecretName)) {
    throw new InputError('swift credential secret name must be a DNS label', {
      field: 'swift.credentialSecretName',
    });
  }
  if (!isDnsLabel(`${ctx.swift.containerPrefix}-registry`)) {
    throw new InputError('swift container prefix must be a short DNS label', {
      field: 'swift.containerPrefix',
    });
  }
  ctx.roleBindings.forEach((rb, i) => checkRoleBinding(rb, `roleBindings[${i}]`));

  const replicas = { ...DEFAULT_REPLICAS };
  for (const [key, value] of Object.entries(ctx.replicas ?? {})) {
    if (!(key in DEFAULT_REPLICAS))
      throw new InputError(`unknown replica key "${key}"`, { field: `replicas.${key}` });
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1 || value > 10) {
      throw new InputError(`replicas.${key} must be an integer from 1 to 10`, { field: `replicas.${key}` });
    }
    replicas[key as ReplicaKey] = value;
  }

  const repository =
    ctx.imageRepository === undefined
      ? undefined
      : checkImageRepository(ctx.imageRepository, 'imageRepository');
  const images = Object.fromEntries(
    Object.entries(DEFAULT_IMAGES).map(([key, image]) => [
      key,
      repository === undefined ? image : fromRepository(image, repository),
    ]),
  ) as Record<ImageKey, string>;
  for (const [key, value] of Object.entries(ctx.images ?? {})) {
    if (!(key in DEFAULT_IMAGES))
      throw new InputError(`unknown image key "${key}"`, { field: `images.${key}` });
    if (value === undefined) continue;
    if (!PINNED_IMAGE.test(value) || value.endsWith(':latest')) {
      throw new InputError(`image "${value}" must name a registry and a pinned tag (not latest) or digest`, {
        field: `images.${key}`,
      });
    }
    images[key as ImageKey] = value;
  }

  const overlayInterface = ctx.network?.overlayInterface ?? 'eth2';
  if (!IFACE.test(overlayInterface)) {
    throw new InputError(`overlay interface "${overlayInterface}" is not an interface name`, {
      field: 'network.overlayInterface',
    });
  }
  const podCidr = ctx.network?.podCidr ?? '10.244.0.0/16';
  if (!isCidr(podCidr)) {
    throw new InputError(`pod CIDR "${podCidr}" is not an IPv4 CIDR`, { field: 'network.podCidr' });
  }

  return { ...ctx, replicas, images, network: { overlayInterface, podCidr } };
}

/**
 * Refuses a tenant grant the cluster must never get (`field` names it in the error): the one rule
 * the addon renderer, the role-binding applier and the route that saves bindings all apply.
 */
export function checkRoleBinding(rb: RoleBindingSpec, field: string): void {
  if (rb.keystoneRoleId.trim() === '') {
    throw new InputError('keystoneRoleId must not be empty', { field: `${field}.keystoneRoleId` });
  }
  if ((rb.clusterRole === undefined) === (rb.role === undefined)) {
    throw new InputError('a role binding names exactly one of clusterRole or role', { field });
  }
  if (rb.role !== undefined && rb.namespace === undefined) {
    throw new InputError('a namespaced role needs a namespace', { field: `${field}.namespace` });
  }
  if (rb.namespace !== undefined && !isDnsLabel(rb.namespace)) {
    throw new InputError(`namespace "${rb.namespace}" is not a DNS label`, { field: `${field}.namespace` });
  }
  if (rb.namespace !== undefined && PROTECTED_NAMESPACES.includes(rb.namespace)) {
    throw new InputError(
      `tenant role bindings may not target the protected namespace ${rb.namespace} (protected: ${PROTECTED_NAMESPACES.join(', ')})`,
      { field: `${field}.namespace`, code: 'protected_namespace' },
    );
  }
}
