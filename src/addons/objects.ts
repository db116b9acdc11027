import type { IContainer } from 'kubernetes-models/v1/Container';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IStatefulSetSpec } from 'kubernetes-models/apps/v1/StatefulSetSpec';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IAffinity } from 'kubernetes-models/v1/Affinity';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';

/** Standard object metadata (the Kubernetes ObjectMeta type). */
export type ObjectMeta = NonNullable<INamespace['metadata']>;
type Container = IContainer;
type PodSpec = IPodSpec;
type Volume = IVolume;
type Affinity = IAffinity;
type ResourceRequirements = IResourceRequirements;
type PersistentVolumeClaim = NonNullable<IStatefulSetSpec['volumeClaimTemplates']>[number];

/** A manifest ready to apply: plain data, keys in a fixed order, serialisable as-is. */
export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & { name: string };
  readonly [key: string]: unknown;
}

/** Identifies one object without its content: enough to read or delete it. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/**
 * Checks a literal against its Kubernetes type (excess properties included) at compile time and
 * returns it as a KubernetesObject. Call with an explicit type argument: `typed<IDeployment>({...})`.
 */
export function typed<T extends { apiVersion: string; kind: string; metadata?: ObjectMeta }>(
  o: T & { apiVersion: string; kind: string; metadata: ObjectMeta & { name: string } },
): KubernetesObject {
  return o as unknown as KubernetesObject;
}

/** The label naming the managed service an object belongs to; the applier's sign of ownership. */
export const ADDON_LABEL = 'kaas.io/addon';

/** The labels every kaas object carries; `component` also names the selector of a workload. */
export function labels(addon: string, component?: string): Record<string, string> {
  return component === undefined
    ? { 'app.kubernetes.io/managed-by': 'kaas', [ADDON_LABEL]: addon }
    : { 'app.kubernetes.io/managed-by': 'kaas', 'app.kubernetes.io/name': component, [ADDON_LABEL]: addon };
}

/** Metadata for an object of `addon`, optionally namespaced and with annotations. */
export function meta(
  addon: string,
  name: string,
  opts: { namespace?: string; component?: string; annotations?: Record<string, string> } = {},
): ObjectMeta & { name: string } {
  return {
    name,
    ...(opts.namespace === undefined ? {} : { namespace: opts.namespace }),
    labels: labels(addon, opts.component),
    ...(opts.annotations === undefined ? {} : { annotations: opts.annotations }),
  };
}

/** Requests and limits; every container we ship has both. */
export function resources(
  cpu: string,
  memory: string,
  cpuLimit: string,
  memoryLimit: string,
): ResourceRequirements {
  return { requests: { cpu, memory }, limits: { cpu: cpuLimit, memory: memoryLimit } };
}

function selector(addon: string, component: string): Record<string, string> {
  return { 'app.kubernetes.io/name': component, [ADDON_LABEL]: addon };
}

/** What a pod template needs; the workload builders add labels, anti-affinity and PDBs. */
export interface WorkloadSpec {
  addon: string;
  name: string;
  namespace: string;
  replicas: number;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  serviceAccountName?: string;
  podAnnotations?: Record<string, string>;
  nodeSelector?: Record<string, string>;
  tolerations?: PodSpec['tolerations'];
  hostNetwork?: boolean;
  priorityClassName?: string;
  securityContext?: PodSpec['securityContext'];
  terminationGracePeriodSeconds?: number;
}

function antiAffinity(w: WorkloadSpec): Affinity {
  return {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { labelSelector: { matchLabels: selector(w.addon, w.name) }, topologyKey: 'kubernetes.io/hostname' },
      ],
    },
  };
}

function podSpec(w: WorkloadSpec, replicated: boolean): PodSpec {
  return {
    ...(w.serviceAccountName === undefined ? {} : { serviceAccountName: w.serviceAccountName }),
    ...(w.priorityClassName === undefined ? {} : { priorityClassName: w.priorityClassName }),
    ...(w.hostNetwork === undefined ? {} : { hostNetwork: w.hostNetwork }),
    ...(w.nodeSelector === undefined ? {} : { nodeSelector: w.nodeSelector }),
    ...(w.tolerations === undefined ? {} : { tolerations: w.tolerations }),
    ...(replicated && w.replicas > 1 ? { affinity: antiAffinity(w) } : {}),
    ...(w.securityContext === undefined ? {} : { securityContext: w.securityContext }),
    ...(w.terminationGracePeriodSeconds === undefined
      ? {}
      : { terminationGracePeriodSeconds: w.terminationGracePeriodSeconds }),
    ...(w.initContainers === undefined ? {} : { initContainers: w.initContainers }),
    containers: w.containers,
    ...(w.volumes === undefined ? {} : { volumes: w.volumes }),
  };
}

function template(w: WorkloadSpec, replicated: boolean) {
  return {
    metadata: {
      labels: labels(w.addon, w.name),
      ...(w.podAnnotations === undefined ? {} : { annotations: w.podAnnotations }),
    },
    spec: podSpec(w, replicated),
  };
}

