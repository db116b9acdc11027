/**
 * Provisioning plans as data. A plan is an ordered list of steps; the provisioner executes them
 * in order (a step only after everything in `dependsOn`), and each step is idempotent because its
 * resource is found by name and `kaas-cluster` tag before anything is created or deleted. Nothing
 * here talks to a cloud: same inputs, same plan.
 */
import { ConflictError, InputError } from '../errors.ts';
import { clusterNames, tagsFor, type ClusterNames } from './names.ts';
import { bootstrapFormatFor, type BootstrapFormat, type ClusterSpec, type NodeGroup } from './spec.ts';
import { releaseForPatch } from '../versions/index.ts';
import { MAX_GROUP_COUNT, validateUpgrade, type UpgradeCheck } from './validate.ts';

/**
 * `ensure`: find by name+tag, create if missing. `verify`: must already exist (kaas does not own
 * it). `wait`: poll until a condition holds. `action`: run an operation against the cluster.
 * `delete`: remove one named resource if present. `sweep`: remove every resource of the type that
 * carries the tag.
 */
export type StepKind = 'ensure' | 'verify' | 'wait' | 'action' | 'delete' | 'sweep';

/** What a new server runs at first boot; the provisioner renders it with src/bootstrap. */
export interface BootstrapRef {
  readonly format: BootstrapFormat;
  readonly role: 'init' | 'join-control-plane' | 'worker';
  /** Step id whose resource address is the API endpoint (load balancer or master-0 port). */
  readonly apiEndpointFrom: string;
}

/** One Neutron security group rule (ingress). */
export interface SecurityRule {
  readonly securityGroup: string;
  readonly protocol: 'tcp' | 'udp';
  readonly portMin: number;
  readonly portMax: number;
  /** Either a peer security group name or a CIDR. */
  readonly remoteGroup?: string;
  readonly remoteCidr?: string;
  readonly description: string;
}

