import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { KUBERNETES_RELEASES, type KubernetesRelease } from '../versions/index.ts';
import { planCreate, planDelete, planResize, planUpgrade, releaseObjectName, type PlanStep } from './plan.ts';
import type { ClusterSpec } from './spec.ts';
import { validateSpec } from './validate.ts';
import { CLUSTER_DEFAULTS } from './defaults.ts';

const ID = 'c0ffee00-0000-4000-8000-000000000001';
const [OLDEST, MIDDLE, NEWEST] = KUBERNETES_RELEASES as [
  KubernetesRelease,
  KubernetesRelease,
  KubernetesRelease,
];

function spec(overrides: Record<string, unknown> = {}): ClusterSpec {
  return validateSpec({
    name: 'prod',
    kubernetesVersion: OLDEST.patch,
    masters: 1,
    masterFlavor: 'm1.large',
    image: 'debian-12',
    nodeGroups: [
      { name: 'default', count: 2, flavor: 'm1.large' },
      { name: 'gpu', count: 1, flavor: 'g1.xlarge', labels: { accel: 'nvidia' } },
      { name: 'spare', count: 0, flavor: 'm1.small' },
    ],
    network: { ...CLUSTER_DEFAULTS.network },
    externalNetwork: 'public',
    dnsDomain: 'apps.example.com',
    adminRoleId: 'adminrole',
    ...overrides,
  });
}

/** Every dependency is an earlier step and ids are unique: the plan can run top to bottom. */
function expectOrdered(steps: readonly PlanStep[]): void {
  const seen = new Set<string>();
  for (const s of steps) {
    for (const dep of s.dependsOn)
      expect(seen.has(dep), `${s.id} depends on later/unknown ${dep}`).toBe(true);
    expect(seen.has(s.id), `duplicate ${s.id}`).toBe(false);
    seen.add(s.id);
  }
}

