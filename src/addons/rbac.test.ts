import { describe, expect, it } from 'vitest';
import { defaultContext } from '../../test/addons/default-context.ts';
import { resolveContext } from './context.ts';
import { ADMIN_BINDING, bindingName, rbacAddon } from './rbac.ts';

describe('rbacAddon', () => {
  const objects = rbacAddon(resolveContext(defaultContext()));

  it('binds the admin Keystone role, as a Group, to cluster-admin', () => {
    expect(objects[0]).toMatchObject({
      kind: 'ClusterRoleBinding',
      metadata: { name: ADMIN_BINDING },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [
        { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: '9fe2ff9ee4384b1894a90878d3e92bab' },
      ],
    });
  });

  it('maps each grant to the right binding kind', () => {
    expect(
      objects
        .slice(1)
        .map((o) => [o.kind, o.metadata.namespace, (o as { roleRef?: { kind: string } }).roleRef?.kind]),
    ).toEqual([
      ['ClusterRoleBinding', undefined, 'ClusterRole'],
      ['RoleBinding', 'team-a', 'ClusterRole'],
      ['RoleBinding', 'team-a', 'Role'],
    ]);
  });

  it('names bindings deterministically, DNS-safe and within 63 chars', () => {
    const names = objects.map((o) => o.metadata.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) {
      expect(n.length).toBeLessThanOrEqual(63);
      expect(n).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    const long = {
      keystoneRoleId: 'f'.repeat(32),
      clusterRole: 'system:aggregate-to-a-very-long-cluster-role-name',
    };
    expect(bindingName(long)).toBe(bindingName({ ...long }));
    expect(bindingName(long)).toMatch(/-[0-9a-f]{8}$/);
  });
});
