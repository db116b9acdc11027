import { CLOUD_CONFIG_DIR, credentialPodAnnotations } from './cloudconf.ts';
import type { ResolvedContext } from './context.ts';
import { daemonSet, resources, type KubernetesObject } from './objects.ts';
import { serviceIdentity } from './rbac-helpers.ts';
import { CLOUD_CONFIG_SECRET } from './storage.ts';

const ADDON = 'cloud-controller';
const NS = 'kube-system';
/** Name of the DaemonSet, its ServiceAccount and ClusterRole. */
export const CLOUD_CONTROLLER = 'openstack-cloud-controller-manager';

/**
 * The taint a kubelet with `--cloud-provider=external` registers its Node with; the cloud controller
 * removes it once it has initialized the Node from its server.
 */
export const UNINITIALIZED_TAINT = {
  key: 'node.cloudprovider.kubernetes.io/uninitialized',
  value: 'true',
  effect: 'NoSchedule' as const,
};

/**
 * The flags of openstack-cloud-controller-manager. `--cluster-name` is the kaas cluster id: the
 * cloud controller names its load balancers `kube_service_<cluster id>_<namespace>_<service>` and
 * tags them with it, which is how delete finds whatever it made.
 */
export function cloudControllerArgs(clusterId: string, configDir = CLOUD_CONFIG_DIR): string[] {
  return [
    '--v=1',
    `--cluster-name=${clusterId}`,
    `--cloud-config=${configDir}/cloud.conf`,
    '--cloud-provider=openstack',
    '--use-service-account-credentials=false',
    '--bind-address=127.0.0.1',
  ];
}

/**
 * openstack-cloud-controller-manager on the control-plane nodes, reading the `cloud.conf` kaas
 * renders (src/addons/cloudconf.ts) from the Secret it shares with Cinder CSI. Kubelets run with
 * `--cloud-provider=external` (src/bootstrap/kubeadm.ts), so until this runs new Nodes keep the
 * `uninitialized` taint and have no providerID (it sets `openstack:///<server id>`); it
 * tolerates that taint and the control-plane's, and uses the host network (no CNI needed yet).
 * Its rules are upstream's `system:cloud-controller-manager` role.
 */
export function cloudControllerAddon(ctx: ResolvedContext): KubernetesObject[] {
  return [
    ...serviceIdentity(ADDON, CLOUD_CONTROLLER, NS, [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch', 'update'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['*'] },
      { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
      { apiGroups: [''], resources: ['services'], verbs: ['list', 'patch', 'update', 'watch'] },
      { apiGroups: [''], resources: ['services/status'], verbs: ['patch'] },
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['create', 'get'] },
      { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
      { apiGroups: [''], resources: ['persistentvolumes'], verbs: ['*'] },
      { apiGroups: [''], resources: ['endpoints'], verbs: ['create', 'get', 'list', 'watch', 'update'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['list', 'get', 'watch'] },
    ]),
    ...daemonSet({
      addon: ADDON,
      name: CLOUD_CONTROLLER,
      namespace: NS,
      serviceAccountName: CLOUD_CONTROLLER,
      priorityClassName: 'system-cluster-critical',
      hostNetwork: true,
      nodeSelector: { 'node-role.kubernetes.io/control-plane': '' },
      tolerations: [
        { ...UNINITIALIZED_TAINT },
        { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
      ],
      securityContext: { runAsUser: 1001 },
      ...credentialPodAnnotations(ctx),
      containers: [
        {
          name: CLOUD_CONTROLLER,
          image: ctx.images.cloudController,
          args: [`/bin/${CLOUD_CONTROLLER}`, ...cloudControllerArgs(ctx.clusterId)],
          resources: resources('100m', '64Mi', '500m', '256Mi'),
          volumeMounts: [{ name: 'cloud-config', mountPath: CLOUD_CONFIG_DIR, readOnly: true }],
        },
      ],
      volumes: [{ name: 'cloud-config', secret: { secretName: CLOUD_CONFIG_SECRET } }],
    }),
  ];
}
