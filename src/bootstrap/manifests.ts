/**
 * Kubernetes objects a master writes to disk during bootstrap: the cluster-admin binding, the
 * apiserver AuthenticationConfiguration, and flannel on the overlay interface. Plain objects,
 * serialised with stable key order by the callers.
 */
import type { ClusterSpec } from '../cluster/spec.ts';
import { DEFAULT_IMAGES } from './input.ts';

/**
 * Binds the Keystone admin role to cluster-admin. The token webhook reports role ids as groups,
 * so the subject is a Group named by the role id.
 */
export function clusterAdminBinding(adminRoleId: string): Record<string, unknown> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'kaas:cluster-admin', labels: { 'app.kubernetes.io/managed-by': 'kaas' } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: adminRoleId }],
  };
}

/**
 * Paths anonymous requests may reach (1.32+). Health endpoints for load balancers and probes, and
 * the kube-public `cluster-info` ConfigMap: `kubeadm join` token discovery reads it anonymously
 * (it holds only the CA and endpoint, signed with the join token).
 */
export const ANONYMOUS_PATHS = [
  '/livez',
  '/readyz',
  '/healthz',
  '/api/v1/namespaces/kube-public/configmaps/cluster-info',
] as const;

/** Structured authentication config limiting anonymous access to ANONYMOUS_PATHS. */
export function authenticationConfiguration(): Record<string, unknown> {
  return {
    apiVersion: 'apiserver.config.k8s.io/v1beta1',
    kind: 'AuthenticationConfiguration',
    anonymous: { enabled: true, conditions: ANONYMOUS_PATHS.map((path) => ({ path })) },
  };
}

/** flannel (vxlan, kube subnet manager) bound to the cloud network interface. */
export function flannelManifests(
  spec: ClusterSpec,
  images: { flannel?: string; flannelCniPlugin?: string } = {},
): Record<string, unknown>[] {
  const flannelImage = images.flannel ?? DEFAULT_IMAGES.flannel;
  const cniImage = images.flannelCniPlugin ?? DEFAULT_IMAGES.flannelCniPlugin;
  const namespace = 'kube-flannel';
  const labels = { app: 'flannel', 'k8s-app': 'flannel' };
  const cniConf = {
    name: 'cbr0',
    cniVersion: '0.3.1',
    plugins: [
      { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  const netConf = { Network: spec.network.podCidr, EnableNFTables: false, Backend: { Type: 'vxlan' } };
  const hostPath = (name: string, path: string, type?: string) => ({
    name,
    hostPath: type === undefined ? { path } : { path, type },
  });
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: namespace,
        labels: { 'k8s-app': 'flannel', 'pod-security.kubernetes.io/enforce': 'privileged' },
      },
    },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'flannel', namespace, labels } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'flannel', labels },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'flannel', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flannel' },
      subjects: [{ kind: 'ServiceAccount', name: 'flannel', namespace }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-flannel-cfg', namespace, labels },
      data: {
        'cni-conf.json': `${JSON.stringify(cniConf, null, 2)}\n`,
        'net-conf.json': `${JSON.stringify(netConf, null, 2)}\n`,
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'kube-flannel-ds', namespace, labels },
      spec: {
        selector: { matchLabels: { app: 'flannel' } },
        template: {
          metadata: { labels },
          spec: {
            hostNetwork: true,
            priorityClassName: 'system-node-critical',
            serviceAccountName: 'flannel',
            tolerations: [{ operator: 'Exists', effect: 'NoSchedule' }],
            initContainers: [
              {
                name: 'install-cni-plugin',
                image: cniImage,
                command: ['cp'],
                args: ['-f', '/flannel', '/opt/cni/bin/flannel'],
                volumeMounts: [{ name: 'cni-plugin', mountPath: '/opt/cni/bin' }],
              },
              {
                name: 'install-cni',
                image: flannelImage,
                command: ['cp'],
                args: ['-f', '/etc/kube-flannel/cni-conf.json', '/etc/cni/net.d/10-flannel.conflist'],
                volumeMounts: [
                  { name: 'cni', mountPath: '/etc/cni/net.d' },
                  { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' },
                ],
              },
            ],
            containers: [
              {
                name: 'kube-flannel',
                image: flannelImage,
                command: ['/opt/bin/flanneld'],
                args: ['--ip-masq', '--kube-subnet-mgr', `--iface=${spec.overlayInterface}`],
                resources: { requests: { cpu: '100m', memory: '50Mi' } },
                securityContext: { privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  { name: 'EVENT_QUEUE_DEPTH', value: '5000' },
                ],
                volumeMounts: [
                  { name: 'run', mountPath: '/run/flannel' },
                  { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' },
                  { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
                ],
              },
            ],
            volumes: [
              hostPath('run', '/run/flannel'),
              hostPath('cni-plugin', '/opt/cni/bin'),
              hostPath('cni', '/etc/cni/net.d'),
              { name: 'flannel-cfg', configMap: { name: 'kube-flannel-cfg' } },
              hostPath('xtables-lock', '/run/xtables.lock', 'FileOrCreate'),
            ],
          },
        },
      },
    },
  ];
}
