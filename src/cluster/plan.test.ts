import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { KUBERNETES_RELEASES, type KubernetesRelease } from '../versions/index.ts';
import { planCreate, planDelete, planResize, planUpgrade, releaseObjectName, type PlanStep } from './plan.ts';
import type { ClusterSpec } from './spec.ts';
import { validateSpec } from './validate.ts';

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
    network: {
      nodeCidr: '10.240.0.0/16',
      podCidr: '10.244.0.0/16',
      serviceCidr: '10.96.0.0/12',
      dnsIp: '10.96.0.10',
    },
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
  it('upgrades masters in order, then worker groups', () => {
    const plan = planUpgrade(spec({ masters: 3 }), ID, MIDDLE.patch);
    expect(plan.check.change).toBe('minor');
    expect(plan.spec.kubernetesVersion).toBe(MIDDLE.patch);
    expectOrdered(plan.steps);
    expect(plan.steps.map((s) => s.id)).toEqual([
      'release',
      'artifacts',
      'release-tarball',
      'upgrade-master-0',
      'upgrade-master-1',
      'upgrade-master-2',
      'upgrade-workers:default',
      'upgrade-workers:gpu',
      'addons',
    ]);
    expect(plan.steps[2]!.resource.name).toBe(releaseObjectName(MIDDLE.patch));
    expect(plan.steps[3]!.resource.params).toMatchObject({ mode: 'apply', drain: true });
    expect(plan.steps[6]!.resource.params).toMatchObject({
      mode: 'node',
      nodes: ['kaas-prod-default-0', 'kaas-prod-default-1'],
    });
  });

  it('returns no steps for a no-op and does not drain a lone master', () => {
    const same = planUpgrade(spec(), ID, OLDEST.patch);
    expect(same.check.change).toBe('none');
    expect(same.steps).toEqual([]);
    // A cluster on an earlier patch than the catalogue's moves to the catalogue's patch.
    const earlier = {
      ...spec(),
      kubernetesVersion: OLDEST.patch.replace(/\d+$/, (n) => String(Number(n) - 1)),
    };
    const patch = planUpgrade(earlier, ID, OLDEST.patch);
    expect(patch.check.change).toBe('patch');
    expect(patch.steps[3]!.resource.params).toMatchObject({ drain: false });
  });

  it('rejects downgrades and skipped minors', () => {
    expect(() => planUpgrade(spec({ kubernetesVersion: MIDDLE.patch }), ID, OLDEST.patch)).toThrow(
      expect.objectContaining({ code: 'upgrade_downgrade' }),
    );
    expect(() => planUpgrade(spec(), ID, NEWEST.patch)).toThrow(
      expect.objectContaining({ code: 'upgrade_skips_minor' }),
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
