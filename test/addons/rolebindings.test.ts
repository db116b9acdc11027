import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderAddons } from '../../src/addons/index.ts';
import { roleBinding } from '../../src/addons/rbac.ts';
import { ForbiddenError, UpstreamError } from '../../src/errors.ts';
import { applyAddons } from '../../src/provisioner/addons/apply.ts';
import {
  applyRoleBindings,
  toSpec,
  type ApplyRoleBindingsDeps,
} from '../../src/provisioner/addons/rolebindings.ts';
import { realSleep } from '../../src/provisioner/addons/wait.ts';
import type { Store } from '../../src/store/db.ts';
import { getRoleBindings, type RoleBinding } from '../../src/store/getRoleBindings.ts';
import { up as panelUp } from '../../src/store/migrations/0005_panel.ts';
import { replaceRoleBindings } from '../../src/store/replaceRoleBindings.ts';
import { engines, freshStore } from '../support/databases.ts';
import { defaultContext } from './default-context.ts';
import { startKubeApi, type KubeApi } from './kubeapi.ts';
import { clientFor, fastWait, seedNamespace, silentLogger } from './support.ts';

const clusterId = 'c-demo';
const t0 = new Date('2030-01-01T00:00:00.000Z');
const viewers: RoleBinding = { keystoneRoleId: 'role-reader', kind: 'ClusterRole', roleName: 'view' };
const editors: RoleBinding = {
  keystoneRoleId: 'role-member',
  kind: 'ClusterRole',
  roleName: 'edit',
  namespace: 'team-a',
};
const deployers: RoleBinding = {
  keystoneRoleId: 'role-member',
  kind: 'Role',
  roleName: 'deployer',
  namespace: 'team-a',
};

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
    expect(() => toSpec({ keystoneRoleId: 'r', kind: 'Role', roleName: 'x' }, 2)).toThrow(
      expect.objectContaining({ code: 'invalid_input', field: 'bindings[2].namespace' }),
    );
    expect(() => toSpec({ keystoneRoleId: ' ', kind: 'ClusterRole', roleName: 'view' }, 0)).toThrow(
      /needs a Keystone role id/,
    );
    expect(() => toSpec({ ...editors, namespace: 'kube-system' }, 0)).toThrow(ForbiddenError);
  });
});

describe.each(engines)('applyRoleBindings on %s', (engine) => {
  let api: KubeApi;
  let store: Store;
  let deps: ApplyRoleBindingsDeps;

  beforeEach(async () => {
    api = await startKubeApi();
    seedNamespace(api, 'team-a');
    store = await freshStore(engine);
    await panelUp(store.db as never);
    deps = { db: store.db, logger: silentLogger, now: () => t0, kube: clientFor(api) };
  });
  afterEach(async () => {
    await api.close();
    await store.close();
  });

  const save = (bindings: RoleBinding[]) =>
    replaceRoleBindings({ db: store.db, clusterId, bindings, updatedBy: 'admin', now: t0 });
  const bindingNames = () => api.names().filter((n) => /^(Cluster)?RoleBinding /.test(n));

  it('applies, prunes removed bindings (never the admin binding) and marks each revision applied', async () => {
    // The rbac addon put the admin binding (and the same grants) there first.
    const rbac = renderAddons(defaultContext({ roleBindings: [] }), ['namespaces', 'rbac']);
    await applyAddons({ ...deps, sleep: realSleep }, { clusterId, addons: rbac, wait: fastWait });
    await save([viewers, editors, deployers]);
    expect(await applyRoleBindings(deps, { clusterId })).toEqual({
      revision: 1,
      applied: 3,
      pruned: 0,
      marked: true,
    });
    expect(bindingNames()).toEqual([
      'ClusterRoleBinding kaas-cluster-admin',
      'ClusterRoleBinding kaas-role-reader-cr-view',
      'RoleBinding team-a/kaas-role-member-cr-edit',
      'RoleBinding team-a/kaas-role-member-role-deployer',
    ]);
    const crb = api.get('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'kaas-role-reader-cr-view')!;
    expect(crb['subjects']).toEqual([
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'role-reader' },
    ]);
    expect((await getRoleBindings({ db: store.db, clusterId })).appliedRevision).toBe(1);

    // Unchanged: no writes, nothing to mark.
    const writes = api.writes;
    expect(await applyRoleBindings(deps, { clusterId })).toEqual({
      revision: 1,
      applied: 3,
      pruned: 0,
      marked: false,
    });
    expect(api.writes).toBe(writes);

    await save([deployers]);
    expect(await applyRoleBindings(deps, { clusterId })).toEqual({
      revision: 2,
      applied: 1,
      pruned: 2,
      marked: true,
    });
    expect(bindingNames()).toEqual([
      'ClusterRoleBinding kaas-cluster-admin',
      'RoleBinding team-a/kaas-role-member-role-deployer',
    ]);
    expect(await getRoleBindings({ db: store.db, clusterId })).toMatchObject({
      revision: 2,
      appliedRevision: 2,
      appliedAt: t0.toISOString(),
    });
  });

  it('leaves the revision pending when the cluster refuses a binding', async () => {
    await save([{ ...deployers, namespace: 'no-such-ns' }]);
    const err = await applyRoleBindings(deps, { clusterId }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toBe(
      `apply of RoleBinding no-such-ns/kaas-role-member-role-deployer: Kubernetes API ${api.url} answered 404: namespaces "no-such-ns" not found`,
    );
    expect((await getRoleBindings({ db: store.db, clusterId })).appliedRevision).toBeNull();
  });

  it('reports an unreachable API as an UpstreamError and marks nothing', async () => {
    await save([viewers]);
    api.failNext(1000, 500);
    await expect(applyRoleBindings(deps, { clusterId })).rejects.toMatchObject({ code: 'kube_api_error' });
    expect((await getRoleBindings({ db: store.db, clusterId })).appliedRevision).toBeNull();
  });

  it('with nothing ever saved, prunes stray kaas bindings and marks nothing', async () => {
    api.seed({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: {
        name: 'kaas-old',
        labels: { 'app.kubernetes.io/managed-by': 'kaas', 'kaas.io/addon': 'rbac' },
      },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [],
    });
    api.seed({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'someone-elses' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [],
    });
    expect(await applyRoleBindings(deps, { clusterId })).toEqual({
      revision: 0,
      applied: 0,
      pruned: 1,
      marked: false,
    });
    expect(bindingNames()).toEqual(['ClusterRoleBinding someone-elses']);
  });
});
