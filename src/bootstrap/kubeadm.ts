/**
 * kubeadm configuration documents for each node role, in the config API the version catalogue
 * names (v1beta4: extra args as `{name, value}` lists). The node's IP on the overlay interface is
 * not known until boot, so it is written as NODE_IP_PLACEHOLDER and substituted by the bootstrap
 * script. etcd, CoreDNS and pause images are left to kubeadm, which picks its release's own, from
 * the cluster's image repository when it has one.
 */
import type { BootstrapInput } from './input.ts';
import {
  DEFAULT_WEBHOOK_CACHE_TTL,
  KAAS_CONFIG_DIR,
  WEBHOOK_KUBECONFIG_PATH,
  kubernetesRelease,
} from './input.ts';

/** Replaced with the overlay interface address by the bootstrap script. */
export const NODE_IP_PLACEHOLDER = '__KAAS_NODE_IP__';
/** Path of the AuthenticationConfiguration on masters (anonymous access limited to listed paths). */
export const AUTHENTICATION_CONFIG_PATH = `${KAAS_CONFIG_DIR}/authentication-config.yaml`;
const CRI_SOCKET = 'unix:///run/containerd/containerd.sock';

type Args = [string, string][];

function args(pairs: Args): { name: string; value: string }[] {
  return pairs.map(([name, value]) => ({ name, value }));
}

/** kube-apiserver flags kaas sets (in order). */
export function apiServerArgs(input: BootstrapInput): Args {
  return [
    ['authorization-mode', 'Node,RBAC'],
    ['authentication-token-webhook-config-file', WEBHOOK_KUBECONFIG_PATH],
    ['authentication-token-webhook-version', 'v1'],
    ['authentication-token-webhook-cache-ttl', input.webhook?.cacheTtl ?? DEFAULT_WEBHOOK_CACHE_TTL],
    // Anonymous requests reach only the paths the authentication config lists.
    ['authentication-config', AUTHENTICATION_CONFIG_PATH],
  ];
}

function nodeRegistration(input: BootstrapInput): Record<string, unknown> {
  const labels = Object.entries(input.labels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  // The cluster's cloud controller (src/addons/cloudcontroller.ts) initializes every Node: its
  // providerID, its addresses from Nova, and the removal of the uninitialized taint this flag makes
  // the kubelet register with. kube-apiserver (1.35 to 1.37) has no such flag, and
  // kube-controller-manager runs no cloud loop (and only accepts an empty or
  // `external` provider), so they get none, as upstream asks of clusters with a cloud controller.
  const kubelet: Args = [
    ['cloud-provider', 'external'],
    ['node-ip', NODE_IP_PLACEHOLDER],
  ];
  if (labels !== '') kubelet.push(['node-labels', labels]);
  return { name: input.nodeName, criSocket: CRI_SOCKET, kubeletExtraArgs: args(kubelet) };
}

/** The documents of kubeadm's `--config` file for this node, in file order. */
export function kubeadmDocuments(input: BootstrapInput): Record<string, unknown>[] {
  const { spec } = input;
  const apiVersion = kubernetesRelease(spec).kubeadmApiVersion;
  const localEndpoint = { advertiseAddress: NODE_IP_PLACEHOLDER, bindPort: 6443 };
  if (input.role === 'init') {
    return [
      {
        apiVersion,
        kind: 'InitConfiguration',
        bootstrapTokens: [
          {
            token: input.join.token,
            ttl: '24h0m0s',
            usages: ['signing', 'authentication'],
            groups: ['system:bootstrappers:kubeadm:default-node-token'],
          },
        ],
        certificateKey: input.join.certificateKey,
        localAPIEndpoint: localEndpoint,
        nodeRegistration: nodeRegistration(input),
      },
      {
        apiVersion,
        kind: 'ClusterConfiguration',
        clusterName: spec.name,
        kubernetesVersion: `v${spec.kubernetesVersion}`,
        controlPlaneEndpoint: input.controlPlaneEndpoint,
        ...(spec.imageRepository === undefined ? {} : { imageRepository: spec.imageRepository }),
        networking: {
          dnsDomain: 'cluster.local',
          podSubnet: spec.network.podCidr,
          serviceSubnet: spec.network.serviceCidr,
        },
        apiServer: {
          certSANs: [...(input.certSANs ?? [])],
          extraArgs: args(apiServerArgs(input)),
          extraVolumes: [
            {
              name: 'kaas-config',
              hostPath: KAAS_CONFIG_DIR,
              mountPath: KAAS_CONFIG_DIR,
              readOnly: true,
              pathType: 'Directory',
            },
          ],
        },
      },
      {
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        kind: 'KubeletConfiguration',
        cgroupDriver: 'systemd',
        clusterDNS: [spec.network.dnsIp],
        clusterDomain: 'cluster.local',
      },
    ];
  }
  return [
    {
      apiVersion,
      kind: 'JoinConfiguration',
      discovery: {
        bootstrapToken: {
          apiServerEndpoint: input.controlPlaneEndpoint,
          token: input.join.token,
          caCertHashes: [input.join.caCertHash],
        },
      },
      nodeRegistration: nodeRegistration(input),
      ...(input.role === 'join-control-plane'
        ? { controlPlane: { certificateKey: input.join.certificateKey, localAPIEndpoint: localEndpoint } }
        : {}),
    },
  ];
}
