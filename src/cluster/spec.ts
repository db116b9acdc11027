/**
 * The shape of a cluster as the user asks for it. Everything the provisioner and the bootstrap
 * renderers need is derived from a validated `ClusterSpec` (see validate.ts), so this file holds
 * only types and the few facts about them that other modules branch on.
 */

/** Operating system family of the node image; decides the bootstrap format. */
export type OsFamily = 'ubuntu' | 'debian' | 'flatcar';

/** How the nodes are bootstrapped: cloud-init user data or an Ignition config. */
export type BootstrapFormat = 'cloud-init' | 'ignition';

/** A homogeneous set of worker nodes. */
export interface NodeGroup {
  readonly name: string;
  readonly count: number;
  readonly flavor: string;
  readonly image: string;
  /** Kubernetes node labels the kubelet registers with (keys sorted). */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Replacement servers a rolling upgrade boots at once before removing as many old ones (Cluster
   * API's maxSurge with maxUnavailable 0). validateSpec sets it (default 1); specs stored before it
   * existed lack it and mean 1.
   */
  readonly maxSurge?: number;
  /** Auto-healing of this group (default on, when the cluster's `autoHeal` is on); see heal.ts. */
  readonly autoHeal?: boolean;
  /** How long a Node may be NotReady (or Unknown) before it is replaced; default 300 s. */
  readonly unhealthyAfterSeconds?: number;
  /** Above this share of the group NotReady at once nothing is replaced; default 40 %. */
  readonly maxUnhealthyPercent?: number;
  /**
   * Fewest nodes cluster-autoscaler may shrink the group to (absent: the group is not autoscaled).
   * validateSpec sets both bounds or neither, with minSize ≤ count ≤ maxSize.
   */
  readonly minSize?: number;
  /** Most nodes cluster-autoscaler may grow the group to; `maxSize > minSize` makes it autoscaled. */
  readonly maxSize?: number;
}

/** Whether cluster-autoscaler manages `group` (its bounds leave room to scale). */
export function isAutoscaled(group: NodeGroup): boolean {
  return group.minSize !== undefined && group.maxSize !== undefined && group.maxSize > group.minSize;
}

/** The cluster's address plan (IPv4). */
export interface ClusterNetwork {
  /** Neutron subnet the servers sit on. */
  readonly nodeCidr: string;
  /** flannel's overlay range; each node gets a /24 of it. */
  readonly podCidr: string;
  readonly serviceCidr: string;
  /** ClusterIP of CoreDNS: kubeadm pins it to the 10th address of serviceCidr. */
  readonly dnsIp: string;
}

/** A validated, normalised cluster description (produced by `validateSpec`). */
export interface ClusterSpec {
  /** DNS-1123 label, at most 40 characters, so derived resource names stay short. */
  readonly name: string;
  /** Full version without a leading `v` (`major.minor.patch`), one the version catalogue lists. */
  readonly kubernetesVersion: string;
  readonly masters: 1 | 3;
  readonly masterFlavor: string;
  /** Glance image name or id used for masters (and as the node group default). */
  readonly image: string;
  readonly os: OsFamily;
  readonly nodeGroups: readonly NodeGroup[];
  readonly network: ClusterNetwork;
  /** Interface flannel binds its vxlan to (the cloud network); `eth2` by default. */
  readonly overlayInterface: string;
  /** An existing Nova keypair to inject; kaas never deletes it. */
  readonly sshKeyName?: string;
  /** A public key kaas uploads as its own keypair (and deletes with the cluster). */
  readonly sshPublicKey?: string;
  /** Neutron external network (name or id) for the router gateway and floating IPs. */
  readonly externalNetwork: string;
  /** Base domain under which ingress hostnames are published. */
  readonly dnsDomain: string;
  /** Keystone role id whose holders become cluster-admin (an RBAC Group of that name). */
  readonly adminRoleId: string;
  /** `octavia` puts the API behind a load balancer; required with 3 masters. */
  readonly loadBalancer: 'octavia' | 'none';
  /** The one switch for auto-healing the whole cluster (default on; absent in older specs = on). */
  readonly autoHeal?: boolean;
  /** How long a master's Node is not Ready before it is replaced (three masters only); see heal.ts. */
  readonly masterUnhealthyAfterSeconds?: number;
  /**
   * Registry (and path) every image of the cluster comes from instead of its upstream registry:
   * kubeadm's (control plane, etcd, CoreDNS, kube-proxy, pause) and the managed services'. Absent =
   * upstream registries. Set at create (default the operator's KAAS_IMAGE_REPOSITORY) and kept.
   */
  readonly imageRepository?: string;
}

/** What the caller may omit or pass loosely: validateSpec fills the derivable fields. */
export interface ClusterSpecInput {
  name?: unknown;
  kubernetesVersion?: unknown;
  masters?: unknown;
  masterFlavor?: unknown;
  image?: unknown;
  os?: unknown;
  nodeGroups?: unknown;
  network?: unknown;
  overlayInterface?: unknown;
  sshKeyName?: unknown;
  sshPublicKey?: unknown;
  externalNetwork?: unknown;
  dnsDomain?: unknown;
  adminRoleId?: unknown;
  loadBalancer?: unknown;
  autoHeal?: unknown;
  masterUnhealthyAfterSeconds?: unknown;
  imageRepository?: unknown;
}

/** Cloud-init for Debian/Ubuntu images, Ignition for Flatcar. */
export function bootstrapFormatFor(os: OsFamily): BootstrapFormat {
  return os === 'flatcar' ? 'ignition' : 'cloud-init';
}
