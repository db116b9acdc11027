/**
 * The little of the Kubernetes API the provisioner drives itself: /healthz, cordon, list a node's
 * pods, evict one (policy/v1 Eviction, which honours PodDisruptionBudgets), the join token's
 * Secret, Node removal. It authenticates with the break-glass client certificate and trusts only
 * the cluster CA. Plain undici rather than @kubernetes/client-node: a handful of calls do not need a
 * generated client. test/provisioner/kube.test.ts runs it against kubelab's real API server.
 */
import { Agent, fetch } from 'undici';
import { UpstreamError } from '../errors.ts';
import { unreachableReason } from './unreachable.ts';
import { refusedMessage } from './identity.ts';

/** A pod as far as draining cares. */
export interface PodRef {
  namespace: string;
  name: string;
  /** Owned by a DaemonSet or a static (mirror) pod: draining leaves it, as `kubectl drain` does. */
  skip: boolean;
}

/** Operations the drain step needs. */
export interface KubeClient {
  /** True when the API answers /healthz with 200. */
  healthy(signal: AbortSignal): Promise<boolean>;
  cordon(node: string): Promise<void>;
  podsOn(node: string): Promise<PodRef[]>;
  /** `evicted` (or already gone) / `blocked` when a PodDisruptionBudget refuses it for now (429). */
  evict(pod: PodRef): Promise<'evicted' | 'blocked'>;
  /**
   * Registers (or extends) a kubeadm bootstrap token so nodes joining later than kubeadm's own 24 h
   * token lifetime can still join: the Secret `bootstrap-token-<id>` with a new expiration.
   */
  ensureBootstrapToken(token: string, expiresAt: string): Promise<'created' | 'extended'>;
  /** Removes the Node object of a deleted server (absent already is fine). */
  deleteNode(node: string): Promise<void>;
  /**
   * Every Node with its Ready condition (`reason` from the condition when not Ready, or saying there
   * is none yet). An API that cannot be reached throws UpstreamError `kube_api_unreachable` whose
   * message says why (see unreachable.ts); one refusing kaas (401/403) `kube_api_refused`, saying how
   * to restore kaas's access (identity.ts);
   * any other error answer `kube_api_error`.
   */
  nodes(signal?: AbortSignal): Promise<NodeState[]>;
  /** Services of type LoadBalancer in every namespace (what the cloud controller made LBs for). */
  loadBalancerServices(): Promise<ObjectRef[]>;
  /** PersistentVolumeClaims in every namespace (what Cinder CSI made volumes for). */
  persistentVolumeClaims(): Promise<ObjectRef[]>;
  /** Deletes one namespaced object (absent already is fine); its finalizers decide when it is gone. */
  deleteNamespaced(resource: 'services' | 'persistentvolumeclaims', ref: ObjectRef): Promise<void>;
  close(): Promise<void>;
}

/** A Node as readiness cares: its Ready condition, kubelet version and labels. */
export interface NodeState {
  name: string;
  ready: boolean;
  /** Why it is not Ready: the condition's reason and message, or that it reports no condition yet. */
  reason?: string;
  /** As the kubelet reports it, e.g. `v1.37.2` (empty until the kubelet posted its status). */
  kubeletVersion: string;
  labels: Record<string, string>;
}

/** A namespaced object as delete tracks it; `uid` tells a re-created namesake from the original. */
export interface ObjectRef {
  namespace: string;
  name: string;
  uid: string;
}

