import type { ICustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { InputError } from '../errors.ts';
import { credentialPodAnnotations } from './cloudconf.ts';
import type { ResolvedContext } from './context.ts';
import { KAAS_NAMESPACE, PROTECTED_NAMESPACES, dnsName } from './names.ts';
import { deployment, labels, meta, resources, type KubernetesObject } from './objects.ts';

const ADDON = 'backups';
const NS = KAAS_NAMESPACE;
/** Velero's object-storage provider from velero-plugin-for-openstack (Swift). */
export const VELERO_SWIFT_PROVIDER = 'community.openstack.org/openstack';
/** Velero's volume-snapshot provider from the same plugin (Cinder snapshots). */
export const VELERO_CINDER_PROVIDER = 'community.openstack.org/openstack-cinder';

/** Velero custom resources are not in the core schemas; this is their shape as we emit it. */
function veleroObject(kind: string, name: string, spec: Record<string, unknown>): KubernetesObject {
  return {
    apiVersion: 'velero.io/v1',
    kind,
    metadata: meta(ADDON, name, { namespace: NS, component: 'velero' }),
    spec,
  };
}

/** The Velero kinds this addon creates (Restore too, for `kaas restore`), as kind and plural. */
const VELERO_KINDS = [
  ['BackupStorageLocation', 'backupstoragelocations'],
  ['VolumeSnapshotLocation', 'volumesnapshotlocations'],
  ['Schedule', 'schedules'],
  ['Backup', 'backups'],
  ['Restore', 'restores'],
] as const;

/**
 * A minimal CustomResourceDefinition for one Velero kind: served and stored as velero.io/v1,
 * spec and status kept as given (Velero itself validates them). The applier establishes these
 * before it creates the custom resources, so the addon works on a fresh cluster.
 */
function veleroCrd(kind: string, plural: string): KubernetesObject {
  const open = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } as const;
  const crd: ICustomResourceDefinition & { metadata: { name: string } } = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: meta(ADDON, `${plural}.velero.io`, { component: 'velero' }),
    spec: {
      group: 'velero.io',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', properties: { spec: open, status: open } } },
          subresources: { status: {} },
        },
      ],
    },
  };
  return crd as unknown as KubernetesObject;
}

function openstackEnv(ctx: ResolvedContext) {
  return [
    { name: 'OS_AUTH_URL', value: ctx.swift.authUrl },
    { name: 'OS_REGION_NAME', value: ctx.swift.region },
    {
      name: 'OS_APPLICATION_CREDENTIAL_ID',
      valueFrom: {
        secretKeyRef: { name: ctx.swift.credentialSecretName, key: 'OS_APPLICATION_CREDENTIAL_ID' },
      },
    },
    {
      name: 'OS_APPLICATION_CREDENTIAL_SECRET',
      valueFrom: {
        secretKeyRef: { name: ctx.swift.credentialSecretName, key: 'OS_APPLICATION_CREDENTIAL_SECRET' },
      },
    },
  ];
}

/*
 * Uploads the snapshot with the Swift credentials secret: an application-credential token from
 * Keystone, then a PUT into `<prefix>-etcd` that Swift expires after 14 days. OS_STORAGE_URL (the
 * project's Swift endpoint) comes from the same secret, so the script needs no JSON parser.
 */
const UPLOAD_SCRIPT = [
  'set -eu',
  'body=$(printf \'{"auth":{"identity":{"methods":["application_credential"],"application_credential":{"id":"%s","secret":"%s"}}}}\' "$OS_APPLICATION_CREDENTIAL_ID" "$OS_APPLICATION_CREDENTIAL_SECRET")',
  'token=$(curl -sSf -D - -o /dev/null -H "Content-Type: application/json" -d "$body" "${OS_AUTH_URL%/}/auth/tokens" | tr -d "\\r" | sed -n "s/^[Xx]-[Ss]ubject-[Tt]oken: //p")',
  'name="etcd-$(date -u +%Y%m%dT%H%M%SZ).db"',
  'curl -sSf -X PUT -H "X-Auth-Token: $token" -H "X-Delete-After: 1209600" -T /backup/snapshot.db "${OS_STORAGE_URL%/}/${SWIFT_CONTAINER}/${name}"',
  'echo "uploaded ${name}"',
].join('\n');