describe('planCreate', () => {
  it('plans a single-master cluster without a load balancer', () => {
    const steps = planCreate(spec(), ID);
    expectOrdered(steps);
    expect(steps.map((s) => s.id)).toEqual([
      'release',
      'network',
      'subnet',
      'router',
      'sg-master',
      'sg-node',
      'security-groups',
      'artifacts',
      'release-tarball',
      'server-group',
      'master-port-0',
      'api-floating-ip',
      'master-0',
      'wait-api',
      'workers:default',
      'workers:gpu',
      'kubeconfig',
      'wait-nodes',
      'addons',
    ]);
    const byId = new Map(steps.map((s) => [s.id, s]));
    expect(byId.get('addons')!.dependsOn).toEqual(['kubeconfig', 'wait-nodes']);
    expect(byId.get('api-floating-ip')!.resource).toMatchObject({
      params: { target: { type: 'port', name: 'kaas-prod-master-0-port' } },
    });
    expect(byId.get('master-0')!.resource).toMatchObject({
      type: 'server',
      name: 'kaas-prod-master-0',
      params: { bootstrap: { format: 'cloud-init', role: 'init', apiEndpointFrom: 'master-port-0' } },
    });
    expect(byId.get('workers:gpu')!.resource).toMatchObject({
      type: 'servers',
      params: { names: ['kaas-prod-gpu-0'], indexes: [0], labels: { accel: 'nvidia' }, flavor: 'g1.xlarge' },
    });
    expect(byId.get('wait-nodes')!.resource.params).toEqual({
      names: ['kaas-prod-master-0', 'kaas-prod-default-0', 'kaas-prod-default-1', 'kaas-prod-gpu-0'],
      condition: 'Ready',
    });
    for (const s of steps) expect(s.resource.tags).toEqual([`kaas-cluster=${ID}`]);
    const rules = byId.get('security-groups')!.resource.params as { rules: { portMin: number }[] };
    expect(rules.rules.some((r) => r.portMin === 22)).toBe(false);
  });

  it('plans an HA cluster behind octavia with masters joining one at a time', () => {
    const steps = planCreate(
      spec({
        masters: 3,
        image: 'flatcar-stable',
        sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== me',
      }),
      ID,
      { artifactTtlSeconds: 60 },
    );
    expectOrdered(steps);
    const byId = new Map(steps.map((s) => [s.id, s]));
    expect(byId.get('keypair')).toMatchObject({ kind: 'ensure', resource: { name: 'kaas-prod-keypair' } });
    expect(byId.get('master-1')!.dependsOn).toEqual(['wait-api', 'master-port-1', 'lb-member-1']);
    expect(byId.get('master-2')!.dependsOn).toEqual(['master-1', 'master-port-2', 'lb-member-2']);
    expect(byId.get('master-0')!.dependsOn).toContain('keypair');
    expect(byId.get('master-2')!.resource).toMatchObject({
      params: {
        bootstrap: { format: 'ignition', role: 'join-control-plane', apiEndpointFrom: 'load-balancer' },
      },
    });
    expect(byId.get('release-tarball')!.resource.params).toEqual({
      container: 'kaas-prod-artifacts',
      version: OLDEST.patch,
      tempUrlTtlSeconds: 60,
    });
    const rules = byId.get('security-groups')!.resource.params as { rules: { portMin: number }[] };
    expect(rules.rules.filter((r) => r.portMin === 22)).toHaveLength(2);
    expect(steps).toMatchSnapshot();
  });

  it('names only the release version, never a source: the executor takes it from the catalogue', () => {
    for (const release of KUBERNETES_RELEASES) {
      const steps = planCreate(spec({ kubernetesVersion: release.patch }), ID);
      expect(steps.find((s) => s.id === 'release')!.resource.params).toEqual({ version: release.patch });
      const tarball = steps.find((s) => s.id === 'release-tarball')!.resource.params;
      expect(Object.keys(tarball).sort()).toEqual(['container', 'tempUrlTtlSeconds', 'version']);
    }
  });

  it('verifies the release before any step that makes a cloud resource', () => {
    for (const masters of [1, 3]) {
      const steps = planCreate(
        spec({ masters, sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== me' }),
        ID,
      );
      expect(steps[0]).toMatchObject({ id: 'release', kind: 'verify', dependsOn: [] });
      expect(steps.filter((s) => s.dependsOn.length === 0).map((s) => s.id)).toEqual(['release']);
    }
    const grow = planResize(spec(), ID, 'default', 4, [0]);
    expect(grow.steps.filter((s) => s.dependsOn.length === 0).map((s) => s.id)).toEqual(['release']);
  });

  it('only verifies a keypair the user owns', () => {
    const steps = planCreate(spec({ sshKeyName: 'ops' }), ID);
    expect(steps.find((s) => s.id === 'keypair')).toEqual({
      id: 'keypair',
      kind: 'verify',
      dependsOn: ['release'],
      resource: { type: 'keypair', name: 'ops', tags: [], params: {} },
    });
  });

  it('is deterministic and rejects bad cluster ids', () => {
    expect(JSON.stringify(planCreate(spec(), ID))).toBe(JSON.stringify(planCreate(spec(), ID)));
    expect(() => planCreate(spec(), 'BAD ID')).toThrow(InputError);
  });
});

describe('planResize', () => {
  it('grows into the lowest free indexes with a fresh TempURL and join token', () => {
    const plan = planResize(spec(), ID, 'default', 4, [0, 2]);
    expect(plan.added).toEqual([1, 3]);
    expect(plan.removed).toEqual([]);
    expectOrdered(plan.steps);
    expect(plan.steps.map((s) => s.id)).toEqual([
      'release',
      'artifacts',
      'release-tarball',
      'join-token',
      'workers:default',
      'wait-nodes',
      'addons',
    ]);
    expect(plan.steps[4]!.resource.params).toMatchObject({
      indexes: [1, 3],
      names: ['kaas-prod-default-1', 'kaas-prod-default-3'],
    });
    expect(plan.spec.nodeGroups[0]!.count).toBe(4);
  });

  it('shrinks by draining and deleting the highest indexes first', () => {
    const plan = planResize(spec(), ID, 'default', 1, [2, 0, 1, 2]);
    expect(plan.removed).toEqual([2, 1]);
    expectOrdered(plan.steps);
    expect(plan.steps.map((s) => `${s.kind} ${s.id}`)).toEqual([
      'action drain:kaas-prod-default-2',
      'delete delete-server:kaas-prod-default-2',
      'action delete-node:kaas-prod-default-2',
      'action drain:kaas-prod-default-1',
      'delete delete-server:kaas-prod-default-1',
      'action delete-node:kaas-prod-default-1',
      'action addons',
    ]);
    expect(plan.steps.at(-1)!.dependsOn).toEqual(['delete-node:kaas-prod-default-1']);
    expect(plan.spec.nodeGroups[0]!.count).toBe(1);
  });

  it('does nothing when the count already matches', () => {
    expect(planResize(spec(), ID, 'gpu', 1, [0]).steps).toEqual([]);
  });

  it('rejects unknown groups, bad counts and bad indexes', () => {
    expect(() => planResize(spec(), ID, 'nope', 1, [])).toThrow(
      expect.objectContaining({
        field: 'group',
        message: expect.stringContaining('groups: default, gpu, spare'),
      }),
    );
    expect(() => planResize(spec(), ID, 'gpu', -1, [])).toThrow(expect.objectContaining({ field: 'count' }));
    expect(() => planResize(spec(), ID, 'gpu', 1001, [])).toThrow(/count must be an integer from 0 to 1000/);
    expect(() => planResize(spec(), ID, 'gpu', 1, [-1])).toThrow(
      expect.objectContaining({ field: 'existing' }),
    );
  });
});

describe('planUpgrade', () => {
  const existing = { default: [0, 1], gpu: [0] };

  it('rolls each worker group by replacement after staging the new release, and names the masters it does not replace', () => {
    const plan = planUpgrade(spec({ masters: 3 }), ID, MIDDLE.patch, existing);
    expect(plan.check.change).toBe('minor');
    expect(plan.spec.kubernetesVersion).toBe(MIDDLE.patch);
    expect(plan.controlPlane).toEqual(['kaas-prod-master-0', 'kaas-prod-master-1', 'kaas-prod-master-2']);
    expectOrdered(plan.steps);
    const ids = plan.steps.map((s) => s.id);
    expect(ids).toEqual([
      'release',
      'artifacts',
      'release-tarball',
      'join-token',
      'roll:default:0',
      'roll-ready:default:0',
      'drain:kaas-prod-default-0',
      'delete-server:kaas-prod-default-0',
      'delete-node:kaas-prod-default-0',
      'roll:default:1',
      'roll-ready:default:1',
      'drain:kaas-prod-default-1',
      'delete-server:kaas-prod-default-1',
      'delete-node:kaas-prod-default-1',
      'roll:gpu:0',
      'roll-ready:gpu:0',
      'drain:kaas-prod-gpu-0',
      'delete-server:kaas-prod-gpu-0',
      'delete-node:kaas-prod-gpu-0',
      'addons',
    ]);
    expect(plan.steps[2]!.resource.name).toBe(releaseObjectName(MIDDLE.patch));
    expect(plan.steps.find((s) => s.id === 'join-token')!.dependsOn).toEqual(['release']);
    const at = (id: string) => plan.steps.find((s) => s.id === id)!;
    // Replacements take the lowest free indexes and boot once the new release is staged.
    expect(at('roll:default:0').dependsOn).toEqual(['release-tarball', 'join-token']);
    expect(at('roll:default:0').resource.params).toMatchObject({
      indexes: [2],
      names: ['kaas-prod-default-2'],
    });
    expect(at('roll:default:1').resource.params).toMatchObject({ indexes: [3] });
    expect(at('roll-ready:default:0').resource).toMatchObject({
      type: 'nodes',
      params: { names: ['kaas-prod-default-2'], condition: 'Ready' },
    });
    // The old node goes only once its replacement is Ready; the next batch only once it is gone.
    expect(at('drain:kaas-prod-default-0').dependsOn).toEqual(['roll-ready:default:0']);
    expect(at('roll:default:1').dependsOn).toEqual(['delete-server:kaas-prod-default-0']);
    // Groups roll side by side.
    expect(at('roll:gpu:0').dependsOn).toEqual(['release-tarball', 'join-token']);
    expect(at('roll:gpu:0').resource.params).toMatchObject({ indexes: [1], labels: { accel: 'nvidia' } });
    expect(at('addons').dependsOn).toEqual(
      expect.arrayContaining(['delete-node:kaas-prod-default-1', 'delete-node:kaas-prod-gpu-0']),
    );
  });

  it('boots maxSurge replacements per batch and never more than count + maxSurge servers', () => {
    const groups = [{ name: 'default', count: 5, flavor: 'm1.large', maxSurge: 2 }];
    const plan = planUpgrade(spec({ nodeGroups: groups }), ID, MIDDLE.patch, { default: [0, 2, 3, 5, 6] });
    expectOrdered(plan.steps);
    const boots = plan.steps.filter((s) => s.resource.type === 'servers');
    expect(boots.map((s) => [s.id, (s.resource.params as { indexes: number[] }).indexes])).toEqual([
      ['roll:default:0', [1, 4]],
      ['roll:default:1', [7, 8]],
      ['roll:default:2', [9]],
    ]);
    expect(boots[1]!.dependsOn).toEqual([
      'delete-server:kaas-prod-default-0',
      'delete-server:kaas-prod-default-2',
    ]);
    expect(boots[2]!.dependsOn).toEqual([
      'delete-server:kaas-prod-default-3',
      'delete-server:kaas-prod-default-5',
    ]);
    expect(plan.steps.filter((s) => s.resource.type === 'node-drain').map((s) => s.id)).toEqual(
      [0, 2, 3, 5, 6].map((i) => `drain:kaas-prod-default-${i}`),
    );
  });

  it('returns no steps for a no-op; a patch of the same minor rolls the same way', () => {
    const same = planUpgrade(spec(), ID, OLDEST.patch, existing);
    expect(same.check.change).toBe('none');
    expect(same.steps).toEqual([]);
    expect(same.controlPlane).toEqual([]);
    // A cluster on an earlier patch than the catalogue's moves to the catalogue's patch.
    const earlier = {
      ...spec(),
      kubernetesVersion: OLDEST.patch.replace(/\d+$/, (n) => String(Number(n) - 1)),
    };
    const patch = planUpgrade(earlier, ID, OLDEST.patch, existing);
    expect(patch.check.change).toBe('patch');
    expect(patch.steps.map((s) => s.id)).toContain('roll:default:1');
    expect(patch.controlPlane).toEqual(['kaas-prod-master-0']);
  });

  it('rejects downgrades, skipped minors and groups whose servers do not match their count', () => {
    expect(() => planUpgrade(spec({ kubernetesVersion: MIDDLE.patch }), ID, OLDEST.patch, existing)).toThrow(
      expect.objectContaining({ code: 'upgrade_downgrade' }),
    );
    expect(() => planUpgrade(spec(), ID, NEWEST.patch, existing)).toThrow(
      expect.objectContaining({ code: 'upgrade_skips_minor' }),
    );
    expect(() => planUpgrade(spec(), ID, MIDDLE.patch, { default: [0], gpu: [0] })).toThrow(
      expect.objectContaining({
        code: 'upgrade_group_mismatch',
        message: expect.stringContaining('node group default has 1 server(s) but its spec says 2'),
      }),
    );
    expect(() => planUpgrade(spec(), ID, MIDDLE.patch, { default: [0, -1], gpu: [0] })).toThrow(
      expect.objectContaining({ field: 'existing' }),
    );
  });
});

describe('planDelete', () => {
  it('deletes LoadBalancer Services through the API, then sweeps tagged resources in dependency order, then named ones', () => {
    const steps = planDelete(ID, { name: 'prod', ownsKeypair: true });
    expectOrdered(steps);
    expect(steps.map((s) => s.id)).toEqual([
      'delete:load-balancer-services',
      'sweep:server',
      'sweep:floating-ip',
      'sweep:port',
      'sweep:load-balancer',
      'sweep:router-interface',
      'sweep:router',
      'sweep:subnet',
      'sweep:network',
      'sweep:security-group',
      'delete:keypair',
      'delete:server-group',
      'delete:artifacts',
    ]);
    expect(steps.every((s, i) => i === 0 || s.dependsOn.length === 1)).toBe(true);
    expect(steps[10]!.resource.name).toBe('kaas-prod-keypair');
    expect(steps[12]!.resource.name).toBe('kaas-prod-artifacts');
    expect(steps[0]).toMatchObject({ dependsOn: [], resource: { type: 'kube-objects' } });
  });

  it('deletes PersistentVolumeClaims only when asked, before any server goes', () => {
    const steps = planDelete(ID, { name: 'prod', ownsKeypair: true, deleteVolumes: true });
    expectOrdered(steps);
    expect(steps.slice(0, 3).map((s) => s.id)).toEqual([
      'delete:load-balancer-services',
      'delete:persistent-volume-claims',
      'sweep:server',
    ]);
    expect(steps[2]!.dependsOn).toEqual(['delete:persistent-volume-claims']);
    expect(steps[1]!.resource.params).toEqual({ objects: 'persistent-volume-claims' });
  });

  it('keeps a keypair kaas did not create', () => {
    const steps = planDelete(ID, { name: 'prod', ownsKeypair: false });
    expect(steps.some((s) => s.resource.type === 'keypair')).toBe(false);
    expect(steps.find((s) => s.id === 'delete:server-group')!.dependsOn).toEqual(['sweep:security-group']);
  });
});