/** Server creation parameters shared by masters and workers. */
export interface ServerParams {
  readonly flavor: string;
  readonly image: string;
  /** Boot on this pre-created port (masters) or on this network (workers). */
  readonly port?: string;
  readonly network?: string;
  readonly securityGroups: readonly string[];
  readonly keypair?: string;
  readonly serverGroup?: string;
  /** Nova metadata; lets the provisioner recover group and index from a listed server. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly bootstrap: BootstrapRef;
  readonly labels: Readonly<Record<string, string>>;
}

/** The resource a step acts on, discriminated by `type`. */
export type PlanResource =
  | { type: 'network'; name: string; tags: string[]; params: Record<string, never> }
  | { type: 'subnet'; name: string; tags: string[]; params: { network: string; cidr: string; ipVersion: 4 } }
  | { type: 'router'; name: string; tags: string[]; params: { externalNetwork: string; subnet: string } }
  | { type: 'security-group'; name: string; tags: string[]; params: Record<string, never> }
  | { type: 'security-group-rules'; name: string; tags: string[]; params: { rules: SecurityRule[] } }
  | { type: 'keypair'; name: string; tags: string[]; params: { publicKey?: string } }
  | { type: 'container'; name: string; tags: string[]; params: Record<string, never> }
  | { type: 'release'; name: string; tags: string[]; params: { version: string } }
  | {
      type: 'release-tarball';
      name: string;
      tags: string[];
      params: { container: string; version: string; tempUrlTtlSeconds: number };
    }
  | { type: 'server-group'; name: string; tags: string[]; params: { policy: 'soft-anti-affinity' } }
  | {
      type: 'port';
      name: string;
      tags: string[];
      params: { network: string; subnet: string; securityGroups: string[] };
    }
  | {
      type: 'load-balancer';
      name: string;
      tags: string[];
      params: {
        vipSubnet: string;
        port: 6443;
        protocol: 'TCP';
        healthMonitor: { type: 'HTTPS'; urlPath: '/readyz'; expectedCodes: '200' };
      };
    }
  | { type: 'lb-member'; name: string; tags: string[]; params: { loadBalancer: string; port: string } }
  | {
      type: 'floating-ip';
      name: string;
      tags: string[];
      params: { externalNetwork: string; target: { type: 'load-balancer' | 'port'; name: string } };
    }
  | { type: 'server'; name: string; tags: string[]; params: ServerParams }
  | {
      type: 'servers';
      name: string;
      tags: string[];
      /** `names[i]` is the server of `indexes[i]`; each also gets metadata `kaas-index`. */
      params: ServerParams & { group: string; indexes: number[]; names: string[] };
    }
  | { type: 'api'; name: string; tags: string[]; params: { path: '/readyz' } }
  | { type: 'nodes'; name: string; tags: string[]; params: { names: string[]; condition: 'Ready' | 'Gone' } }
  | { type: 'kubeconfig'; name: string; tags: string[]; params: { endpointFrom: string } }
  | { type: 'join-token'; name: string; tags: string[]; params: { ttlSeconds: number } }
  | {
      type: 'node-drain';
      name: string;
      tags: string[];
      /**
       * `deadNode`: the node's kubelet is gone (healing), so pods already evicted never finish
       * terminating there; the drain does not wait for them (they go with the Node).
       */
      params: { node: string; deadNode?: boolean };
    }
  | { type: 'node-object'; name: string; tags: string[]; params: { node: string } }
  | { type: 'cluster-resources'; name: string; tags: string[]; params: { resourceType: SweepType } }
  | { type: 'kube-objects'; name: string; tags: string[]; params: { objects: KubeCleanup } }
  | {
      type: 'addons';
      name: string;
      tags: string[];
      /** `only`: just these managed services (and no role bindings); default every one. */
      params: { only?: readonly string[] };
    }
  | { type: 'credential'; name: string; tags: string[]; params: { phase: CredentialPhase } }
  | { type: 'kubeadm-config'; name: string; tags: string[]; params: { kubernetesVersion: string } }
  | { type: 'kubeadm-certs'; name: string; tags: string[]; params: Record<string, never> }
  | {
      type: 'kubeadm-addons';
      name: string;
      tags: string[];
      /** The image tags kubeadm's own add-ons move to: kube-proxy `v<version>`, CoreDNS the catalogue's. */
      params: { kubernetesVersion: string; coreDns: string };
    }
  | {
      type: 'etcd-member';
      name: string;
      tags: string[];
      /** `member`: the etcd member (= Node) name; `masters`: the masters kaas may reach etcd through now. */
      params: { member: string; masters: string[] };
    };

/**
 * What a step does to the cluster's application credential (src/provisioner/steps/credential.ts):
 * make it if missing (create), replace it keeping the old one as retired (rotate), delete the
 * retired one once the cluster runs on the new (retire), delete every one of the cluster (delete).
 */
export type CredentialPhase = 'ensure' | 'rotate' | 'retire' | 'delete';

/** Resource types garbage collection sweeps by tag, in deletion order. */
export type SweepType =
  | 'server'
  | 'volume'
  | 'floating-ip'
  | 'port'
  | 'load-balancer'
  | 'router-interface'
  | 'router'
  | 'subnet'
  | 'network'
  | 'security-group';

/**
 * Objects delete removes through the cluster's own API before the cloud sweep, so the controllers
 * that made cloud resources for them (cloud controller, Cinder CSI) remove those resources too.
 */
export type KubeCleanup = 'load-balancer-services' | 'persistent-volume-claims';

/** One unit of provisioning work. `id` is stable across re-plans of the same cluster. */
export interface PlanStep {
  readonly id: string;
  readonly kind: StepKind;
  readonly dependsOn: readonly string[];
  readonly resource: PlanResource;
}

/** Knobs that are not part of the cluster's own description. */
export interface PlanContext {
  /** Lifetime of the TempURL nodes download the tarball through; refreshed on resize. */
  readonly artifactTtlSeconds?: number;
  /** Lifetime of kubeadm bootstrap tokens made for joins. */
  readonly joinTokenTtlSeconds?: number;
}

/** Defaults for PlanContext. */
export const PLAN_DEFAULTS = {
  artifactTtlSeconds: 30 * 24 * 3600,
  joinTokenTtlSeconds: 2 * 3600,
} as const;

/** Swift object name of a staged release tarball. */
export function releaseObjectName(version: string): string {
  return `kubernetes/v${version}/kubernetes-server-linux-amd64.tar.gz`;
}

function step(id: string, kind: StepKind, dependsOn: string[], resource: PlanResource): PlanStep {
  return { id, kind, dependsOn, resource };
}

/**
 * The last step of create, resize and upgrade: (re)applies the managed services and tenant role
 * bindings once the API answers, so every change to the cluster ends with its addons converged.
 */
/** The managed services a node needs before it can be Ready: flannel, in its namespace. */
const POD_NETWORK_ADDONS = ['namespaces', 'networking'] as const;

function addonsStep(spec: ClusterSpec, tags: string[], after: readonly PlanStep[]): PlanStep {
  const dependents = new Set(after.flatMap((s) => s.dependsOn));
  const leaves = after.filter((s) => !dependents.has(s.id)).map((s) => s.id);
  return step('addons', 'action', leaves, { type: 'addons', name: spec.name, tags, params: {} });
}

function securityRules(spec: ClusterSpec, names: ClusterNames): SecurityRule[] {
  const master = names.securityGroupMaster;
  const node = names.securityGroupNode;
  const rule = (
    securityGroup: string,
    protocol: 'tcp' | 'udp',
    ports: [number, number],
    remote: { remoteGroup: string } | { remoteCidr: string },
    description: string,
  ): SecurityRule => ({
    securityGroup,
    protocol,
    portMin: ports[0],
    portMax: ports[1],
    ...remote,
    description,
  });
  const ssh = spec.sshKeyName !== undefined || spec.sshPublicKey !== undefined;
  const anywhere = { remoteCidr: '0.0.0.0/0' };
  const rules: SecurityRule[] = [
    rule(master, 'tcp', [6443, 6443], anywhere, 'kube-apiserver'),
    rule(master, 'tcp', [2379, 2380], { remoteGroup: master }, 'etcd peers and clients'),
  ];
  for (const target of [master, node]) {
    for (const peer of [master, node]) {
      rules.push(rule(target, 'tcp', [10250, 10250], { remoteGroup: peer }, 'kubelet API'));
      rules.push(rule(target, 'udp', [8472, 8472], { remoteGroup: peer }, 'flannel vxlan'));
    }
  }
  rules.push(rule(node, 'tcp', [30000, 32767], anywhere, 'NodePort services'));
  if (ssh) {
    rules.push(rule(master, 'tcp', [22, 22], anywhere, 'ssh'));
    rules.push(rule(node, 'tcp', [22, 22], anywhere, 'ssh'));
  }
  return rules;
}

function keypairName(spec: ClusterSpec, names: ClusterNames): string | undefined {
  if (spec.sshPublicKey !== undefined) return names.keypair;
  return spec.sshKeyName;
}

function workerParams(
  spec: ClusterSpec,
  clusterId: string,
  names: ClusterNames,
  group: NodeGroup,
  indexes: readonly number[],
): ServerParams & { group: string; indexes: number[]; names: string[] } {
  const keypair = keypairName(spec, names);
  return {
    group: group.name,
    indexes: [...indexes],
    names: indexes.map((i) => names.worker(group.name, i)),
    flavor: group.flavor,
    image: group.image,
    network: names.network,
    securityGroups: [names.securityGroupNode],
    ...(keypair === undefined ? {} : { keypair }),
    metadata: { 'kaas-cluster': clusterId, 'kaas-group': group.name },
    bootstrap: {
      format: bootstrapFormatFor(spec.os),
      role: 'worker',
      apiEndpointFrom: apiEndpointStep(spec),
    },
    labels: group.labels,
  };
}

/** Master `index` on its own pre-created port, in the masters' anti-affinity group. */
function masterParams(
  spec: ClusterSpec,
  clusterId: string,
  names: ClusterNames,
  index: number,
  role: 'init' | 'join-control-plane',
): ServerParams {
  const keypair = keypairName(spec, names);
  return {
    flavor: spec.masterFlavor,
    image: spec.image,
    port: names.masterPort(index),
    securityGroups: [names.securityGroupMaster],
    ...(keypair === undefined ? {} : { keypair }),
    serverGroup: names.serverGroupMasters,
    metadata: { 'kaas-cluster': clusterId, 'kaas-role': 'master', 'kaas-index': String(index) },
    bootstrap: { format: bootstrapFormatFor(spec.os), role, apiEndpointFrom: apiEndpointStep(spec) },
    labels: {},
  };
}

/** The API load balancer: TCP 6443 with an HTTPS health monitor on /readyz. */
export function apiLoadBalancer(
  names: ClusterNames,
  tags: string[],
): Extract<PlanResource, { type: 'load-balancer' }> {
  return {
    type: 'load-balancer',
    name: names.apiLoadBalancer,
    tags,
    params: {
      vipSubnet: names.subnet,
      port: 6443,
      protocol: 'TCP',
      healthMonitor: { type: 'HTTPS', urlPath: '/readyz', expectedCodes: '200' },
    },
  };
}

function apiEndpointStep(spec: ClusterSpec): string {
  return spec.loadBalancer === 'octavia' ? 'load-balancer' : 'master-port-0';
}

/**
 * `release` fetches the version's tarball from the catalogue (or the operator's mirror) and checks
 * its digest; only then is anything made in the cloud: the container, the staged object.
 */
function artifactSteps(spec: ClusterSpec, tags: string[], names: ClusterNames, ctx: PlanContext): PlanStep[] {
  return [
    step('release', 'verify', [], {
      type: 'release',
      name: releaseObjectName(spec.kubernetesVersion),
      tags,
      params: { version: spec.kubernetesVersion },
    }),
    step('artifacts', 'ensure', ['release'], {
      type: 'container',
      name: names.artifactsContainer,
      tags,
      params: {},
    }),
    step('release-tarball', 'ensure', ['release', 'artifacts'], {
      type: 'release-tarball',
      name: releaseObjectName(spec.kubernetesVersion),
      tags,
      params: {
        container: names.artifactsContainer,
        version: spec.kubernetesVersion,
        tempUrlTtlSeconds: ctx.artifactTtlSeconds ?? PLAN_DEFAULTS.artifactTtlSeconds,
      },
    }),
  ];
}

/**
 * Puts `release` first and makes every other step without prerequisites wait for it: a bad or
 * unreachable release then fails the job before anything exists in the cloud.
 */
function afterRelease(steps: PlanStep[]): PlanStep[] {
  const release = steps.filter((s) => s.id === 'release');
  const rest = steps
    .filter((s) => s.id !== 'release')
    .map((s) => (s.dependsOn.length === 0 ? { ...s, dependsOn: ['release'] } : s));
  return [...release, ...rest];
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

/**
 * Everything needed to bring `spec` up from nothing, in dependency order: network, security,
 * artifacts, control plane (master-0 runs `kubeadm init`, the others join one by one after the API
 * answers), then one step per worker group.
 */
export function planCreate(spec: ClusterSpec, clusterId: string, ctx: PlanContext = {}): PlanStep[] {
  const tags = tagsFor(clusterId);
  const names = clusterNames(spec.name);
  const keypair = keypairName(spec, names);
  const octavia = spec.loadBalancer === 'octavia';
  const steps: PlanStep[] = [
    step('network', 'ensure', [], { type: 'network', name: names.network, tags, params: {} }),
    step('subnet', 'ensure', ['network'], {
      type: 'subnet',
      name: names.subnet,
      tags,
      params: { network: names.network, cidr: spec.network.nodeCidr, ipVersion: 4 },
    }),
    step('router', 'ensure', ['subnet'], {
      type: 'router',
      name: names.router,
      tags,
      params: { externalNetwork: spec.externalNetwork, subnet: names.subnet },
    }),
    step('sg-master', 'ensure', [], {
      type: 'security-group',
      name: names.securityGroupMaster,
      tags,
      params: {},
    }),
    step('sg-node', 'ensure', [], {
      type: 'security-group',
      name: names.securityGroupNode,
      tags,
      params: {},
    }),
    step('security-groups', 'ensure', ['sg-master', 'sg-node'], {
      type: 'security-group-rules',
      name: names.securityGroupMaster,
      tags,
      params: { rules: securityRules(spec, names) },
    }),
  ];
  if (spec.sshPublicKey !== undefined) {
    steps.push(
      step('keypair', 'ensure', [], {
        type: 'keypair',
        name: names.keypair,
        tags,
        params: { publicKey: spec.sshPublicKey },
      }),
    );
  } else if (spec.sshKeyName !== undefined) {
    steps.push(
      step('keypair', 'verify', [], { type: 'keypair', name: spec.sshKeyName, tags: [], params: {} }),
    );
  }
  steps.push(...artifactSteps(spec, tags, names, ctx));
  steps.push(
    step('server-group', 'ensure', [], {
      type: 'server-group',
      name: names.serverGroupMasters,
      tags,
      params: { policy: 'soft-anti-affinity' },
    }),
  );
  for (const i of range(spec.masters)) {
    steps.push(
      step(`master-port-${i}`, 'ensure', ['subnet', 'security-groups'], {
        type: 'port',
        name: names.masterPort(i),
        tags,
        params: { network: names.network, subnet: names.subnet, securityGroups: [names.securityGroupMaster] },
      }),
    );
  }
  if (octavia) {
    steps.push(
      // master-port-0: without Octavia the step falls back to that port's address (docs/provisioner.md).
      step('load-balancer', 'ensure', ['subnet', 'router', 'master-port-0'], apiLoadBalancer(names, tags)),
    );
    for (const i of range(spec.masters)) {
      steps.push(
        step(`lb-member-${i}`, 'ensure', ['load-balancer', `master-port-${i}`], {
          type: 'lb-member',
          name: names.masterPort(i),
          tags,
          params: { loadBalancer: names.apiLoadBalancer, port: names.masterPort(i) },
        }),
      );
    }
  }
  steps.push(
    step('api-floating-ip', 'ensure', ['router', octavia ? 'load-balancer' : 'master-port-0'], {
      type: 'floating-ip',
      name: names.apiFloatingIp,
      tags,
      params: {
        externalNetwork: spec.externalNetwork,
        target: octavia
          ? { type: 'load-balancer', name: names.apiLoadBalancer }
          : { type: 'port', name: names.masterPort(0) },
      },
    }),
  );
  const masterStep = (i: number): PlanStep => {
    const after =
      i === 0
        ? [
            `master-port-0`,
            'release-tarball',
            'server-group',
            'api-floating-ip',
            ...(keypair === undefined ? [] : ['keypair']),
            ...(octavia ? ['lb-member-0'] : []),
          ]
        : [
            i === 1 ? 'wait-api' : `master-${i - 1}`,
            `master-port-${i}`,
            ...(octavia ? [`lb-member-${i}`] : []),
          ];
    return step(`master-${i}`, 'ensure', after, {
      type: 'server',
      name: names.master(i),
      tags,
      params: masterParams(spec, clusterId, names, i, i === 0 ? 'init' : 'join-control-plane'),
    });
  };
  steps.push(masterStep(0));
  steps.push(
    step('wait-api', 'wait', ['master-0'], {
      type: 'api',
      name: names.apiFloatingIp,
      tags,
      params: { path: '/readyz' },
    }),
  );
  for (const i of range(spec.masters).slice(1)) steps.push(masterStep(i));
  const workerSteps: string[] = [];
  for (const group of spec.nodeGroups) {
    if (group.count === 0) continue;
    const id = `workers:${group.name}`;
    workerSteps.push(id);
    steps.push(
      step(id, 'ensure', ['wait-api'], {
        type: 'servers',
        name: group.name,
        tags,
        params: workerParams(spec, clusterId, names, group, range(group.count)),
      }),
    );
  }
  steps.push(
    step('kubeconfig', 'action', ['wait-api'], {
      type: 'kubeconfig',
      name: spec.name,
      tags,
      params: { endpointFrom: 'api-floating-ip' },
    }),
  );
  const masterIds = range(spec.masters).map((i) => `master-${i}`);
  steps.push(
    // A kubelet reports Ready only once a CNI is configured, and nothing in the nodes' user data
    // installs one: the pod network goes on as soon as the API answers, before the Node wait.
    step('pod-network', 'action', ['wait-api'], {
      type: 'addons',
      name: spec.name,
      tags,
      params: { only: POD_NETWORK_ADDONS },
    }),
    step('wait-nodes', 'wait', ['pod-network', ...masterIds, ...workerSteps], {
      type: 'nodes',
      name: spec.name,
      tags,
      params: {
        names: [
          ...range(spec.masters).map((i) => names.master(i)),
          ...spec.nodeGroups.flatMap((g) => range(g.count).map((i) => names.worker(g.name, i))),
        ],
        condition: 'Ready',
      },
    }),
  );
  // The cluster's own OpenStack identity, which the managed services' cloud Secrets carry.
  steps.push(credentialStep(spec.name, tags, 'ensure', []));
  steps.push(addonsStep(spec, tags, steps));
  return afterRelease(steps);
}

const CREDENTIAL_STEPS: Record<CredentialPhase, [id: string, kind: StepKind]> = {
  ensure: ['credential', 'ensure'],
  rotate: ['credential:rotate', 'action'],
  retire: ['credential:retire', 'delete'],
  delete: ['delete:credential', 'delete'],
};

function credentialStep(name: string, tags: string[], phase: CredentialPhase, after: string[]): PlanStep {
  const [id, kind] = CREDENTIAL_STEPS[phase];
  return step(id, kind, after, { type: 'credential', name, tags, params: { phase } });
}

/**
 * Only the addons step: a node group's autoscaling turned on or off without a change of size, so
 * cluster-autoscaler is installed or removed (resize's job, under its lock).
 */
export function planAddons(spec: ClusterSpec, clusterId: string): PlanStep[] {
  return [addonsStep(spec, tagsFor(clusterId), [])];
}

/**
 * Replaces the cluster's application credential without downtime: a new one in, the managed
 * services re-applied with it (their pods restart, carrying its id), then the old one deleted.
 */
export function planRotateCredentials(spec: ClusterSpec, clusterId: string): PlanStep[] {
  const tags = tagsFor(clusterId);
  return [
    credentialStep(spec.name, tags, 'rotate', []),
    step('addons', 'action', ['credential:rotate'], { type: 'addons', name: spec.name, tags, params: {} }),
    credentialStep(spec.name, tags, 'retire', ['addons']),
  ];
}

/** Drains `node` (after `after`), then deletes its server and its Node object. */
function removeNode(
  node: string,
  tags: string[],
  server: ServerParams,
  after: readonly string[],
  deadNode = false,
  beforeDelete: readonly string[] = [],
): PlanStep[] {
  return [
    step(`drain:${node}`, 'action', [...after], {
      type: 'node-drain',
      name: node,
      tags,
      params: { node, ...(deadNode ? { deadNode } : {}) },
    }),
    step(`delete-server:${node}`, 'delete', [`drain:${node}`, ...beforeDelete], {
      type: 'server',
      name: node,
      tags,
      params: server,
    }),
    step(`delete-node:${node}`, 'action', [`delete-server:${node}`], {
      type: 'node-object',
      name: node,
      tags,
      params: { node },
    }),
  ];
}

/** `remove`'s indexes (highest first), checked against the group's servers and the new count. */
function removedIndexes(
  group: string,
  have: readonly number[],
  newCount: number,
  remove: readonly number[],
): number[] {
  const gone = [...new Set(remove)].sort((a, b) => b - a);
  const missing = gone.filter((i) => !have.includes(i));
  if (missing.length > 0) {
    throw new ConflictError(`node group ${group} has no server at index ${missing.join(', ')}`, {
      code: 'node_not_in_group',
    });
  }
  if (have.length - gone.length !== newCount) {
    throw new InputError(
      `removing ${gone.length} of ${have.length} node(s) leaves ${have.length - gone.length}, not ${newCount}`,
      { field: 'count' },
    );
  }
  return gone;
}

/** A resize plan and the spec the cluster has once it has run. */
export interface ResizePlan {
  readonly spec: ClusterSpec;
  readonly added: readonly number[];
  readonly removed: readonly number[];
  readonly steps: readonly PlanStep[];
}

/**
 * Grows or shrinks one node group to `newCount`. `existing` are the indexes of the group's servers
 * that exist now (from their `kaas-index` metadata). Growing fills the lowest free indexes; shrinking
 * removes the highest first (or exactly the indexes `remove` names: cluster-autoscaler deletes the
 * nodes it chose), draining each node before its server is deleted. Growing refreshes the release
 * TempURL and mints a new join token, since the ones from creation may have expired. A group with
 * autoscaling bounds is never sized outside them (`outside_size_bounds`).
 */
export function planResize(
  spec: ClusterSpec,
  clusterId: string,
  groupName: string,
  newCount: number,
  existing: readonly number[],
  ctx: PlanContext = {},
  remove?: readonly number[],
): ResizePlan {
  const group = spec.nodeGroups.find((g) => g.name === groupName);
  if (!group) {
    throw new InputError(
      `group ${JSON.stringify(groupName)} is not a node group of cluster ${spec.name}; groups: ${spec.nodeGroups.map((g) => g.name).join(', ')}`,
      { field: 'group' },
    );
  }
  if (!Number.isInteger(newCount) || newCount < 0 || newCount > MAX_GROUP_COUNT) {
    throw new InputError(`count must be an integer from 0 to ${MAX_GROUP_COUNT}, got ${String(newCount)}`, {
      field: 'count',
    });
  }
  for (const index of existing) {
    if (!Number.isInteger(index) || index < 0) {
      throw new InputError(`existing indexes must be non-negative integers, got ${String(index)}`, {
        field: 'existing',
      });
    }
  }
  if (group.minSize !== undefined && group.maxSize !== undefined) {
    if (newCount < group.minSize || newCount > group.maxSize) {
      throw new ConflictError(
        `node group ${group.name} of ${spec.name} is autoscaled between minSize ${group.minSize} and maxSize ${group.maxSize}: ${newCount} node(s) is outside that range`,
        { code: 'outside_size_bounds' },
      );
    }
  }
  const tags = tagsFor(clusterId);
  const names = clusterNames(spec.name);
  const have = [...new Set(existing)].sort((a, b) => a - b);
  const added: number[] = [];
  for (let i = 0; have.length + added.length < newCount; i++) {
    if (!have.includes(i)) added.push(i);
  }
  const removed = remove
    ? removedIndexes(group.name, have, newCount, remove)
    : have.length > newCount
      ? have.slice(newCount).reverse()
      : [];
  const steps: PlanStep[] = [];
  if (added.length > 0) {
    steps.push(...artifactSteps(spec, tags, names, ctx));
    steps.push(
      step('join-token', 'action', [], {
        type: 'join-token',
        name: spec.name,
        tags,
        params: { ttlSeconds: ctx.joinTokenTtlSeconds ?? PLAN_DEFAULTS.joinTokenTtlSeconds },
      }),
    );
    const id = `workers:${group.name}`;
    steps.push(
      step(id, 'ensure', ['release-tarball', 'join-token'], {
        type: 'servers',
        name: group.name,
        tags,
        params: workerParams(spec, clusterId, names, group, added),
      }),
    );
    steps.push(
      step('wait-nodes', 'wait', [id], {
        type: 'nodes',
        name: spec.name,
        tags,
        params: { names: added.map((i) => names.worker(group.name, i)), condition: 'Ready' },
      }),
    );
  }
  let previous: string | undefined;
  for (const index of removed) {
    const node = names.worker(group.name, index);
    steps.push(
      ...removeNode(
        node,
        tags,
        workerParams(spec, clusterId, names, group, [index]),
        previous === undefined ? [] : [previous],
      ),
    );
    previous = `delete-node:${node}`;
  }
  const resized: ClusterSpec = {
    ...spec,
    nodeGroups: spec.nodeGroups.map((g) => (g.name === groupName ? { ...g, count: newCount } : g)),
  };
  if (steps.length > 0) steps.push(addonsStep(resized, tags, steps));
  return { spec: resized, added, removed, steps: added.length > 0 ? afterRelease(steps) : steps };
}

/**
 * Auto-healing's replacement of one worker (`node`, a server of `groupName` at `index`), in the
 * order a dead node allows: drain what can be drained, delete its server and Node, then boot a
 * server on the group's lowest free index with the current version's user data and wait for its
 * Node to be Ready. The group keeps its count, so the spec is unchanged. Like resize, the release
 * TempURL and join token are refreshed first (a new server joins).
 */
export function planHeal(
  spec: ClusterSpec,
  clusterId: string,
  groupName: string,
  index: number,
  existing: readonly number[],
  ctx: PlanContext = {},
): PlanStep[] {
  const group = spec.nodeGroups.find((g) => g.name === groupName);
  if (!group) {
    throw new InputError(`group ${JSON.stringify(groupName)} is not a node group of cluster ${spec.name}`, {
      field: 'group',
    });
  }
  if (!existing.includes(index)) {
    throw new ConflictError(`node group ${groupName} of ${spec.name} has no server at index ${index}`, {
      code: 'heal_target_gone',
    });
  }
  const tags = tagsFor(clusterId);
  const names = clusterNames(spec.name);
  let fresh = 0;
  while (existing.includes(fresh)) fresh++;
  const node = names.worker(group.name, index);
  const boot = `heal:${group.name}:${fresh}`;
  return afterRelease([
    ...artifactSteps(spec, tags, names, ctx),
    joinTokenStep(spec, tags, ctx),
    ...removeNode(node, tags, workerParams(spec, clusterId, names, group, [index]), [], true),
    step(boot, 'ensure', ['release-tarball', 'join-token', `delete-node:${node}`], {
      type: 'servers',
      name: group.name,
      tags,
      params: workerParams(spec, clusterId, names, group, [fresh]),
    }),
    step(`heal-ready:${group.name}:${fresh}`, 'wait', [boot], {
      type: 'nodes',
      name: spec.name,
      tags,
      params: { names: [names.worker(group.name, fresh)], condition: 'Ready' },
    }),
  ]);
}

/**
 * Auto-healing's replacement of master `index` (a server of the control plane, whose Node has been
 * not Ready too long), keeping etcd quorum: out of the load balancer and out of etcd first (a dead
 * member cannot hand over, and while it is listed the joining member would make etcd count on four
 * members with only two up), then a master on the lowest free index joins with the cluster's own
 * version, its Node Ready and its etcd member healthy, and only then is the old master drained and
 * its server, Node and port deleted. The healer queues it only for a cluster of three masters whose
 * other two are healthy etcd members (src/cluster/heal.ts); the executors check etcd's quorum again.
 * Refused (`upgrade_not_supported`'s reason) without an Octavia load balancer.
 */
export function planHealMaster(
  spec: ClusterSpec,
  clusterId: string,
  index: number,
  existing: readonly number[],
  ctx: PlanContext = {},
): PlanStep[] {
  if (spec.loadBalancer !== 'octavia') {
    throw new ConflictError(
      `kaas cannot replace a master of ${spec.name}: it has no Octavia load balancer, so its API endpoint is ${clusterNames(spec.name).master(0)}'s own fixed IP`,
      { code: 'heal_not_supported' },
    );
  }
  if (!existing.includes(index)) {
    throw new ConflictError(`the control plane of ${spec.name} has no server at index ${index}`, {
      code: 'heal_target_gone',
    });
  }
  const tags = tagsFor(clusterId);
  const names = clusterNames(spec.name);
  let fresh = 0;
  while (existing.includes(fresh)) fresh++;
  const old = names.master(index);
  const now = [...new Set(existing)].map((i) => names.master(i)).sort();
  const after = [...now.filter((m) => m !== old), names.master(fresh)].sort();
  return afterRelease([
    ...artifactSteps(spec, tags, names, ctx),
    joinTokenStep(spec, tags, ctx),
    ...controlPlaneSetup(spec, names, tags),
    ...leaveEtcd(names, tags, index, ['load-balancer'], now),
    ...joinMaster(spec, clusterId, names, tags, fresh, ['subnet', `etcd-remove:${old}`], after),
    step('delete:kubeadm-certs', 'delete', [`etcd-joined:${names.master(fresh)}`], {
      type: 'kubeadm-certs',
      name: spec.name,
      tags,
      params: {},
    }),
    ...retireMaster(spec, clusterId, names, tags, index, [`etcd-joined:${names.master(fresh)}`], true),
  ]);
}

/** An upgrade plan; `steps` is empty when the check says `none`. */
export interface UpgradePlan {
  readonly check: UpgradeCheck;
  readonly spec: ClusterSpec;
  /** Staging of the new release, the masters' replacement one at a time, then each worker group's. */
  readonly steps: readonly PlanStep[];
}

/** The `kaas-index`es of the servers a cluster has now: its masters and each node group's workers. */
export interface ExistingServers {
  readonly masters: readonly number[];
  readonly groups: Readonly<Record<string, readonly number[]>>;
}

/**
 * Upgrades by replacing nodes, never in place, masters first (kubelets may not be newer than their
 * API servers), the way Cluster API's control-plane provider does: scale up, then down. For each
 * master in turn: a new port and load-balancer member, a server on the lowest free index with the
 * new version's `join-control-plane` user data (kubeadm-config names the new version and a fresh
 * kubeadm-certs Secret was uploaded first), its Node Ready and its etcd member healthy beside every
 * other; then the old master is drained (while its kubelet's own API server still serves), leaves the
 * load balancer and etcd (quorum checked), and its server, port and Node are deleted before the next
 * master starts. Then every worker group rolls in batches of its `maxSurge` (see
 * {@link planWorkerRollout}).
 *
 * Throws InputError (`upgrade_downgrade`, `upgrade_skips_minor`) for unsupported jumps,
 * `upgrade_group_mismatch` when the servers do not match the spec (finish the resize first), and
 * ConflictError `upgrade_not_supported` for a cluster without an Octavia load balancer: there the API
 * endpoint every kubelet, kubeconfig and the API certificate name is master-0's own fixed address,
 * which no replacement master can take over.
 */
export function planUpgrade(
  spec: ClusterSpec,
  clusterId: string,
  toVersion: string,
  existing: ExistingServers,
  ctx: PlanContext = {},
): UpgradePlan {
  const check = validateUpgrade(spec.kubernetesVersion, toVersion);
  if (check.change === 'none') return { check, spec, steps: [] };
  const upgraded: ClusterSpec = { ...spec, kubernetesVersion: check.to };
  const names = clusterNames(spec.name);
  if (spec.loadBalancer !== 'octavia') {
    throw new ConflictError(
      `kaas cannot upgrade ${spec.name}: it has no Octavia load balancer, so its API endpoint (the address every kubelet, kubeconfig and the API certificate name) is ${names.master(0)}'s own fixed IP, and an upgrade replaces every master; only clusters created with loadBalancer=octavia can be upgraded; nothing was queued`,
      { code: 'upgrade_not_supported' },
    );
  }
  const tags = tagsFor(clusterId);
  const masters = replaceMasters(upgraded, clusterId, existing.masters);
  const steps = [
    ...artifactSteps(upgraded, tags, names, ctx),
    joinTokenStep(spec, tags, ctx),
    ...masters.steps,
    ...spec.nodeGroups.flatMap((group) =>
      rollGroup(upgraded, clusterId, group, existing.groups[group.name] ?? [], masters.leaves),
    ),
  ];
  return { check, spec: upgraded, steps: afterRelease([...steps, addonsStep(upgraded, tags, steps)]) };
}

/**
 * The worker half of an upgrade on its own: stage `target`'s release, renew the join token, roll
 * every group onto `target`. planUpgrade runs it after the masters; alone it serves the rollout
 * benchmark and the worker rollout suite, whose single-master clusters have no load balancer.
 */
export function planWorkerRollout(
  target: ClusterSpec,
  clusterId: string,
  groups: Readonly<Record<string, readonly number[]>>,
  ctx: PlanContext = {},
): PlanStep[] {
  const tags = tagsFor(clusterId);
  const steps = [
    ...artifactSteps(target, tags, clusterNames(target.name), ctx),
    joinTokenStep(target, tags, ctx),
    ...target.nodeGroups.flatMap((group) =>
      rollGroup(target, clusterId, group, groups[group.name] ?? [], []),
    ),
  ];
  return afterRelease([...steps, addonsStep(target, tags, steps)]);
}

function joinTokenStep(spec: ClusterSpec, tags: string[], ctx: PlanContext): PlanStep {
  return step('join-token', 'action', [], {
    type: 'join-token',
    name: spec.name,
    tags,
    params: { ttlSeconds: ctx.joinTokenTtlSeconds ?? PLAN_DEFAULTS.joinTokenTtlSeconds },
  });
}

/**
 * The masters' replacement onto `spec` (the target), one at a time; `leaves` are the steps the
 * workers' rollout waits for. The network, subnet, load balancer and server group must exist
 * (`verify`): an upgrade never re-creates them.
 */
function replaceMasters(
  spec: ClusterSpec,
  clusterId: string,
  existing: readonly number[],
): { steps: PlanStep[]; leaves: string[] } {
  const old = [...new Set(existing)].sort((a, b) => a - b);
  if (old.some((i) => !Number.isInteger(i) || i < 0)) {
    throw new InputError(`existing master indexes must be non-negative integers, got ${old.join(', ')}`, {
      field: 'existing',
    });
  }
  if (old.length !== spec.masters) {
    throw new InputError(
      `the control plane of ${spec.name} has ${old.length} master server(s) but its spec says ${spec.masters}; repair it before upgrading`,
      { code: 'upgrade_group_mismatch', field: 'masters' },
    );
  }
  const tags = tagsFor(clusterId);
  const names = clusterNames(spec.name);
  const fresh: number[] = [];
  for (let i = 0; fresh.length < old.length; i++) if (!old.includes(i)) fresh.push(i);
  const steps: PlanStep[] = controlPlaneSetup(spec, names, tags);
  let after: string[] = [];
  for (const [k, index] of old.entries()) {
    const n = fresh[k] as number;
    const oldName = names.master(index);
    const newName = names.master(n);
    // The masters kaas can reach etcd through while this one is replaced: both of the pair.
    const masters = [...fresh.slice(0, k + 1), ...old.slice(k)].map((i) => names.master(i)).sort();
    const [drain, ...retire] = retireMaster(
      spec,
      clusterId,
      names,
      tags,
      index,
      [`etcd-joined:${newName}`],
      false,
      [`etcd-remove:${oldName}`],
    );
    steps.push(
      ...joinMaster(spec, clusterId, names, tags, n, ['subnet', ...after], masters),
      // Drained while its etcd member still serves: a kubeadm master's kubelet talks to its own
      // API server, which stops with the member, and pods on a node whose kubelet cannot report
      // never finish terminating (the drain would time out). Its server goes once etcd let it go.
      drain as PlanStep,
      // Out of the pool first, so no client reaches an API server whose etcd member is gone.
      ...leaveEtcd(names, tags, index, [`drain:${oldName}`], masters),
      ...retire,
    );
    after = [`delete-node:${oldName}`, `delete-port:${oldName}`];
  }
  const last = names.master(fresh[old.length - 1] as number);
  // Every master that needed the shared certificates has joined: they leave the cluster.
  steps.push(
    step('delete:kubeadm-certs', 'delete', [`etcd-joined:${last}`], {
      type: 'kubeadm-certs',
      name: spec.name,
      tags,
      params: {},
    }),
  );
  // What `kubeadm upgrade apply` does besides the static pods, once every API server is new: kube-proxy
  // may not be newer than the API servers, and a joining master's kubeadm touches neither add-on.
  steps.push(
    step('kubeadm-addons', 'action', after, {
      type: 'kubeadm-addons',
      name: spec.name,
      tags,
      params: {
        kubernetesVersion: spec.kubernetesVersion,
        coreDns: releaseForPatch(spec.kubernetesVersion)?.images.coredns ?? '',
      },
    }),
  );
  return { steps, leaves: [...after, 'delete:kubeadm-certs'] };
}

/**
 * What every master replacement starts from: the cluster's network, subnet, load balancer and
 * server group found as they are (`verify`: never re-created), kubeadm-config naming the version the
 * joining masters run, and the kubeadm-certs Secret they open with the job's certificate key.
 */
function controlPlaneSetup(spec: ClusterSpec, names: ClusterNames, tags: string[]): PlanStep[] {
  return [
    step('network', 'verify', [], { type: 'network', name: names.network, tags, params: {} }),
    step('subnet', 'verify', ['network'], {
      type: 'subnet',
      name: names.subnet,
      tags,
      params: { network: names.network, cidr: spec.network.nodeCidr, ipVersion: 4 },
    }),
    step('load-balancer', 'verify', [], apiLoadBalancer(names, tags)),
    step('server-group', 'verify', [], {
      type: 'server-group',
      name: names.serverGroupMasters,
      tags,
      params: { policy: 'soft-anti-affinity' },
    }),
    // A joining master's kubeadm reads the cluster's ClusterConfiguration: it must name its version.
    step('kubeadm-config', 'action', ['release-tarball'], {
      type: 'kubeadm-config',
      name: spec.name,
      tags,
      params: { kubernetesVersion: spec.kubernetesVersion },
    }),
    step('kubeadm-certs', 'action', ['join-token'], {
      type: 'kubeadm-certs',
      name: spec.name,
      tags,
      params: {},
    }),
  ];
}

/**
 * Master `n` joins (after `after`): its port and load-balancer member, its server with
 * `join-control-plane` user data, its Node Ready, then its etcd member started and healthy beside
 * every other (etcd reached through `masters`).
 */
function joinMaster(
  spec: ClusterSpec,
  clusterId: string,
  names: ClusterNames,
  tags: string[],
  n: number,
  after: readonly string[],
  masters: string[],
): PlanStep[] {
  const name = names.master(n);
  return [
    step(`master-port-${n}`, 'ensure', [...after], {
      type: 'port',
      name: names.masterPort(n),
      tags,
      params: { network: names.network, subnet: names.subnet, securityGroups: [names.securityGroupMaster] },
    }),
    step(`lb-member-${n}`, 'ensure', ['load-balancer', `master-port-${n}`], {
      type: 'lb-member',
      name: names.masterPort(n),
      tags,
      params: { loadBalancer: names.apiLoadBalancer, port: names.masterPort(n) },
    }),
    step(
      `master-${n}`,
      'ensure',
      [
        `master-port-${n}`,
        `lb-member-${n}`,
        'server-group',
        'release-tarball',
        'join-token',
        'kubeadm-config',
        'kubeadm-certs',
      ],
      { type: 'server', name, tags, params: masterParams(spec, clusterId, names, n, 'join-control-plane') },
    ),
    step(`master-ready:${name}`, 'wait', [`master-${n}`], {
      type: 'nodes',
      name: spec.name,
      tags,
      params: { names: [name], condition: 'Ready' },
    }),
    step(`etcd-joined:${name}`, 'wait', [`master-ready:${name}`], {
      type: 'etcd-member',
      name,
      tags,
      params: { member: name, masters },
    }),
  ];
}

/**
 * Master `index` leaves (after `after`): out of the API load balancer's pool first, so no client
 * reaches an API server whose etcd member is gone, then out of etcd (quorum checked).
 */
function leaveEtcd(
  names: ClusterNames,
  tags: string[],
  index: number,
  after: readonly string[],
  masters: string[],
): PlanStep[] {
  const name = names.master(index);
  return [
    step(`delete-lb-member:${name}`, 'delete', [...after], {
      type: 'lb-member',
      name: names.masterPort(index),
      tags,
      params: { loadBalancer: names.apiLoadBalancer, port: names.masterPort(index) },
    }),
    step(`etcd-remove:${name}`, 'delete', [`delete-lb-member:${name}`], {
      type: 'etcd-member',
      name,
      tags,
      params: { member: name, masters },
    }),
  ];
}

/**
 * Master `index` is drained (after `after`) and its server, Node and port deleted (its server
 * also after `beforeDelete`).
 */
function retireMaster(
  spec: ClusterSpec,
  clusterId: string,
  names: ClusterNames,
  tags: string[],
  index: number,
  after: readonly string[],
  deadNode = false,
  beforeDelete: readonly string[] = [],
): PlanStep[] {
  const name = names.master(index);
  const params = masterParams(spec, clusterId, names, index, 'join-control-plane');
  return [
    ...removeNode(name, tags, params, after, deadNode, beforeDelete),
    step(`delete-port:${name}`, 'delete', [`delete-server:${name}`], {
      type: 'port',
      name: names.masterPort(index),
      tags,
      params: { network: names.network, subnet: names.subnet, securityGroups: [names.securityGroupMaster] },
    }),
  ];
}

/**
 * One worker group's rolling replacement onto `spec` (the target), after `release-tarball`,
 * `join-token` and `after` (the masters' replacement).
 */
function rollGroup(
  spec: ClusterSpec,
  clusterId: string,
  group: NodeGroup,
  existing: readonly number[],
  first: readonly string[],
): PlanStep[] {
  const old = [...new Set(existing)].sort((a, b) => a - b);
  if (old.some((i) => !Number.isInteger(i) || i < 0)) {
    throw new InputError(`existing indexes must be non-negative integers, got ${old.join(', ')}`, {
      field: 'existing',
    });
  }
  if (old.length !== group.count) {
    throw new InputError(
      `node group ${group.name} has ${old.length} server(s) but its spec says ${group.count}; resize it to ${group.count} first, then upgrade`,
      { code: 'upgrade_group_mismatch', field: 'nodeGroups' },
    );
  }
  const tags = tagsFor(clusterId);
  const names = clusterNames(spec.name);
  const fresh: number[] = [];
  for (let i = 0; fresh.length < old.length; i++) if (!old.includes(i)) fresh.push(i);
  const surge = Math.max(1, group.maxSurge ?? 1);
  const steps: PlanStep[] = [];
  let after = ['release-tarball', 'join-token', ...first];
  for (let from = 0, batch = 0; from < old.length; from += surge, batch++) {
    const added = fresh.slice(from, from + surge);
    const boot = `roll:${group.name}:${batch}`;
    const ready = `roll-ready:${group.name}:${batch}`;
    steps.push(
      step(boot, 'ensure', after, {
        type: 'servers',
        name: group.name,
        tags,
        params: workerParams(spec, clusterId, names, group, added),
      }),
      step(ready, 'wait', [boot], {
        type: 'nodes',
        name: spec.name,
        tags,
        params: { names: added.map((i) => names.worker(group.name, i)), condition: 'Ready' },
      }),
    );
    after = [];
    for (const index of old.slice(from, from + surge)) {
      const node = names.worker(group.name, index);
      steps.push(...removeNode(node, tags, workerParams(spec, clusterId, names, group, [index]), [ready]));
      after.push(`delete-server:${node}`);
    }
  }
  return steps;
}

/** What garbage collection needs beyond the id: resources Nova and Swift cannot tag. */
export interface DeleteRef {
  /** Cluster name, for the server group, keypair and container names. */
  readonly name: string;
  /** True when kaas uploaded the keypair (spec had sshPublicKey); a user's own key is kept. */
  readonly ownsKeypair: boolean;
  /** Also delete every PersistentVolumeClaim (and so, through CSI, its volume); off by default. */
  readonly deleteVolumes?: boolean;
  /** Keep the Cinder volumes Cinder CSI made for the cluster (swept by default). */
  readonly keepVolumes?: boolean;
  /** Keep the etcd-backup, Velero and registry Swift containers (deleted by default). */
  readonly keepBackups?: boolean;
}

const SWEEP_ORDER: readonly SweepType[] = [
  'server',
  // Cinder CSI's volumes, once the servers they were attached to are gone.
  'volume',
  'floating-ip',
  'port',
  'load-balancer',
  'router-interface',
  'router',
  'subnet',
  'network',
  'security-group',
];

/**
 * First, through the cluster's API when it answers, the Services of type LoadBalancer and (only
 * with `deleteVolumes`) the PersistentVolumeClaims, so their controllers release what they made in
 * the cloud. Then everything tagged `kaas-cluster=<clusterId>`, in the order dependencies allow
 * (servers first, Cinder CSI's volumes unless `keepVolumes`, networks after their ports and routers),
 * then the untaggable named resources: keypair (only kaas's own), server group, artifacts container
 * and, unless `keepBackups`, the etcd-backup, Velero and registry containers, each with its objects. Each step is a
 * no-op when nothing is left, so a failed delete is simply re-run.
 */
export function planDelete(clusterId: string, ref: DeleteRef): PlanStep[] {
  const tags = tagsFor(clusterId);
  const names = clusterNames(ref.name);
  const steps: PlanStep[] = [];
  let previous: string[] = [];
  const cleanups: KubeCleanup[] = [
    'load-balancer-services',
    ...(ref.deleteVolumes ? (['persistent-volume-claims'] as const) : []),
  ];
  for (const objects of cleanups) {
    const id = `delete:${objects}`;
    steps.push(
      step(id, 'delete', previous, { type: 'kube-objects', name: objects, tags, params: { objects } }),
    );
    previous = [id];
  }
  for (const resourceType of SWEEP_ORDER) {
    if (resourceType === 'volume' && ref.keepVolumes) continue;
    const id = `sweep:${resourceType}`;
    steps.push(
      step(id, 'sweep', previous, {
        type: 'cluster-resources',
        name: resourceType,
        tags,
        params: { resourceType },
      }),
    );
    previous = [id];
  }
  if (ref.ownsKeypair) {
    steps.push(
      step('delete:keypair', 'delete', previous, { type: 'keypair', name: names.keypair, tags, params: {} }),
    );
    previous = ['delete:keypair'];
  }
  steps.push(
    step('delete:server-group', 'delete', previous, {
      type: 'server-group',
      name: names.serverGroupMasters,
      tags,
      params: { policy: 'soft-anti-affinity' },
    }),
  );
  steps.push(
    step('delete:artifacts', 'delete', ['delete:server-group'], {
      type: 'container',
      name: names.artifactsContainer,
      tags,
      params: {},
    }),
  );
  if (!ref.keepBackups) {
    let before = 'delete:artifacts';
    for (const name of names.backupContainers) {
      const id = `delete:${name}`;
      steps.push(step(id, 'delete', [before], { type: 'container', name, tags, params: {} }));
      before = id;
    }
  }
  // Last: the cloud controller and Cinder CSI act with it while the cleanup above runs.
  steps.push(credentialStep(ref.name, tags, 'delete', [steps.at(-1)!.id]));
  return steps;
}
