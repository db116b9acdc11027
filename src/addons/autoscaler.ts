import type { ResolvedContext } from './context.ts';
import { deployment, resources, type KubernetesObject } from './objects.ts';
import { namespacedRole, serviceIdentity } from './rbac-helpers.ts';

const ADDON = 'cluster-autoscaler';
const NS = 'kube-system';
/** Name of the Deployment, its ServiceAccount, ClusterRole and Role. */
export const CLUSTER_AUTOSCALER = 'cluster-autoscaler';
/**
 * The Secret kaas writes (steps/addons.ts): `cloud-config` (the externalgrpc provider's settings),
 * `ca.crt` (kaas's server CA), `tls.crt`/`tls.key` (the client certificate kaas issued the cluster).
 */
export const AUTOSCALER_SECRET = 'cluster-autoscaler-externalgrpc';
/** Where the autoscaler reads that Secret. */
export const AUTOSCALER_CONFIG_DIR = '/etc/kaas-autoscaler';

/** The externalgrpc cloud-config (upstream's keys: address, cert, key, cacert) naming files of the Secret. */
export function autoscalerCloudConfig(address: string): string {
  return [
    `address: "${address}"`,
    `cert: "${AUTOSCALER_CONFIG_DIR}/tls.crt"`,
    `key: "${AUTOSCALER_CONFIG_DIR}/tls.key"`,
    `cacert: "${AUTOSCALER_CONFIG_DIR}/ca.crt"`,
    '',
  ].join('\n');
}

/**
 * cluster-autoscaler with its `externalgrpc` cloud provider, which is kaas itself: the node groups,
 * their bounds and every scale-up or node deletion are asked of kaas over mutual TLS, and kaas
 * runs them as resize jobs. On the control plane, so scaling down never removes the node it runs
 * on. Its rules are upstream's example manifest's (events, evictions, Node updates for its taints,
 * reads of what decides whether a pod fits or a node may go, its lease and status ConfigMap).
 */
export function clusterAutoscalerAddon(ctx: ResolvedContext): KubernetesObject[] {
  const read = ['watch', 'list', 'get'];
  return [
    ...serviceIdentity(ADDON, CLUSTER_AUTOSCALER, NS, [
      { apiGroups: [''], resources: ['events', 'endpoints'], verbs: ['create', 'patch'] },
      { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
      { apiGroups: [''], resources: ['pods/status'], verbs: ['update'] },
      {
        apiGroups: [''],
        resources: ['endpoints'],
        resourceNames: [CLUSTER_AUTOSCALER],
        verbs: ['get', 'update'],
      },
      { apiGroups: [''], resources: ['nodes'], verbs: ['watch', 'list', 'get', 'update'] },
      {
        apiGroups: [''],
        resources: [
          'namespaces',
          'pods',
          'services',
          'replicationcontrollers',
          'persistentvolumeclaims',
          'persistentvolumes',
        ],
        verbs: read,
      },
      { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['watch', 'list'] },
      { apiGroups: ['apps'], resources: ['statefulsets', 'replicasets', 'daemonsets'], verbs: read },
      {
        apiGroups: ['storage.k8s.io'],
        resources: ['storageclasses', 'csinodes', 'csidrivers', 'csistoragecapacities'],
        verbs: read,
      },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: [CLUSTER_AUTOSCALER],
        verbs: ['get', 'update'],
      },
    ]),
    ...namespacedRole(ADDON, CLUSTER_AUTOSCALER, NS, [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'list', 'watch'] },
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: ['cluster-autoscaler-status', 'cluster-autoscaler-priority-expander'],
        verbs: ['delete', 'get', 'update', 'watch'],
      },
    ]),
    ...deployment({
      addon: ADDON,
      name: CLUSTER_AUTOSCALER,
      namespace: NS,
      replicas: 1,
      serviceAccountName: CLUSTER_AUTOSCALER,
      priorityClassName: 'system-cluster-critical',
      nodeSelector: { 'node-role.kubernetes.io/control-plane': '' },
      tolerations: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
      securityContext: { runAsNonRoot: true, runAsUser: 65532 },
      containers: [
        {
          name: CLUSTER_AUTOSCALER,
          image: ctx.images.clusterAutoscaler,
          command: [
            './cluster-autoscaler',
            '--v=1',
            '--cloud-provider=externalgrpc',
            `--cloud-config=${AUTOSCALER_CONFIG_DIR}/cloud-config`,
            '--logtostderr=true',
          ],
          resources: resources('100m', '300Mi', '100m', '300Mi'),
          volumeMounts: [{ name: 'externalgrpc', mountPath: AUTOSCALER_CONFIG_DIR, readOnly: true }],
        },
      ],
      volumes: [{ name: 'externalgrpc', secret: { secretName: AUTOSCALER_SECRET, defaultMode: 0o400 } }],
    }),
  ];
}
