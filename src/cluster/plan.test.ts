import { describe, expect, it } from 'vitest';
import { ConflictError, InputError } from '../errors.ts';
import { KUBERNETES_RELEASES, type KubernetesRelease } from '../versions/index.ts';
import {
  planCreate,
  planDelete,
  planHeal,
  planHealMaster,
  planResize,
  planRotateCredentials,
  planUpgrade,
  planWorkerRollout,
  releaseObjectName,
  type PlanStep,
} from './plan.ts';
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

/** What resize and upgrade do first: stage the release, then mint a join token for new nodes. */
const STAGING = ['release', 'artifacts', 'release-tarball', 'join-token'];
/** What a master's replacement finds (never re-creates) and prepares before any master joins. */
const CONTROL_PLANE_SETUP = [
  'network',
  'subnet',
  'load-balancer',
  'server-group',
  'kubeadm-config',
  'kubeadm-certs',
];

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
      'pod-network',
      'wait-nodes',
      'credential',
      'addons',
    ]);
    const byId = new Map(steps.map((s) => [s.id, s]));
    // The cluster's application credential is made beside the rest; the services wait for it.
    expect(byId.get('credential')).toMatchObject({
      kind: 'ensure',
      dependsOn: ['release'],
      resource: { type: 'credential', params: { phase: 'ensure' } },
    });
    expect(byId.get('addons')!.dependsOn).toEqual(['kubeconfig', 'wait-nodes', 'credential']);
    // No kubelet is Ready without a CNI: flannel goes on once the API answers, before the Node wait.
    expect(byId.get('pod-network')).toMatchObject({
      dependsOn: ['wait-api'],
      resource: { type: 'addons', params: { only: ['namespaces', 'networking'] } },
    });
    expect(byId.get('wait-nodes')!.dependsOn).toContain('pod-network');
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

describe('planHeal', () => {
  it('drains and deletes the dead worker, then boots one on the lowest free index and waits for it', () => {
    const steps = planHeal(spec(), ID, 'default', 1, [0, 1, 3]);
    expectOrdered(steps);
    expect(steps.map((s) => s.id)).toEqual([
      ...STAGING,
      'drain:kaas-prod-default-1',
      'delete-server:kaas-prod-default-1',
      'delete-node:kaas-prod-default-1',
      'heal:default:2',
      'heal-ready:default:2',
    ]);
    expect(steps.find((s) => s.id === 'heal:default:2')!.resource.params).toMatchObject({
      indexes: [2],
      names: ['kaas-prod-default-2'],
    });
    expect(steps.find((s) => s.id === 'heal:default:2')!.dependsOn).toContain(
      'delete-node:kaas-prod-default-1',
    );
    expect(steps.at(-1)!.resource.params).toEqual({ names: ['kaas-prod-default-2'], condition: 'Ready' });
    // The node is dead: its drain does not wait for pods that can no longer stop.
    expect(steps[4]!.resource.params).toEqual({ node: 'kaas-prod-default-1', deadNode: true });
  });

  it('refuses a group the spec does not have, and a server that is gone', () => {
    expect(() => planHeal(spec(), ID, 'nope', 0, [0])).toThrow(InputError);
    expect(() => planHeal(spec(), ID, 'default', 5, [0, 1])).toThrow(ConflictError);
  });
});

