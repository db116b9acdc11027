import type { KubernetesObject } from '../../addons/index.ts';

/** Kinds that only set up identity and permissions; applied before anything that runs as them. */
const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding']);
/** Kinds that run pods; applied once their config, services and identities exist. */
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job']);
/** Built-in API groups; a kind outside them is a custom resource and goes last, after its CRD. */
const BUILTIN_GROUPS = new Set([
  '',
  'apps',
  'batch',
  'policy',
  'rbac.authorization.k8s.io',
  'networking.k8s.io',
  'storage.k8s.io',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'scheduling.k8s.io',
  'autoscaling',
  'coordination.k8s.io',
  'node.k8s.io',
  'discovery.k8s.io',
]);

/** Group of an apiVersion: `apps/v1` → `apps`, `v1` → `` (core). */
export function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
}

/**
 * Apply phase of an object: 0 namespaces and CRDs, 1 RBAC, 2 other built-in objects (config,
 * services, classes, policies), 3 workloads, 4 custom resources (their CRD must be established).
 */
export function phaseOf(obj: Pick<KubernetesObject, 'apiVersion' | 'kind'>): number {
  if (obj.kind === 'Namespace' || obj.kind === 'CustomResourceDefinition') return 0;
  if (!BUILTIN_GROUPS.has(groupOf(obj.apiVersion))) return 4;
  if (RBAC_KINDS.has(obj.kind)) return 1;
  if (WORKLOAD_KINDS.has(obj.kind)) return 3;
  return 2;
}

/** The objects grouped by phase, in phase order, each group keeping the renderer's order. */
export function applyPhases(objects: readonly KubernetesObject[]): KubernetesObject[][] {
  const phases: KubernetesObject[][] = [[], [], [], [], []];
  for (const o of objects) phases[phaseOf(o)]!.push(o);
  return phases.filter((p) => p.length > 0);
}