/** How to reach one cluster's API as its break-glass admin. */
export interface KubeAccess {
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Builds a client for one cluster; injected into the provisioner so tests can redirect it. */
export type KubeClientFactory = (access: KubeAccess) => KubeClient;

interface PodList {
  items: {
    metadata: {
      namespace: string;
      name: string;
      annotations?: Record<string, string>;
      ownerReferences?: { kind: string }[];
    };
  }[];
}

interface NodeList {
  items: {
    metadata: { name: string; labels?: Record<string, string> };
    status?: {
      nodeInfo?: { kubeletVersion?: string };
      conditions?: { type: string; status: string; reason?: string; message?: string }[];
    };
  }[];
}

/** A Node object's readiness, as kubectl's STATUS column reads it (condition Ready=True). */
export function nodeState(item: NodeList['items'][number]): NodeState {
  const ready = (item.status?.conditions ?? []).find((c) => c.type === 'Ready');
  const why = ready
    ? `Ready=${ready.status}${ready.reason ? ` (${ready.reason}${ready.message ? `: ${ready.message}` : ''})` : ''}`
    : 'no Ready condition reported yet';
  return {
    name: item.metadata.name,
    ready: ready?.status === 'True',
    ...(ready?.status === 'True' ? {} : { reason: why }),
    kubeletVersion: item.status?.nodeInfo?.kubeletVersion ?? '',
    labels: item.metadata.labels ?? {},
  };
}

/** An API that does not answer /healthz this fast counts as unreachable (drain is skipped). */
const HEALTH_TIMEOUT_MS = 5_000;

/** The production client (undici, mutual TLS with the cluster CA). */
export const createKubeClient: KubeClientFactory = (access) => {
  const dispatcher = new Agent({
    connect: { ca: access.caPem, cert: access.certPem, key: access.keyPem },
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const base = access.server.replace(/\/+$/, '');
  const call = async (method: string, path: string, body?: unknown, contentType = 'application/json') => {
    const res = await fetch(`${base}${path}`, {
      method,
      dispatcher,
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': contentType }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, text };
  };
  const fail = (what: string, r: { status: number; text: string }) =>
    r.status === 401 || r.status === 403
      ? new UpstreamError(`Kubernetes API ${what}: ${refusedMessage(r.status)}`, { code: 'kube_api_refused' })
      : new UpstreamError(`Kubernetes API ${what} answered ${r.status}: ${r.text.slice(0, 300)}`, {
          code: 'kube_api_error',
        });
  return {
    async healthy(signal) {
      try {
        const res = await fetch(`${base}/healthz`, {
          dispatcher,
          signal: AbortSignal.any([signal, AbortSignal.timeout(HEALTH_TIMEOUT_MS)]),
        });
        await res.text();
        return res.status === 200;
      } catch {
        return false;
      }
    },
    async cordon(node) {
      const r = await call(
        'PATCH',
        `/api/v1/nodes/${encodeURIComponent(node)}`,
        { spec: { unschedulable: true } },
        'application/merge-patch+json',
      );
      if (r.status === 404) return;
      if (r.status !== 200) throw fail(`cordon of ${node}`, r);
    },
    async podsOn(node) {
      const r = await call(
        'GET',
        `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`,
      );
      if (r.status !== 200) throw fail(`pod list of ${node}`, r);
      return (JSON.parse(r.text) as PodList).items.map((p) => ({
        namespace: p.metadata.namespace,
        name: p.metadata.name,
        skip:
          (p.metadata.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet') ||
          p.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined,
      }));
    },
    async evict(pod) {
      const r = await call(
        'POST',
        `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}/eviction`,
        { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.name, namespace: pod.namespace } },
      );
      if (r.status === 429) return 'blocked';
      if (r.status === 200 || r.status === 201 || r.status === 404) return 'evicted';
      throw fail(`eviction of ${pod.namespace}/${pod.name}`, r);
    },
    async ensureBootstrapToken(token, expiresAt) {
      const [id, secret] = token.split('.') as [string, string];
      const name = `bootstrap-token-${id}`;
      const created = await call('POST', '/api/v1/namespaces/kube-system/secrets', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: 'kube-system' },
        type: 'bootstrap.kubernetes.io/token',
        stringData: {
          'token-id': id,
          'token-secret': secret,
          expiration: expiresAt,
          'usage-bootstrap-authentication': 'true',
          'usage-bootstrap-signing': 'true',
          'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
        },
      });
      if (created.status === 201 || created.status === 200) return 'created';
      if (created.status !== 409) throw fail('creation of the join token', created);
      const patched = await call(
        'PATCH',
        `/api/v1/namespaces/kube-system/secrets/${name}`,
        { stringData: { expiration: expiresAt } },
        'application/merge-patch+json',
      );
      if (patched.status !== 200) throw fail('extension of the join token', patched);
      return 'extended';
    },
    async deleteNode(node) {
      const r = await call('DELETE', `/api/v1/nodes/${encodeURIComponent(node)}`);
      if (r.status !== 200 && r.status !== 202 && r.status !== 404) throw fail(`deletion of node ${node}`, r);
    },
    loadBalancerServices: async () =>
      (await listAll('services')).filter((o) => o.spec?.type === 'LoadBalancer').map(refOf),
    persistentVolumeClaims: async () => (await listAll('persistentvolumeclaims')).map(refOf),
    async deleteNamespaced(resource, ref) {
      const r = await call(
        'DELETE',
        `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/${resource}/${encodeURIComponent(ref.name)}`,
        { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: ref.uid } },
      );
      // 409: the uid precondition failed, so the object by that name is a newer one; leave it.
      if (![200, 202, 404, 409].includes(r.status))
        throw fail(`deletion of ${resource} ${ref.namespace}/${ref.name}`, r);
    },
    async nodes(signal) {
      let r: { status: number; text: string };
      try {
        const res = await fetch(`${base}/api/v1/nodes`, {
          dispatcher,
          headers: { accept: 'application/json' },
          ...(signal ? { signal } : {}),
        });
        r = { status: res.status, text: await res.text() };
      } catch (error) {
        throw new UpstreamError(unreachableReason(error), { code: 'kube_api_unreachable', cause: error });
      }
      if (r.status !== 200) throw fail('node list', r);
      return (JSON.parse(r.text) as NodeList).items.map(nodeState);
    },
    // destroy, not close: a request abandoned at its timeout (an API that accepts and never
    // answers) would otherwise hold the caller until undici's own connect timeout.
    close: () => dispatcher.destroy(),
  };

  async function listAll(resource: 'services' | 'persistentvolumeclaims'): Promise<ListedObject[]> {
    const r = await call('GET', `/api/v1/${resource}`);
    if (r.status !== 200) throw fail(`list of ${resource}`, r);
    return (JSON.parse(r.text) as { items: ListedObject[] }).items;
  }
};

interface ListedObject {
  metadata: { namespace: string; name: string; uid: string };
  spec?: { type?: string };
}

const refOf = (o: ListedObject): ObjectRef => ({
  namespace: o.metadata.namespace,
  name: o.metadata.name,
  uid: o.metadata.uid,
});