/** A PDB keeping all but one replica up during drains; only emitted when replicas > 1. */
function pdb(w: WorkloadSpec): KubernetesObject[] {
  if (w.replicas <= 1) return [];
  return [
    typed<IPodDisruptionBudget>({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta(w.addon, w.name, { namespace: w.namespace, component: w.name }),
      spec: { maxUnavailable: 1, selector: { matchLabels: selector(w.addon, w.name) } },
    }),
  ];
}

/** Deployment (+ PDB and hard anti-affinity when replicated). */
export function deployment(w: WorkloadSpec): KubernetesObject[] {
  return [
    typed<IDeployment>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(w.addon, w.name, { namespace: w.namespace, component: w.name }),
      spec: {
        replicas: w.replicas,
        selector: { matchLabels: selector(w.addon, w.name) },
        template: template(w, true),
      },
    }),
    ...pdb(w),
  ];
}

/** StatefulSet with its headless-service name and claim templates (+ PDB when replicated). */
export function statefulSet(
  w: WorkloadSpec & { serviceName: string; volumeClaimTemplates: PersistentVolumeClaim[] },
): KubernetesObject[] {
  return [
    typed<IStatefulSet>({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: meta(w.addon, w.name, { namespace: w.namespace, component: w.name }),
      spec: {
        replicas: w.replicas,
        serviceName: w.serviceName,
        selector: { matchLabels: selector(w.addon, w.name) },
        template: template(w, true),
        volumeClaimTemplates: w.volumeClaimTemplates,
      },
    }),
    ...pdb(w),
  ];
}

/** DaemonSet: one pod per node, so no PDB or anti-affinity. */
export function daemonSet(w: Omit<WorkloadSpec, 'replicas'>): KubernetesObject[] {
  const spec = { ...w, replicas: 1 };
  return [
    typed<IDaemonSet>({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: meta(w.addon, w.name, { namespace: w.namespace, component: w.name }),
      spec: {
        selector: { matchLabels: selector(w.addon, w.name) },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: template(spec, false),
      },
    }),
  ];
}

/** A PVC template for StatefulSets, on the cluster's default StorageClass. */
export function claim(name: string, size: string): PersistentVolumeClaim {
  return {
    metadata: { name },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } } },
  };
}

/** ClusterIP Service selecting the workload `component` of `addon`. */
export function service(
  addon: string,
  component: string,
  namespace: string,
  ports: { name: string; port: number; targetPort?: number | string }[],
  opts: { headless?: boolean; type?: 'ClusterIP' | 'LoadBalancer'; name?: string } = {},
): KubernetesObject {
  return typed<IService>({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(addon, opts.name ?? component, { namespace, component }),
    spec: {
      type: opts.type ?? 'ClusterIP',
      ...(opts.headless === true ? { clusterIP: 'None' } : {}),
      selector: selector(addon, component),
      ports: ports.map((p) => ({
        name: p.name,
        port: p.port,
        targetPort: p.targetPort ?? p.port,
        protocol: 'TCP',
      })),
    },
  });
}

/** A path of an Ingress and the Service port it leads to. */
export interface IngressPath {
  path: string;
  service: string;
  port: number;
}

/**
 * Ingress on the `nginx` class for one host, with TLS from the cluster's wildcard certificate:
 * `backend` is one Service port (served at `/`) or a list of prefix paths, each to its own.
 */
export function ingress(
  addon: string,
  name: string,
  namespace: string,
  host: string,
  backend: Omit<IngressPath, 'path'> | readonly IngressPath[],
  annotations?: Record<string, string>,
): KubernetesObject {
  const paths = 'service' in backend ? [{ path: '/', ...backend }] : backend;
  return typed<IIngress>({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta(addon, name, { namespace, component: name, ...(annotations ? { annotations } : {}) }),
    spec: {
      ingressClassName: 'nginx',
      tls: [{ hosts: [host], secretName: WILDCARD_TLS_SECRET }],
      rules: [
        {
          host,
          http: {
            paths: paths.map((p) => ({
              path: p.path,
              pathType: 'Prefix',
              backend: { service: { name: p.service, port: { number: p.port } } },
            })),
          },
        },
      ],
    },
  });
}

/** Secret (kaas-system, type kubernetes.io/tls) holding the `*.<cluster>.<domain>` certificate. */
export const WILDCARD_TLS_SECRET = 'kaas-wildcard-tls';

/** Secret (kaas-system) with an htpasswd `auth` key guarding UIs that have no login of their own. */
export const BASIC_AUTH_SECRET = 'kaas-ingress-auth';

/** nginx annotations requiring basic auth from BASIC_AUTH_SECRET. */
export function basicAuth(): Record<string, string> {
  return {
    'nginx.ingress.kubernetes.io/auth-realm': 'kaas',
    'nginx.ingress.kubernetes.io/auth-secret': BASIC_AUTH_SECRET,
    'nginx.ingress.kubernetes.io/auth-type': 'basic',
  };
}
