import { InputError } from '../errors.ts';
import { AUTOSCALER_SECRET, clusterAutoscalerAddon } from './autoscaler.ts';
import { backupsAddon } from './backups.ts';
import { cloudControllerAddon } from './cloudcontroller.ts';
import { resolveContext, type AddonContext, type ResolvedContext } from './context.ts';
import { ingressAddon } from './ingress.ts';
import { loggingAddon } from './logging.ts';
import { GRAFANA_ADMIN_SECRET, monitoringAddon } from './monitoring.ts';
import { KAAS_NAMESPACE } from './names.ts';
import { namespacesAddon } from './namespaces.ts';
import { BOOTSTRAP_FLANNEL, networkingAddon } from './networking.ts';
import { BASIC_AUTH_SECRET, WILDCARD_TLS_SECRET, type KubernetesObject, type ObjectRef } from './objects.ts';
import { BOOTSTRAP_ADMIN_BINDING, rbacAddon } from './rbac.ts';
import { REGISTRY_SECRET, registryAddon } from './registry.ts';
import { CLOUD_CONFIG_SECRET, storageAddon } from './storage.ts';

export type { AddonContext, RoleBindingSpec, ReplicaKey } from './context.ts';
export type { KubernetesObject, ObjectRef } from './objects.ts';
export { restorePlan, type RestoreStep } from './backups.ts';
export { dnsName, serviceHost, KAAS_NAMESPACE, PROTECTED_NAMESPACES } from './names.ts';
export { DEFAULT_IMAGES, type ImageKey } from './images.ts';

/** A workload the applier must see ready before it moves on to the next addon. */
export interface ReadinessCheck {
  kind: 'Deployment' | 'StatefulSet' | 'DaemonSet';
  namespace: string;
  name: string;
}

/** A Secret the addon reads but cannot render (it holds generated or user credentials). */
export interface RequiredSecret {
  namespace: string;
  name: string;
  keys: string[];
}

/** One managed service: its renderer and what it needs that a pure function cannot produce. */
export interface AddonDefinition {
  name: string;
  dependsOn: string[];
  render: (ctx: ResolvedContext) => KubernetesObject[];
  requiredSecrets: (ctx: AddonContext) => RequiredSecret[];
  /**
   * Objects an earlier kaas release wrote by another path (master-0's bootstrap) that this addon
   * now replaces. The applier deletes each one still present and not labelled as this addon's.
   */
  supersedes?: readonly ObjectRef[];
  /** Whether this cluster gets the addon at all (default: every cluster). */
  wanted?: (ctx: AddonContext) => boolean;
}

const swiftSecret = (ctx: AddonContext, extra: string[] = []): RequiredSecret => ({
  namespace: KAAS_NAMESPACE,
  name: ctx.swift.credentialSecretName,
  keys: ['OS_APPLICATION_CREDENTIAL_ID', 'OS_APPLICATION_CREDENTIAL_SECRET', ...extra],
});
const tls: RequiredSecret = {
  namespace: KAAS_NAMESPACE,
  name: WILDCARD_TLS_SECRET,
  keys: ['tls.crt', 'tls.key'],
};
/** The kaas-rendered cloud.conf (src/addons/cloudconf.ts) the cloud controller and Cinder CSI read. */
const cloudConfig: RequiredSecret = {
  namespace: 'kube-system',
  name: CLOUD_CONFIG_SECRET,
  keys: ['cloud.conf'],
};
const basicAuth: RequiredSecret = { namespace: KAAS_NAMESPACE, name: BASIC_AUTH_SECRET, keys: ['auth'] };