function etcdSnapshotCronJob(ctx: ResolvedContext): KubernetesObject {
  const cronJob: ICronJob & { metadata: { name: string } } = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: meta(ADDON, 'etcd-snapshot', { namespace: NS, component: 'etcd-snapshot' }),
    spec: {
      schedule: '30 2 * * *',
      concurrencyPolicy: 'Forbid',
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        spec: {
          backoffLimit: 2,
          template: {
            metadata: { labels: labels(ADDON, 'etcd-snapshot') },
            spec: {
              restartPolicy: 'OnFailure',
              hostNetwork: true,
              nodeSelector: { 'node-role.kubernetes.io/control-plane': '' },
              tolerations: [
                { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
              ],
              initContainers: [
                {
                  name: 'snapshot',
                  image: ctx.images.etcd,
                  command: [
                    'etcdctl',
                    '--endpoints=https://127.0.0.1:2379',
                    '--cacert=/etc/kubernetes/pki/etcd/ca.crt',
                    '--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt',
                    '--key=/etc/kubernetes/pki/etcd/healthcheck-client.key',
                    'snapshot',
                    'save',
                    '/backup/snapshot.db',
                  ],
                  env: [{ name: 'ETCDCTL_API', value: '3' }],
                  resources: resources('100m', '128Mi', '500m', '512Mi'),
                  volumeMounts: [
                    { name: 'etcd-certs', mountPath: '/etc/kubernetes/pki/etcd', readOnly: true },
                    { name: 'backup', mountPath: '/backup' },
                  ],
                },
              ],
              containers: [
                {
                  name: 'upload',
                  image: ctx.images.curl,
                  command: ['/bin/sh', '-c', UPLOAD_SCRIPT],
                  env: [
                    ...openstackEnv(ctx),
                    {
                      name: 'OS_STORAGE_URL',
                      valueFrom: {
                        secretKeyRef: { name: ctx.swift.credentialSecretName, key: 'OS_STORAGE_URL' },
                      },
                    },
                    { name: 'SWIFT_CONTAINER', value: `${ctx.swift.containerPrefix}-etcd` },
                  ],
                  resources: resources('50m', '32Mi', '500m', '128Mi'),
                  volumeMounts: [{ name: 'backup', mountPath: '/backup', readOnly: true }],
                },
              ],
              volumes: [
                { name: 'etcd-certs', hostPath: { path: '/etc/kubernetes/pki/etcd', type: 'Directory' } },
                { name: 'backup', emptyDir: {} },
              ],
            },
          },
        },
      },
    },
  };
  return cronJob as unknown as KubernetesObject;
}

/** Name of the daily Velero Schedule. */
export const BACKUP_SCHEDULE = 'daily';

/**
 * Velero with the OpenStack plugin (backups to `<prefix>-velero` in Swift, Cinder snapshots for
 * volumes), a daily Schedule kept 30 days, and a daily etcd snapshot CronJob on the masters.
 * Velero's CRDs are rendered small (open spec/status schemas) so the addon brings everything it
 * needs; the applier waits for them to be established before the custom resources.
 */
