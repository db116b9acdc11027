import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ResolvedContext } from './context.ts';
import { daemonSet, meta, resources, typed, type KubernetesObject, type ObjectRef } from './objects.ts';
import { serviceIdentity } from './rbac-helpers.ts';

const ADDON = 'networking';
const NS = 'kube-system';

/**
 * What master-0's bootstrap script applied with `kubectl apply` before this addon became flannel's
 * only owner: a second flannel DaemonSet in its own namespace, and a `flannel` ClusterRole and
 * ClusterRoleBinding of the same names as this addon's. The applier deletes them from clusters that
 * still have them (the same-named cluster RBAC before applying this addon's, the rest once this
 * addon's DaemonSet is ready), so a cluster never runs two flannels or a binding two writers fight
 * over. Deleting the Namespace also takes its ServiceAccount and ConfigMap.
 */
export const BOOTSTRAP_FLANNEL: readonly ObjectRef[] = [
  { apiVersion: 'apps/v1', kind: 'DaemonSet', namespace: 'kube-flannel', name: 'kube-flannel-ds' },
  { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'kube-flannel', name: 'kube-flannel-cfg' },
  { apiVersion: 'v1', kind: 'ServiceAccount', namespace: 'kube-flannel', name: 'flannel' },
  { apiVersion: 'v1', kind: 'Namespace', name: 'kube-flannel' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name: 'flannel' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'flannel' },
];

/**
 * The flannel pod overlay (VXLAN, kube-subnet-mgr) bound to the cloud network interface that the
 * provisioner attaches for pod traffic (`--iface`, eth2 unless overridden).
 *
 * This addon is the cluster's one flannel: rendered only here, applied only by the addon applier
 * (server-side apply, field manager `kaas`) once the API answers, and pruned, upgraded and reported
 * like every managed service. Master-0's bootstrap does not install a CNI: `kubeadm init` and
 * `kubeadm join` complete without one (nodes stay NotReady and CoreDNS Pending until this
 * DaemonSet runs, which needs no pod network itself: it is hostNetwork and tolerates the not-ready
 * taints). Flannel runs in kube-system, which the namespaces addon already guards from tenants;
 * kubeadm configures no Pod Security admission, so it needs no namespace label there.
 * `EnableNFTables: false` keeps flannel on iptables, which kube-proxy's default mode also uses.
 */
export function networkingAddon(ctx: ResolvedContext): KubernetesObject[] {
  const netConf = JSON.stringify(
    { Network: ctx.network.podCidr, EnableNFTables: false, Backend: { Type: 'vxlan' } },
    null,
    2,
  );
  const cniConf = JSON.stringify(
    {
      name: 'cbr0',
      cniVersion: '0.3.1',
      plugins: [
        { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
  const cfgVolume = { name: 'flannel-cfg', configMap: { name: 'kube-flannel-cfg' } };
  return [
    ...serviceIdentity(ADDON, 'flannel', NS, [
      { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
    ]),
    typed<IConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(ADDON, 'kube-flannel-cfg', { namespace: NS, component: 'flannel' }),
      data: { 'cni-conf.json': cniConf, 'net-conf.json': netConf },
    }),
    ...daemonSet({
      addon: ADDON,
      name: 'flannel',
      namespace: NS,
      serviceAccountName: 'flannel',
      priorityClassName: 'system-node-critical',
      hostNetwork: true,
      tolerations: [
        { operator: 'Exists', effect: 'NoSchedule' },
        { operator: 'Exists', effect: 'NoExecute' },
      ],
      initContainers: [
        copyStep(
          'install-cni-plugin',
          ctx.images.flannelCniPlugin,
          ['/flannel', '/opt/cni/bin/flannel'],
          [{ name: 'cni-plugin', mountPath: '/opt/cni/bin' }],
        ),
        copyStep(
          'install-cni',
          ctx.images.flannel,
          ['/etc/kube-flannel/cni-conf.json', '/etc/cni/net.d/10-flannel.conflist'],
          [
            { name: 'cni', mountPath: '/etc/cni/net.d' },
            { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' },
          ],
        ),
      ],
      containers: [
        {
          name: 'kube-flannel',
          image: ctx.images.flannel,
          command: ['/opt/bin/flanneld'],
          args: ['--ip-masq', '--kube-subnet-mgr', `--iface=${ctx.network.overlayInterface}`],
          env: [
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            { name: 'EVENT_QUEUE_DEPTH', value: '5000' },
          ],
          resources: resources('100m', '50Mi', '500m', '256Mi'),
          securityContext: { privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
          volumeMounts: [
            { name: 'run', mountPath: '/run/flannel' },
            { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' },
            { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
          ],
        },
      ],
      volumes: [
        { name: 'run', hostPath: { path: '/run/flannel' } },
        { name: 'cni-plugin', hostPath: { path: '/opt/cni/bin' } },
        { name: 'cni', hostPath: { path: '/etc/cni/net.d' } },
        cfgVolume,
        { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
      ],
    }),
  ];
}

/** An init container of flannel's that copies `files` (from, to) onto the node through `volumeMounts`. */
function copyStep(
  name: string,
  image: string,
  files: [string, string],
  volumeMounts: { name: string; mountPath: string }[],
) {
  return {
    name,
    image,
    command: ['cp', '-f', ...files],
    resources: resources('10m', '16Mi', '100m', '64Mi'),
    volumeMounts,
  };
}