/** Every addon, in the order they must be applied (each after all it depends on). */
export const ADDONS: readonly AddonDefinition[] = [
  { name: 'namespaces', dependsOn: [], render: namespacesAddon, requiredSecrets: () => [] },
  {
    name: 'rbac',
    dependsOn: ['namespaces'],
    render: rbacAddon,
    requiredSecrets: () => [],
    supersedes: BOOTSTRAP_ADMIN_BINDING,
  },
  {
    name: 'networking',
    dependsOn: ['namespaces'],
    render: networkingAddon,
    requiredSecrets: () => [],
    supersedes: BOOTSTRAP_FLANNEL,
  },
  {
    name: 'cloud-controller',
    dependsOn: ['namespaces'],
    render: cloudControllerAddon,
    requiredSecrets: () => [cloudConfig],
  },
  {
    name: 'storage',
    dependsOn: ['networking'],
    render: storageAddon,
    requiredSecrets: () => [cloudConfig],
  },
  { name: 'ingress', dependsOn: ['networking'], render: ingressAddon, requiredSecrets: () => [tls] },
  {
    name: 'monitoring',
    dependsOn: ['storage', 'ingress'],
    render: monitoringAddon,
    requiredSecrets: () => [
      tls,
      basicAuth,
      { namespace: KAAS_NAMESPACE, name: GRAFANA_ADMIN_SECRET, keys: ['password'] },
    ],
  },
  {
    name: 'logging',
    dependsOn: ['storage', 'ingress'],
    render: loggingAddon,
    requiredSecrets: () => [tls, basicAuth],
  },
  {
    name: 'registry',
    dependsOn: ['storage', 'ingress'],
    render: registryAddon,
    requiredSecrets: (ctx) => [
      tls,
      swiftSecret(ctx),
      {
        namespace: KAAS_NAMESPACE,
        name: REGISTRY_SECRET,
        keys: [
          'coreSecret',
          'jobserviceSecret',
          'csrfKey',
          'adminPassword',
          'dbPassword',
          'registryHttpSecret',
          'tokenKey',
          'tokenCert',
        ],
      },
    ],
  },
  {
    name: 'backups',
    dependsOn: ['storage'],
    render: backupsAddon,
    requiredSecrets: (ctx) => [swiftSecret(ctx, ['OS_STORAGE_URL'])],
  },
  {
    name: 'cluster-autoscaler',
    dependsOn: ['namespaces'],
    render: clusterAutoscalerAddon,
    // Written by kaas on every addons step (steps/addons.ts), like the cloud Secrets.
    requiredSecrets: () => [
      {
        namespace: 'kube-system',
        name: AUTOSCALER_SECRET,
        keys: ['cloud-config', 'ca.crt', 'tls.crt', 'tls.key'],
      },
    ],
    wanted: (ctx) => ctx.autoscaler !== undefined,
  },
];

/** Names of all addons, in apply order. */
export const ADDON_NAMES: readonly string[] = ADDONS.map((a) => a.name);

/** The workloads among `objects` that must be ready: every Deployment, StatefulSet and DaemonSet. */
export function readinessOf(objects: readonly KubernetesObject[]): ReadinessCheck[] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet' || o.kind === 'DaemonSet')
    .map((o) => ({
      kind: o.kind as ReadinessCheck['kind'],
      namespace: o.metadata.namespace ?? 'default',
      name: o.metadata.name,
    }));
}

/** One rendered addon, ready for the applier. */
export interface RenderedAddon {
  addon: string;
  objects: KubernetesObject[];
  readiness: ReadinessCheck[];
  requiredSecrets: RequiredSecret[];
  /** See AddonDefinition.supersedes. */
  supersedes?: readonly ObjectRef[];
}

/** The services a cluster of `ctx` gets: every one, but those with a `wanted` condition only when it holds. */
export function wantedAddons(ctx: AddonContext): string[] {
  return ADDONS.filter((a) => a.wanted?.(ctx) ?? true).map((a) => a.name);
}

/**
 * Renders the enabled addons in dependency order, whatever order `enabled` lists them in.
 * Rejects unknown names and an addon enabled without what it depends on, so the applier never
 * applies Ingresses before a controller or PVCs before a StorageClass.
 */
export function renderAddons(ctx: AddonContext, enabled: readonly string[]): RenderedAddon[] {
  const wanted = new Set(enabled);
  for (const name of wanted) {
    if (!ADDON_NAMES.includes(name)) {
      throw new InputError(`unknown addon "${name}"; known: ${ADDON_NAMES.join(', ')}`, { field: 'addons' });
    }
  }
  for (const addon of ADDONS) {
    if (!wanted.has(addon.name)) continue;
    const missing = addon.dependsOn.filter((d) => !wanted.has(d));
    if (missing.length > 0) {
      throw new InputError(`addon "${addon.name}" needs ${missing.join(', ')} enabled too`, {
        field: 'addons',
      });
    }
  }
  const resolved = resolveContext(ctx);
  return ADDONS.filter((a) => wanted.has(a.name)).map((a) => {
    const objects = a.render(resolved);
    return {
      addon: a.name,
      objects,
      readiness: readinessOf(objects),
      requiredSecrets: a.requiredSecrets(ctx),
      ...(a.supersedes === undefined ? {} : { supersedes: a.supersedes }),
    };
  });
}
