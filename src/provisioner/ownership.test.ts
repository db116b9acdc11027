/**
 * One owner per object (STYLE.md rule 15), checked on everything kaas writes to one cluster: what
 * master-0's bootstrap applies, every managed service, and the control panel's role bindings.
 * Two writers of one object would fight over it (a forced server-side apply takes its fields
 * over), so no (API group, kind, namespace, name) may be rendered twice, and the objects that once
 * had two writers — flannel and the cluster-admin binding — must each come from one place.
 */
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { bootstrapInput } from '../../test/bootstrap/fixtures.ts';
import { ADDON_NAMES, renderAddons, type KubernetesObject } from '../addons/index.ts';
import { roleBinding } from '../addons/rbac.ts';
import { nodeContent } from '../bootstrap/node.ts';
import { toSpec } from './addons/rolebindings.ts';
import { addonContext } from './steps/addons.ts';

interface Written {
  writer: string;
  object: KubernetesObject;
}

/** The identity of an object in the API: the group, not the version, names it. */
function keyOf(o: KubernetesObject): string {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  return `${group}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** Keys written more than once, with their writers. */
function duplicates(written: readonly Written[]): Record<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const w of written) byKey.set(keyOf(w.object), [...(byKey.get(keyOf(w.object)) ?? []), w.writer]);
  return Object.fromEntries([...byKey].filter(([, writers]) => writers.length > 1));
}

/**
 * What master-0's bootstrap script applies: the documents of every file it `kubectl apply -f`s.
 * None today (flannel and the admin binding are addons); kept so that anything it applies again is
 * checked against the addons.
 */
function bootstrapWrites(): Written[] {
  const content = nodeContent(bootstrapInput('init'));
  const script = content.files.find((f) => f.path === content.scriptPath)!.content;
  const applied = [...script.matchAll(/kubectl (?:apply|create)\b.*?-f\s+(\S+)/g)].map((m) => m[1]);
  return applied.flatMap((path) =>
    parseAllDocuments(content.files.find((f) => f.path === path)!.content).map((d) => ({
      writer: `bootstrap ${path}`,
      object: d.toJSON() as KubernetesObject,
    })),
  );
}

/** Every managed service, as the provisioner's addons step renders them, and the panel's grants. */
function addonWrites(): Written[] {
  const { spec } = bootstrapInput('init');
  const ctx = addonContext(spec, 'c-ownership', { authUrl: 'https://keystone.example:5000/v3', region: 'R' });
  const grants = [
    { keystoneRoleId: 'role-reader', kind: 'ClusterRole' as const, roleName: 'view' },
    { keystoneRoleId: 'role-member', kind: 'Role' as const, roleName: 'deployer', namespace: 'team-a' },
  ];
  return [
    ...renderAddons(ctx, ADDON_NAMES).flatMap((a) =>
      a.objects.map((object) => ({ writer: `addon ${a.addon}`, object })),
    ),
    ...grants.map((g, i) => ({ writer: 'role bindings', object: roleBinding(toSpec(g, i)) })),
  ];
}

describe('one owner per object', () => {
  const written = [...bootstrapWrites(), ...addonWrites()];

  it('renders no object twice across bootstrap, managed services and role bindings', () => {
    expect(written.length).toBeGreaterThan(50);
    expect(duplicates(written)).toEqual({});
  });

  it('catches two writers of one object', () => {
    const flannel = written.find(
      (w) => w.object.kind === 'DaemonSet' && w.object.metadata.name === 'flannel',
    )!;
    expect(duplicates([flannel, { ...flannel, writer: 'bootstrap' }])).toEqual({
      'apps/DaemonSet/kube-system/flannel': ['addon networking', 'bootstrap'],
    });
  });

  it('runs one flannel, from the networking addon', () => {
    const flannels = written.filter(
      (w) =>
        ['DaemonSet', 'Deployment'].includes(w.object.kind) && JSON.stringify(w.object).includes('flanneld'),
    );
    expect(flannels.map((w) => `${w.writer}: ${keyOf(w.object)}`)).toEqual([
      'addon networking: apps/DaemonSet/kube-system/flannel',
    ]);
  });

  it('binds cluster-admin to the admin role once, from the rbac addon', () => {
    const { spec } = bootstrapInput('init');
    const admins = written.filter((w) => {
      const o = w.object as KubernetesObject & { roleRef?: { name: string }; subjects?: { name: string }[] };
      return o.roleRef?.name === 'cluster-admin' && o.subjects?.some((s) => s.name === spec.adminRoleId);
    });
    expect(admins.map((w) => `${w.writer}: ${keyOf(w.object)}`)).toEqual([
      'addon rbac: rbac.authorization.k8s.io/ClusterRoleBinding//kaas-cluster-admin',
    ]);
  });
});
