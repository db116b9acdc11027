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
    typed<IClusterRole>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta(addon, name, { component: name }),
      rules,
    }),
    typed<IClusterRoleBinding>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(addon, name, { component: name }),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    }),
  ];
}

/** A Role with `rules` in `namespace` bound to the ServiceAccount `name` there (both named `name`). */
export function namespacedRole(
  addon: string,
  name: string,
  namespace: string,
  rules: Rule[],
): KubernetesObject[] {
  return [
    typed<IRole>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(addon, name, { namespace, component: name }),
      rules,
    }),
    typed<IRoleBinding>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(addon, name, { namespace, component: name }),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    }),
  ];
}