export function backupsAddon(ctx: ResolvedContext): KubernetesObject[] {
  return [
    ...VELERO_KINDS.map(([kind, plural]) => veleroCrd(kind, plural)),
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta(ADDON, 'velero', { namespace: NS, component: 'velero' }),
    } satisfies IServiceAccount & KubernetesObject,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(ADDON, 'kaas-velero', { component: 'velero' }),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'velero', namespace: NS }],
    } satisfies IClusterRoleBinding & KubernetesObject,
    ...deployment({
      addon: ADDON,
      name: 'velero',
      namespace: NS,
      replicas: 1,
      serviceAccountName: 'velero',
      ...credentialPodAnnotations(ctx),
      initContainers: [
        {
          name: 'velero-plugin-for-openstack',
          image: ctx.images.veleroPluginOpenstack,
          resources: resources('10m', '32Mi', '100m', '128Mi'),
          volumeMounts: [{ name: 'plugins', mountPath: '/target' }],
        },
      ],
      containers: [
        {
          name: 'velero',
          image: ctx.images.velero,
          command: ['/velero'],
          args: ['server', '--uploader-type=kopia'],
          env: [
            { name: 'VELERO_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            { name: 'VELERO_SCRATCH_DIR', value: '/scratch' },
            ...openstackEnv(ctx),
          ],
          ports: [{ name: 'metrics', containerPort: 8085, protocol: 'TCP' }],
          resources: resources('100m', '128Mi', '1', '512Mi'),
          volumeMounts: [
            { name: 'plugins', mountPath: '/plugins' },
            { name: 'scratch', mountPath: '/scratch' },
          ],
        },
      ],
      volumes: [
        { name: 'plugins', emptyDir: {} },
        { name: 'scratch', emptyDir: {} },
      ],
    }),
    veleroObject('BackupStorageLocation', 'default', {
      provider: VELERO_SWIFT_PROVIDER,
      default: true,
      objectStorage: { bucket: `${ctx.swift.containerPrefix}-velero` },
      config: { region: ctx.swift.region },
    }),
    veleroObject('VolumeSnapshotLocation', 'default', {
      provider: VELERO_CINDER_PROVIDER,
      config: { region: ctx.swift.region },
    }),
    veleroObject('Schedule', BACKUP_SCHEDULE, {
      schedule: '0 3 * * *',
      useOwnerReferencesInBackup: false,
      template: {
        ttl: '720h0m0s',
        includedNamespaces: ['*'],
        snapshotVolumes: true,
        storageLocation: 'default',
        volumeSnapshotLocations: ['default'],
      },
    }),
    etcdSnapshotCronJob(ctx),
  ];
}

/** One step of a restore, for the CLI to print and the applier to execute in order. */
export interface RestoreStep {
  step: 'check-backup' | 'create-restore' | 'wait-restore' | 'verify';
  description: string;
  object?: KubernetesObject;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * What `kaas restore` does, as data: confirm the Velero Backup exists and completed, create a
 * Restore of every tenant namespace (protected namespaces are rebuilt by the addons, not
 * restored), wait for it, then check workloads. The Restore name is derived from the backup so a
 * retried command does not start a second restore.
 */
export function restorePlan({ backupName }: { backupName: string }): RestoreStep[] {
  if (backupName.length > 253 || !DNS_SUBDOMAIN.test(backupName)) {
    throw new InputError(`backup name "${backupName}" is not a valid Velero backup name`, {
      field: 'backupName',
    });
  }
  const restoreName = dnsName(['restore', backupName]);
  return [
    {
      step: 'check-backup',
      description: `Get velero.io/v1 Backup ${NS}/${backupName}; stop unless status.phase is Completed.`,
    },
    {
      step: 'create-restore',
      description: `Create Restore ${NS}/${restoreName} (no-op if it already exists).`,
      object: veleroObject('Restore', restoreName, {
        backupName,
        includedNamespaces: ['*'],
        excludedNamespaces: [...PROTECTED_NAMESPACES],
        restorePVs: true,
        existingResourcePolicy: 'none',
      }),
    },
    {
      step: 'wait-restore',
      description: `Poll Restore ${NS}/${restoreName} until status.phase is Completed, PartiallyFailed or Failed.`,
    },
    {
      step: 'verify',
      description:
        'Report status.warnings/errors of the Restore and wait for restored Deployments/StatefulSets to be ready.',
    },
  ];
}