describe('planHealMaster', () => {
  const m = (i: number) => `kaas-prod-master-${i}`;
  const ha = spec({ masters: 3 });

  it('takes the dead master out of the load balancer and etcd first, joins one on the lowest free index with the same version, then deletes the old one', () => {
    const steps = planHealMaster(ha, ID, 1, [0, 1, 2]);
    expectOrdered(steps);
    expect(steps.map((s) => s.id)).toEqual([
      ...STAGING,
      ...CONTROL_PLANE_SETUP,
      `delete-lb-member:${m(1)}`,
      `etcd-remove:${m(1)}`,
      'master-port-3',
      'lb-member-3',
      'master-3',
      `master-ready:${m(3)}`,
      `etcd-joined:${m(3)}`,
      'delete:kubeadm-certs',
      `drain:${m(1)}`,
      `delete-server:${m(1)}`,
      `delete-node:${m(1)}`,
      `delete-port:${m(1)}`,
    ]);
    const at = (id: string) => steps.find((s) => s.id === id)!;
    for (const id of ['network', 'subnet', 'load-balancer', 'server-group'])
      expect(at(id).kind).toBe('verify');
    // The cluster keeps its version: kubeadm-config names it, the replacement boots it.
    expect(at('kubeadm-config').resource.params).toEqual({ kubernetesVersion: OLDEST.patch });
    expect(at('release').resource.params).toEqual({ version: OLDEST.patch });
    // etcd: the dead member goes through the three masters of now (itself last, by the executor),
    // and the new one is awaited through the two left and itself.
    expect(at(`etcd-remove:${m(1)}`).resource.params).toEqual({ member: m(1), masters: [m(0), m(1), m(2)] });
    expect(at(`etcd-joined:${m(3)}`).resource.params).toEqual({ member: m(3), masters: [m(0), m(2), m(3)] });
    // No new member is added before the dead one is gone.
    expect(at('master-port-3').dependsOn).toEqual(['subnet', `etcd-remove:${m(1)}`]);
    expect(at('master-3').resource).toMatchObject({
      params: {
        metadata: { 'kaas-role': 'master', 'kaas-index': '3' },
        bootstrap: { role: 'join-control-plane', apiEndpointFrom: 'load-balancer' },
      },
    });
    // The old server and Node go only once the replacement is a healthy member; its drain gives up
    // on pods a dead kubelet can no longer stop.
    expect(at(`drain:${m(1)}`)).toMatchObject({
      dependsOn: [`etcd-joined:${m(3)}`],
      resource: { params: { node: m(1), deadNode: true } },
    });
    // Exactly one server is booted.
    expect(steps.filter((s) => s.kind === 'ensure' && s.resource.type === 'server')).toHaveLength(1);
  });

  it('takes the lowest free index, and refuses a gone server or a cluster without a load balancer', () => {
    const steps = planHealMaster(ha, ID, 4, [3, 4, 5]);
    expect(steps.filter((s) => s.resource.type === 'server' && s.kind === 'ensure').map((s) => s.id)).toEqual(
      ['master-0'],
    );
    expect(() => planHealMaster(ha, ID, 1, [0, 2])).toThrow(
      expect.objectContaining({ code: 'heal_target_gone' }),
    );
    expect(() => planHealMaster(spec({ masters: 1 }), ID, 0, [0])).toThrow(
      expect.objectContaining({ code: 'heal_not_supported' }),
    );
  });
});

