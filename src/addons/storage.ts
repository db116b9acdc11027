import type { ICSIDriver } from 'kubernetes-models/storage.k8s.io/v1/CSIDriver';
import type { IStorageClass } from 'kubernetes-models/storage.k8s.io/v1/StorageClass';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { CLOUD_CONFIG_DIR, credentialPodAnnotations } from './cloudconf.ts';
import type { ResolvedContext } from './context.ts';
import { daemonSet, deployment, meta, resources, typed, type KubernetesObject } from './objects.ts';
import { serviceIdentity } from './rbac-helpers.ts';

const ADDON = 'storage';
const NS = 'kube-system';
/** The Cinder CSI driver name; also the provisioner of the default StorageClass. */
export const CINDER_DRIVER = 'cinder.csi.openstack.org';
/** Volume metadata naming the cluster (`--cluster`) on every volume Cinder CSI makes: delete sweeps by it. */
export const CINDER_CLUSTER_METADATA = 'cinder.csi.openstack.org/cluster';
/** Secret in kube-system with key `cloud.conf` (OpenStack credentials for the CSI plugin). */
export const CLOUD_CONFIG_SECRET = 'kaas-cloud-config';
/** Name of the default StorageClass. */
export const DEFAULT_STORAGE_CLASS = 'kaas-cinder';

const SOCKET_DIR = '/csi';

function sidecar(name: string, image: string, extraArgs: string[] = []): IContainer {
  return {
    name,
    image,
    args: ['--csi-address=$(ADDRESS)', ...extraArgs],
    env: [{ name: 'ADDRESS', value: `${SOCKET_DIR}/csi.sock` }],
    resources: resources('10m', '32Mi', '200m', '128Mi'),
    volumeMounts: [{ name: 'socket-dir', mountPath: SOCKET_DIR }],
  };
}

function plugin(ctx: ResolvedContext, extraMounts: IContainer['volumeMounts'] = []): IContainer {
  return {
    name: 'cinder-csi-plugin',
    image: ctx.images.cinderCsi,
    // `--cluster` tags every volume it makes (metadata `cinder.csi.openstack.org/cluster`): delete's sweep.
    args: [
      '/bin/cinder-csi-plugin',
      '--endpoint=$(CSI_ENDPOINT)',
      `--cloud-config=${CLOUD_CONFIG_DIR}/cloud.conf`,
      `--cluster=${ctx.clusterId}`,
    ],
    env: [{ name: 'CSI_ENDPOINT', value: `unix://${SOCKET_DIR}/csi.sock` }],
    ports: [{ name: 'healthz', containerPort: 9808, protocol: 'TCP' }],
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'healthz' },
      initialDelaySeconds: 10,
      periodSeconds: 60,
      timeoutSeconds: 10,
      failureThreshold: 5,
    },
    resources: resources('20m', '64Mi', '500m', '256Mi'),
    volumeMounts: [
      { name: 'socket-dir', mountPath: SOCKET_DIR },
      { name: 'cloud-config', mountPath: CLOUD_CONFIG_DIR, readOnly: true },
      ...(extraMounts ?? []),
    ],
  };
}

/**
 * Cinder CSI (controller + node plugin + CSIDriver) and the cluster's default StorageClass. With
 * `storageClass.ceph` the class asks Cinder for the Ceph-backed volume type (`cinderType`, or
 * `ceph` when unnamed). Volume snapshots through CSI are not wired (no snapshot controller);
 * Velero snapshots Cinder volumes through its OpenStack plugin instead.
 */
