import { describe, expect, it } from 'vitest';
import { defaultContext } from '../../../test/addons/default-context.ts';
import { renderAddons } from '../../addons/index.ts';
import { roleBinding } from '../../addons/rbac.ts';
import type { RoleBinding } from '../../store/getRoleBindings.ts';
import { toSpec } from './rolebindings.ts';

// Applying and pruning against a real API server: test/kubelab/addons.test.ts.
describe('rendering panel bindings', () => {
  it('maps panel bindings to the grants the rbac addon renders', () => {
    const ctx = defaultContext();
    const addon = renderAddons(ctx, ['namespaces', 'rbac']).find((a) => a.addon === 'rbac')!;
    const panel: RoleBinding[] = ctx.roleBindings.map((rb) => ({
      keystoneRoleId: rb.keystoneRoleId,
      kind: rb.clusterRole !== undefined ? 'ClusterRole' : 'Role',
      roleName: rb.clusterRole ?? rb.role ?? '',
      ...(rb.namespace === undefined ? {} : { namespace: rb.namespace }),
    }));
    expect(panel.map((b, i) => roleBinding(toSpec(b, i)))).toEqual(addon.objects.slice(1));
  });

  it('refuses bindings that are incomplete or aim at a protected namespace', () => {
    const editors: RoleBinding = {
      keystoneRoleId: 'role-member',
      kind: 'ClusterRole',
      roleName: 'edit',
      namespace: 'team-a',
    };
    expect(() => toSpec({ keystoneRoleId: 'r', kind: 'Role', roleName: 'x' }, 2)).toThrow(
      expect.objectContaining({ code: 'invalid_input', field: 'bindings[2].namespace' }),
    );
    expect(() => toSpec({ keystoneRoleId: ' ', kind: 'ClusterRole', roleName: 'view' }, 0)).toThrow(
      /needs a Keystone role id/,
    );
    expect(() => toSpec({ ...editors, namespace: 'kube-system' }, 0)).toThrow(
      expect.objectContaining({ code: 'protected_namespace', field: 'bindings[0].namespace' }),
    );
  });
});