describe('planResize', () => {
  it('grows into the lowest free indexes with a fresh TempURL and join token', () => {
    const plan = planResize(spec(), ID, 'default', 4, [0, 2]);
    expect(plan.added).toEqual([1, 3]);
    expect(plan.removed).toEqual([]);
    expectOrdered(plan.steps);
    expect(plan.steps.map((s) => s.id)).toEqual([...STAGING, 'workers:default', 'wait-nodes', 'addons']);
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

  it('removes exactly the named indexes (cluster-autoscaler chose them), highest first', () => {
    const plan = planResize(spec(), ID, 'default', 1, [0, 1, 2], {}, [0, 2]);
    expect(plan.removed).toEqual([2, 0]);
    expect(plan.steps.filter((s) => s.kind === 'delete').map((s) => s.id)).toEqual([
      'delete-server:kaas-prod-default-2',
      'delete-server:kaas-prod-default-0',
    ]);
    expect(() => planResize(spec(), ID, 'default', 1, [0, 1], {}, [3])).toThrow(
      expect.objectContaining({ code: 'node_not_in_group' }),
    );
    expect(() => planResize(spec(), ID, 'default', 0, [0, 1], {}, [1])).toThrow(/leaves 1, not 0/);
  });

  it('never sizes an autoscaled group outside minSize..maxSize', () => {
    const bounded = spec({
      nodeGroups: [{ name: 'default', count: 2, minSize: 1, maxSize: 3, flavor: 'm1.large' }],
    });
    expect(planResize(bounded, ID, 'default', 3, [0, 1]).added).toEqual([2]);
    expect(planResize(bounded, ID, 'default', 1, [0, 1]).removed).toEqual([1]);
    for (const count of [0, 4]) {
      expect(() => planResize(bounded, ID, 'default', count, [0, 1])).toThrow(
        expect.objectContaining({
          code: 'outside_size_bounds',
          message: `node group default of prod is autoscaled between minSize 1 and maxSize 3: ${count} node(s) is outside that range`,
        }),
      );
    }
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
  const groups = { default: [0, 1], gpu: [0] };
  const ha = (over: Record<string, unknown> = {}) => spec({ masters: 3, ...over });
  const existing = { masters: [0, 1, 2], groups };
  const m = (i: number) => `kaas-prod-master-${i}`;

  /** The steps replacing master `old` by master `n`, in plan order. */
  const replacement = (old: number, n: number) => [
    `master-port-${n}`,
    `lb-member-${n}`,
    `master-${n}`,
    `master-ready:${m(n)}`,
    `etcd-joined:${m(n)}`,
    `drain:${m(old)}`,
    `delete-lb-member:${m(old)}`,
    `etcd-remove:${m(old)}`,
    `delete-server:${m(old)}`,
    `delete-node:${m(old)}`,
    `delete-port:${m(old)}`,
  ];

  it('replaces the masters one at a time, then rolls each worker group, after staging the new release', () => {
    const plan = planUpgrade(ha(), ID, MIDDLE.patch, existing);
    expect(plan.check.change).toBe('minor');
    expect(plan.spec.kubernetesVersion).toBe(MIDDLE.patch);
    expectOrdered(plan.steps);
    expect(plan.steps.map((s) => s.id)).toEqual([
      ...STAGING,
      ...CONTROL_PLANE_SETUP,
      ...replacement(0, 3),
      ...replacement(1, 4),
      ...replacement(2, 5),
      'delete:kubeadm-certs',
      'kubeadm-addons',
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
    const at = (id: string) => plan.steps.find((s) => s.id === id)!;
    // The cluster's shared resources are looked up, never re-created.
    for (const id of ['network', 'subnet', 'load-balancer', 'server-group'])
      expect(at(id).kind).toBe('verify');
    expect(at('kubeadm-config').resource).toMatchObject({ params: { kubernetesVersion: MIDDLE.patch } });
    // A replacement boots with the new version's join-control-plane user data, once kubeadm-config
    // names that version and kubeadm-certs is uploaded, on its own port behind the load balancer.
    expect(at('master-3').dependsOn).toEqual([
      'master-port-3',
      'lb-member-3',
      'server-group',
      'release-tarball',
      'join-token',
      'kubeadm-config',
      'kubeadm-certs',
    ]);
    expect(at('master-3').resource).toMatchObject({
      type: 'server',
      name: m(3),
      params: {
        port: 'kaas-prod-master-3-port',
        serverGroup: 'kaas-prod-servergroup-masters',
        metadata: { 'kaas-role': 'master', 'kaas-index': '3' },
        bootstrap: { role: 'join-control-plane', apiEndpointFrom: 'load-balancer' },
      },
    });
    expect(at('lb-member-3').resource).toMatchObject({ name: 'kaas-prod-master-3-port' });
    expect(at('master-ready:kaas-prod-master-3').resource).toMatchObject({
      type: 'nodes',
      params: { names: [m(3)], condition: 'Ready' },
    });
    // The old master leaves etcd only once its replacement's member is healthy, and the load
    // balancer before etcd; etcd is reached through the masters of that moment.
    expect(at(`etcd-joined:${m(3)}`).resource).toMatchObject({
      type: 'etcd-member',
      params: { member: m(3), masters: [m(0), m(1), m(2), m(3)] },
    });
    // Drained first, while its own API server (its kubelet's) still has its etcd member.
    expect(at(`drain:${m(0)}`).dependsOn).toEqual([`etcd-joined:${m(3)}`]);
    expect(at(`delete-lb-member:${m(0)}`).dependsOn).toEqual([`drain:${m(0)}`]);
    expect(at(`etcd-remove:${m(0)}`)).toMatchObject({
      kind: 'delete',
      dependsOn: [`delete-lb-member:${m(0)}`],
      resource: { params: { member: m(0) } },
    });
    expect(at(`delete-server:${m(0)}`).dependsOn).toEqual([`drain:${m(0)}`, `etcd-remove:${m(0)}`]);
    expect(at(`delete-port:${m(0)}`).dependsOn).toEqual([`delete-server:${m(0)}`]);
    expect(at(`etcd-remove:${m(1)}`).resource.params).toMatchObject({ masters: [m(1), m(2), m(3), m(4)] });
    // One at a time: the next master's port waits until the previous old master is fully gone.
    expect(at('master-port-4').dependsOn).toEqual(['subnet', `delete-node:${m(0)}`, `delete-port:${m(0)}`]);
    expect(at('delete:kubeadm-certs')).toMatchObject({ kind: 'delete', dependsOn: [`etcd-joined:${m(5)}`] });
    // kube-proxy and CoreDNS move once every API server is new, as kubeadm upgrade apply moves them.
    expect(at('kubeadm-addons')).toMatchObject({
      dependsOn: [`delete-node:${m(2)}`, `delete-port:${m(2)}`],
      resource: { params: { kubernetesVersion: MIDDLE.patch, coreDns: MIDDLE.images.coredns } },
    });
    // Workers roll only after the whole control plane runs the new version.
    expect(at('roll:default:0').dependsOn).toEqual([
      'release-tarball',
      'join-token',
      `delete-node:${m(2)}`,
      `delete-port:${m(2)}`,
      'delete:kubeadm-certs',
    ]);
    expect(at('roll:gpu:0').dependsOn).toEqual(at('roll:default:0').dependsOn);
    expect(at('roll:default:0').resource.params).toMatchObject({
      indexes: [2],
      names: ['kaas-prod-default-2'],
    });
    expect(at('addons').dependsOn).toEqual(
      expect.arrayContaining(['delete-node:kaas-prod-default-1', 'delete-node:kaas-prod-gpu-0']),
    );
    // No server name is booted twice or reused within one upgrade.
    const booted = plan.steps.filter((s) => s.kind === 'ensure' && s.resource.type === 'server');
    expect(booted.map((s) => s.resource.name)).toEqual([m(3), m(4), m(5)]);
  });

  it('names replacements on the lowest free indexes, so a second upgrade moves back without a clash', () => {
    const first = planUpgrade(ha(), ID, MIDDLE.patch, existing);
    const second = planUpgrade(ha({ kubernetesVersion: MIDDLE.patch }), ID, NEWEST.patch, {
      masters: [5, 3, 4],
      groups: { default: [2, 3], gpu: [1] },
    });
    expectOrdered(second.steps);
    const boots = (steps: readonly PlanStep[]) =>
      steps.filter((s) => s.kind === 'ensure' && s.resource.type === 'server').map((s) => s.resource.name);
    expect(boots(first.steps)).toEqual([m(3), m(4), m(5)]);
    expect(boots(second.steps)).toEqual([m(0), m(1), m(2)]);
    // The old masters go lowest index first.
    expect(second.steps.filter((s) => s.id.startsWith('etcd-remove:')).map((s) => s.id)).toEqual(
      [3, 4, 5].map((i) => `etcd-remove:${m(i)}`),
    );
    // A single master behind Octavia is replaced the same way (etcd goes 1 → 2 → 1 members).
    const single = planUpgrade(spec({ loadBalancer: 'octavia' }), ID, MIDDLE.patch, { masters: [0], groups });
    expectOrdered(single.steps);
    expect(single.steps.map((s) => s.id)).toEqual(expect.arrayContaining(replacement(0, 1)));
    expect(single.steps.find((s) => s.id === `etcd-remove:${m(0)}`)?.resource.params).toMatchObject({
      masters: [m(0), m(1)],
    });
  });

  it('boots maxSurge worker replacements per batch and never more than count + maxSurge servers', () => {
    const nodeGroups = [{ name: 'default', count: 5, flavor: 'm1.large', maxSurge: 2 }];
    const plans = [
      planUpgrade(ha({ nodeGroups }), ID, MIDDLE.patch, {
        masters: [0, 1, 2],
        groups: { default: [0, 2, 3, 5, 6] },
      }).steps,
      planWorkerRollout(spec({ nodeGroups, kubernetesVersion: MIDDLE.patch }), ID, {
        default: [0, 2, 3, 5, 6],
      }),
    ];
    for (const steps of plans) {
      expectOrdered(steps);
      const boots = steps.filter((s) => s.resource.type === 'servers');
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
      expect(
        steps.filter((s) => s.resource.type === 'node-drain' && s.id.includes('default')).map((s) => s.id),
      ).toEqual([0, 2, 3, 5, 6].map((i) => `drain:kaas-prod-default-${i}`));
    }
    // Alone, the worker rollout starts right after staging and the join token.
    const rollout = plans[1]!;
    expect(rollout.map((s) => s.id).slice(0, 5)).toEqual([...STAGING, 'roll:default:0']);
    expect(rollout.find((s) => s.id === 'roll:default:0')!.dependsOn).toEqual([
      'release-tarball',
      'join-token',
    ]);
    expect(rollout.some((s) => s.resource.type === 'etcd-member')).toBe(false);
  });

  it('returns no steps for a no-op; a patch of the same minor replaces the nodes the same way', () => {
    const same = planUpgrade(ha(), ID, OLDEST.patch, existing);
    expect(same.check.change).toBe('none');
    expect(same.steps).toEqual([]);
    // A cluster on an earlier patch than the catalogue's moves to the catalogue's patch.
    const earlier = {
      ...ha(),
      kubernetesVersion: OLDEST.patch.replace(/\d+$/, (n) => String(Number(n) - 1)),
    };
    const patch = planUpgrade(earlier, ID, OLDEST.patch, existing);
    expect(patch.check.change).toBe('patch');
    expect(patch.steps.map((s) => s.id)).toEqual(
      expect.arrayContaining([...replacement(2, 5), 'roll:default:1']),
    );
  });

  it('rejects downgrades, skipped minors, servers that do not match the spec, and clusters without a load balancer', () => {
    expect(() => planUpgrade(ha({ kubernetesVersion: MIDDLE.patch }), ID, OLDEST.patch, existing)).toThrow(
      expect.objectContaining({ code: 'upgrade_downgrade' }),
    );
    expect(() => planUpgrade(ha(), ID, NEWEST.patch, existing)).toThrow(
      expect.objectContaining({ code: 'upgrade_skips_minor' }),
    );
    expect(() =>
      planUpgrade(ha(), ID, MIDDLE.patch, { masters: [0, 1, 2], groups: { default: [0], gpu: [0] } }),
    ).toThrow(
      expect.objectContaining({
        code: 'upgrade_group_mismatch',
        message: expect.stringContaining('node group default has 1 server(s) but its spec says 2'),
      }),
    );
    expect(() => planUpgrade(ha(), ID, MIDDLE.patch, { masters: [0, 1], groups })).toThrow(
      expect.objectContaining({
        code: 'upgrade_group_mismatch',
        field: 'masters',
        message: expect.stringContaining('has 2 master server(s) but its spec says 3'),
      }),
    );
    expect(() => planUpgrade(ha(), ID, MIDDLE.patch, { masters: [0, 1, -2], groups })).toThrow(
      expect.objectContaining({ field: 'existing' }),
    );
    expect(() =>
      planUpgrade(ha(), ID, MIDDLE.patch, { masters: [0, 1, 2], groups: { default: [0, -1], gpu: [0] } }),
    ).toThrow(expect.objectContaining({ field: 'existing' }));
    // Without Octavia the API endpoint is master-0's own address: refused, not half done.
    const refused = (() => {
      try {
        planUpgrade(spec(), ID, MIDDLE.patch, { masters: [0], groups });
      } catch (error) {
        return error as ConflictError;
      }
    })();
    expect(refused).toBeInstanceOf(ConflictError);
    expect(refused).toMatchObject({
      code: 'upgrade_not_supported',
      message: expect.stringMatching(
        /no Octavia load balancer.*kaas-prod-master-0's own fixed IP.*nothing was queued/,
      ),
    });
    // A no-op is still a no-op without one.
    expect(planUpgrade(spec(), ID, OLDEST.patch, { masters: [0], groups }).steps).toEqual([]);
  });
});

describe('planRotateCredentials', () => {
  it('makes the new credential, re-applies the managed services with it, then retires the old one', () => {
    const steps = planRotateCredentials(spec(), ID);
    expectOrdered(steps);
    expect(steps.map((s) => [s.id, s.kind, s.dependsOn])).toEqual([
      ['credential:rotate', 'action', []],
      ['addons', 'action', ['credential:rotate']],
      ['credential:retire', 'delete', ['addons']],
    ]);
    expect(steps.map((s) => s.resource.params)).toEqual([{ phase: 'rotate' }, {}, { phase: 'retire' }]);
  });
});

describe('planDelete', () => {
  it('deletes LoadBalancer Services through the API, then sweeps tagged resources in dependency order, then named ones', () => {
    const steps = planDelete(ID, { name: 'prod', ownsKeypair: true });
    expectOrdered(steps);
    expect(steps.map((s) => s.id)).toEqual([
      'delete:load-balancer-services',
      'sweep:server',
      'sweep:volume',
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
      'delete:kaas-prod-etcd',
      'delete:kaas-prod-velero',
      'delete:kaas-prod-registry',
      // Last: the cloud controller and Cinder CSI act with it while Services are removed.
      'delete:credential',
    ]);
    expect(steps.every((s, i) => i === 0 || s.dependsOn.length === 1)).toBe(true);
    expect(steps[11]!.resource.name).toBe('kaas-prod-keypair');
    expect(steps[13]!.resource.name).toBe('kaas-prod-artifacts');
    expect(steps.slice(14).map((s) => s.resource.type)).toEqual([
      'container',
      'container',
      'container',
      'credential',
    ]);
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

  it('keeps the CSI volumes with keepVolumes and the backup containers with keepBackups', () => {
    const ids = (ref: Partial<Parameters<typeof planDelete>[1]>) =>
      planDelete(ID, { name: 'prod', ownsKeypair: true, ...ref }).map((s) => s.id);
    expect(ids({ keepVolumes: true })).not.toContain('sweep:volume');
    expect(ids({ keepVolumes: true })).toContain('delete:kaas-prod-velero');
    expect(ids({ keepBackups: true }).slice(-2)).toEqual(['delete:artifacts', 'delete:credential']);
    expect(ids({ keepBackups: true })).toContain('sweep:volume');
    expectOrdered(planDelete(ID, { name: 'prod', ownsKeypair: true, keepVolumes: true, keepBackups: true }));
  });

  it('keeps a keypair kaas did not create', () => {
    const steps = planDelete(ID, { name: 'prod', ownsKeypair: false });
    expect(steps.some((s) => s.resource.type === 'keypair')).toBe(false);
    expect(steps.find((s) => s.id === 'delete:server-group')!.dependsOn).toEqual(['sweep:security-group']);
  });
});