export function storageAddon(ctx: ResolvedContext): KubernetesObject[] {
  const volumeType = ctx.storageClass.ceph
    ? (ctx.storageClass.cinderType ?? 'ceph')
    : ctx.storageClass.cinderType;
  const cloudConfig = { name: 'cloud-config', secret: { secretName: CLOUD_CONFIG_SECRET } };
  return [
    typed<ICSIDriver>({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'CSIDriver',
      metadata: meta(ADDON, CINDER_DRIVER),
      spec: { attachRequired: true, podInfoOnMount: true, volumeLifecycleModes: ['Persistent', 'Ephemeral'] },
    }),
    ...serviceIdentity(ADDON, 'csi-cinder-controller', NS, [
      {
        apiGroups: [''],
        resources: ['persistentvolumes'],
        verbs: ['get', 'list', 'watch', 'create', 'delete', 'patch'],
      },
      { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'list', 'watch', 'update'] },
      { apiGroups: [''], resources: ['persistentvolumeclaims/status'], verbs: ['patch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['list', 'watch', 'create', 'update', 'patch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      {
        apiGroups: ['storage.k8s.io'],
        resources: ['storageclasses', 'csinodes'],
        verbs: ['get', 'list', 'watch'],
      },
      {
        apiGroups: ['storage.k8s.io'],
        resources: ['volumeattachments'],
        verbs: ['get', 'list', 'watch', 'patch'],
      },
      { apiGroups: ['storage.k8s.io'], resources: ['volumeattachments/status'], verbs: ['patch'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'watch', 'list', 'delete', 'update', 'create'],
      },
    ]),
    ...deployment({
      addon: ADDON,
      name: 'csi-cinder-controller',
      namespace: NS,
      replicas: 1,
      serviceAccountName: 'csi-cinder-controller',
      priorityClassName: 'system-cluster-critical',
      ...credentialPodAnnotations(ctx),
      containers: [
        sidecar('csi-attacher', ctx.images.csiAttacher, ['--timeout=3m', '--leader-election=true']),
        sidecar('csi-provisioner', ctx.images.csiProvisioner, [
          '--timeout=3m',
          '--default-fstype=ext4',
          '--feature-gates=Topology=true',
          '--extra-create-metadata',
          '--leader-election=true',
        ]),
        sidecar('csi-resizer', ctx.images.csiResizer, ['--timeout=3m', '--leader-election=true']),
        sidecar('liveness-probe', ctx.images.csiLivenessProbe),
        plugin(ctx),
      ],
      volumes: [{ name: 'socket-dir', emptyDir: {} }, cloudConfig],
    }),
    ...serviceIdentity(ADDON, 'csi-cinder-node', NS, [
      {
        apiGroups: [''],
        resources: ['events'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'],
      },
    ]),
    ...daemonSet({
      addon: ADDON,
      name: 'csi-cinder-node',
      namespace: NS,
      serviceAccountName: 'csi-cinder-node',
      priorityClassName: 'system-node-critical',
      ...credentialPodAnnotations(ctx),
      hostNetwork: true,
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          ...sidecar('node-driver-registrar', ctx.images.csiNodeDriverRegistrar, [
            `--kubelet-registration-path=/var/lib/kubelet/plugins/${CINDER_DRIVER}/csi.sock`,
          ]),
          volumeMounts: [
            { name: 'socket-dir', mountPath: SOCKET_DIR },
            { name: 'registration-dir', mountPath: '/registration' },
          ],
        },
        sidecar('liveness-probe', ctx.images.csiLivenessProbe),
        {
          ...plugin(ctx, [
            { name: 'kubelet-dir', mountPath: '/var/lib/kubelet', mountPropagation: 'Bidirectional' },
            { name: 'pods-probe-dir', mountPath: '/dev', mountPropagation: 'HostToContainer' },
          ]),
          securityContext: {
            privileged: true,
            capabilities: { add: ['SYS_ADMIN'] },
            allowPrivilegeEscalation: true,
          },
        },
      ],
      volumes: [
        {
          name: 'socket-dir',
          hostPath: { path: `/var/lib/kubelet/plugins/${CINDER_DRIVER}`, type: 'DirectoryOrCreate' },
        },
        {
          name: 'registration-dir',
          hostPath: { path: '/var/lib/kubelet/plugins_registry/', type: 'Directory' },
        },
        { name: 'kubelet-dir', hostPath: { path: '/var/lib/kubelet', type: 'Directory' } },
        { name: 'pods-probe-dir', hostPath: { path: '/dev', type: 'Directory' } },
        cloudConfig,
      ],
    }),
    typed<IStorageClass>({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: meta(ADDON, DEFAULT_STORAGE_CLASS, {
        annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      }),
      provisioner: CINDER_DRIVER,
      ...(volumeType === undefined ? {} : { parameters: { type: volumeType } }),
      reclaimPolicy: 'Delete',
      allowVolumeExpansion: true,
      volumeBindingMode: 'WaitForFirstConsumer',
    }),
  ];
}
