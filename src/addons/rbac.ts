import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { ResolvedContext, RoleBindingSpec } from './context.ts';
import { dnsName } from './names.ts';
import { meta, typed, type KubernetesObject, type ObjectRef } from './objects.ts';

const ADDON = 'rbac';

/** Name of the binding that makes holders of the cluster's admin Keystone role cluster-admin. */
export const ADMIN_BINDING = 'kaas-cluster-admin';

/** The webhook puts Keystone role ids in user.groups, so a role is a Group subject. */
function group(roleId: string) {
  return [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: roleId }];
}

/** Deterministic, DNS-safe binding name for one tenant grant. */
export function bindingName(rb: RoleBindingSpec): string {
  return rb.clusterRole !== undefined
    ? dnsName(['kaas', rb.keystoneRoleId, 'cr', rb.clusterRole])
    : dnsName(['kaas', rb.keystoneRoleId, 'role', rb.role ?? '']);
}

/**
 * The ClusterRoleBinding master-0's bootstrap applied before this addon became the only renderer
 * of the admin binding. The applier deletes it once ADMIN_BINDING is applied, so no object grants
 * cluster-admin that no kaas component still owns (and would keep if the admin role changed).
 */
export const BOOTSTRAP_ADMIN_BINDING: readonly ObjectRef[] = [
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name: 'kaas:cluster-admin' },
];

/**
 * One tenant grant. A ClusterRole without a namespace becomes a ClusterRoleBinding; with one, a
 * RoleBinding in that namespace; a Role always binds in its namespace. The only renderer of tenant
 * bindings: this addon and the control panel's role-binding applier both call it.
 */
export function roleBinding(rb: RoleBindingSpec): KubernetesObject {
  const name = bindingName(rb);
  if (rb.clusterRole !== undefined && rb.namespace === undefined) {
    return typed<IClusterRoleBinding>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(ADDON, name),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: rb.clusterRole },
      subjects: group(rb.keystoneRoleId),
    });
  }
  return typed<IRoleBinding>({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta(ADDON, name, { namespace: rb.namespace ?? '' }),
    roleRef: {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: rb.clusterRole !== undefined ? 'ClusterRole' : 'Role',
      name: rb.clusterRole ?? rb.role ?? '',
    },
    subjects: group(rb.keystoneRoleId),
  });
}

/**
 * Cluster RBAC: the admin Keystone role → cluster-admin, then each tenant grant. The only renderer
 * of the cluster-admin binding. Master-0's bootstrap applies none: kubeadm and the bootstrap act
 * with kubeadm's own admin credentials, and only Keystone users need this binding, so it is enough
 * that the provisioner applies this addon with its break-glass certificate once the API answers.
 * resolveContext has already refused protected namespaces.
 */
export function rbacAddon(ctx: ResolvedContext): KubernetesObject[] {
  return [
    typed<IClusterRoleBinding>({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(ADDON, ADMIN_BINDING),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: group(ctx.adminRoleId),
    }),
    ...ctx.roleBindings.map(roleBinding),
  ];
}
