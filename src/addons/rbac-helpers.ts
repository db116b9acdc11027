import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { meta, typed, type KubernetesObject } from './objects.ts';

/** One RBAC rule: API groups, resources, verbs. */
export type Rule = NonNullable<IClusterRole['rules']>[number];

/**
 * A controller's identity: ServiceAccount + ClusterRole with `rules` + ClusterRoleBinding, all
 * named `name`, so each managed component gets exactly the access it needs.
 */
export function serviceIdentity(
  addon: string,
  name: string,
  namespace: string,
  rules: Rule[],
): KubernetesObject[] {
  return [
    typed<IServiceAccount>({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta(addon, name, { namespace, component: name }),
    }),
    ...boundRole(addon, name, namespace, rules, 'ClusterRole'),
  ];
}

/** A Role with `rules` in `namespace` bound to the ServiceAccount `name` there (both named `name`). */
export function namespacedRole(
  addon: string,
  name: string,
  namespace: string,
  rules: Rule[],
): KubernetesObject[] {
  return boundRole(addon, name, namespace, rules, 'Role');
}

/** A (Cluster)Role named `name` with `rules` and its binding to the ServiceAccount `name` in `namespace`. */
function boundRole(
  addon: string,
  name: string,
  namespace: string,
  rules: Rule[],
  kind: 'ClusterRole' | 'Role',
): KubernetesObject[] {
  const metadata = () =>
    meta(addon, name, kind === 'Role' ? { namespace, component: name } : { component: name });
  return [
    typed<IClusterRole | IRole>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind,
      metadata: metadata(),
      rules,
    }),
    typed<IClusterRoleBinding | IRoleBinding>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: `${kind}Binding`,
      metadata: metadata(),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind, name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    }),
  ];
}
