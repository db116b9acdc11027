/**
 * The little of the Kubernetes API the provisioner drives itself: health, cordon, list a node's
 * pods, evict one (policy/v1 Eviction, which honours PodDisruptionBudgets), the join token's
 * Secret, Node removal, the objects delete sweeps. It authenticates with the break-glass client
 * certificate and trusts only the cluster CA, through @kubernetes/client-node's typed CoreV1Api
 * (the addon appliers use the same client). test/provisioner/kube.test.ts runs it against kubelab's
 * real API server.
 */
import { Agent } from 'node:https';
import { createSecureContext } from 'node:tls';
import {
  ApiException,
  CoreV1Api,
  Health,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  Observable,
  PatchStrategy,
  ServerConfiguration,
  createConfiguration,
  setHeaderOptions,
  wrapHttpLibrary,
  type ConfigurationOptions,
  type RequestContext,
  type ResponseContext,
  type V1Node,
} from '@kubernetes/client-node';
import { LRUCache } from 'lru-cache';
import { UpstreamError } from '../errors.ts';
import { statusMessage } from './addons/client.ts';
import { unreachableReason } from './unreachable.ts';
import { refusedMessage } from './identity.ts';

/** A pod as far as draining cares. */
export interface PodRef {
  namespace: string;
  name: string;
  /** Owned by a DaemonSet or a static (mirror) pod: draining leaves it, as `kubectl drain` does. */
  skip: boolean;
  /** Being deleted already (it has a deletionTimestamp). */
  terminating: boolean;
}

/** Operations the drain step needs. */
export interface KubeClient {
  /** True when the API answers /readyz with 200 (client-node's health check). */
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

/** A Node object's readiness, as kubectl's STATUS column reads it (condition Ready=True). */
export function nodeState(item: V1Node): NodeState {
  const ready = (item.status?.conditions ?? []).find((c) => c.type === 'Ready');
  const why = ready
    ? `Ready=${ready.status}${ready.reason ? ` (${ready.reason}${ready.message ? `: ${ready.message}` : ''})` : ''}`
    : 'no Ready condition reported yet';
  return {
    name: item.metadata?.name ?? '',
    ready: ready?.status === 'True',
    ...(ready?.status === 'True' ? {} : { reason: why }),
    kubeletVersion: item.status?.nodeInfo?.kubeletVersion ?? '',
    labels: item.metadata?.labels ?? {},
  };
}

/** An API that does not answer its health check this fast counts as unreachable (drain is skipped). */
const HEALTH_TIMEOUT_MS = 5_000;
/** Budget of every other call, from sending the request to the end of the answer. */
const CALL_TIMEOUT_MS = 30_000;

/**
 * One HTTPS agent per cluster identity, kept across clients: @kubernetes/client-node makes a new
 * agent for every request, so each request built a new TLS context (parsing the CA, certificate and
 * key) and handshook from scratch, which was most of an idle reconcile pass's CPU. A kept agent
 * shares one TLS context and keeps a connection alive between the requests of one pass; an idle
 * connection is closed after IDLE_CONNECTION_MS, well before an API server would drop it.
 */
const agents = new LRUCache<string, Agent>({ max: 1_000, dispose: (agent) => agent.destroy() });
const IDLE_CONNECTION_MS = 4_000;

function agentFor(access: KubeAccess): Agent {
  const key = `${access.server}\n${access.caPem}\n${access.certPem}`;
  let agent = agents.get(key);
  if (!agent) {
    const secureContext = createSecureContext({ ca: access.caPem, cert: access.certPem, key: access.keyPem });
    agent = new Agent({
      secureContext,
      rejectUnauthorized: true,
      keepAlive: true,
      timeout: IDLE_CONNECTION_MS,
    });
    agents.set(key, agent);
  }
  return agent;
}

const fetchLibrary = new IsomorphicFetchHttpLibrary();

/**
 * Sends a request a second time, on a new connection, when the first failed with a reset before
 * any answer: a kept connection can be reset by its peer as it is reused (the API server behind a
 * load balancer went away with its master), which Go's clients also retry. Every call kaas makes is
 * safe to repeat: reads, merge patches, server-side apply, deletes and creates that tolerate
 * "already gone" or "already there".
 */
const resending = wrapHttpLibrary({
  async send(request) {
    try {
      return await fetchLibrary.send(request).toPromise();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if ((code !== 'ECONNRESET' && code !== 'EPIPE') || request.getSignal()?.aborted) throw error;
      return fetchLibrary.send(request).toPromise();
    }
  },
});

/** A KubeConfig whose API calls go through the cluster identity's kept agent, resent once on a reset. */
class KeptAgentKubeConfig extends KubeConfig {
  constructor(private readonly agent: Agent) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    context.setAgent(this.agent);
  }

  override makeApiClient<T>(apiClientType: new (config: ReturnType<typeof createConfiguration>) => T): T {
    const config = createConfiguration({
      baseServer: new ServerConfiguration(this.getCurrentCluster()?.server ?? '', {}),
      authMethods: { default: this },
      httpApi: resending,
    });
    return new apiClientType(config);
  }
}

/** A kubeconfig holding one cluster's address and CA and kaas's client certificate (no file, no env). */
export function kubeConfigFor(access: KubeAccess): KubeConfig {
  const kc = new KeptAgentKubeConfig(agentFor(access));
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  kc.loadFromClusterAndUser(
    { name: 'cluster', server: access.server, caData: b64(access.caPem), skipTLSVerify: false },
    { name: 'kaas', certData: b64(access.certPem), keyData: b64(access.keyPem) },
  );
  return kc;
}

/** The production client (@kubernetes/client-node, mutual TLS with the cluster CA). */
export const createKubeClient: KubeClientFactory = (access) => {
  const kc = kubeConfigFor(access);
  const core = kc.makeApiClient(CoreV1Api);
  // close() aborts whatever is still in flight: a request to an API that accepts and never
  // answers must not hold the caller until the socket gives up.
  const closed = new AbortController();
  /** Call options: the timeout (joined with the caller's signal, if any) and an optional Content-Type. */
  const options = (signal?: AbortSignal, contentType?: string): ConfigurationOptions => {
    const timeout = {
      pre: (request: RequestContext) => {
        const signals = [closed.signal, AbortSignal.timeout(CALL_TIMEOUT_MS), ...(signal ? [signal] : [])];
        request.setSignal(AbortSignal.any(signals));
        return new Observable(Promise.resolve(request));
      },
      post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
    };
    const base: ConfigurationOptions = { middleware: [timeout], middlewareMergeStrategy: 'append' };
    return contentType ? setHeaderOptions('Content-Type', contentType, base) : base;
  };
  const mergePatch = () => options(undefined, PatchStrategy.MergePatch);
  /** The HTTP status of an error answer, or undefined when the API was not reached. */
  const statusOf = (error: unknown) => (error instanceof ApiException ? (error.code as number) : undefined);
  const fail = (what: string, error: unknown) => {
    if (!(error instanceof ApiException))
      return new UpstreamError(unreachableReason(error), {
        code: 'kube_api_unreachable',
        cause: error,
      });
    const status = error.code as number;
    return status === 401 || status === 403
      ? new UpstreamError(`Kubernetes API ${what}: ${refusedMessage(status)}`, {
          code: 'kube_api_refused',
          cause: error,
        })
      : new UpstreamError(`Kubernetes API ${what} answered ${status}: ${statusMessage(error.body)}`, {
          code: 'kube_api_error',
          cause: error,
        });
  };
  /** The call's answer; any failure becomes an UpstreamError saying `what` failed. */
  const attempt = async <T>(what: string, call: Promise<T>): Promise<T> => {
    try {
      return await call;
    } catch (error) {
      throw fail(what, error);
    }
  };
  /** Runs a call whose listed error statuses are outcomes, not failures: returns that status, else 'ok'. */
  const tolerate = async (what: string, call: Promise<unknown>, fine: number[]): Promise<number | 'ok'> => {
    try {
      await call;
      return 'ok';
    } catch (error) {
      const status = statusOf(error);
      if (status !== undefined && fine.includes(status)) return status;
      throw fail(what, error);
    }
  };
  return {
    async healthy(signal) {
      try {
        return await new Health(kc).readyz({
          signal: AbortSignal.any([signal, closed.signal, AbortSignal.timeout(HEALTH_TIMEOUT_MS)]),
        });
      } catch {
        return false;
      }
    },
    async cordon(node) {
      await tolerate(
        `cordon of ${node}`,
        core.patchNode({ name: node, body: { spec: { unschedulable: true } } }, mergePatch()),
        [404],
      );
    },
    async podsOn(node) {
      const list = await attempt(
        `pod list of ${node}`,
        core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }, options()),
      );
      return list.items.map((p) => ({
        namespace: p.metadata?.namespace ?? '',
        name: p.metadata?.name ?? '',
        skip:
          (p.metadata?.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet') ||
          p.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined,
        terminating: p.metadata?.deletionTimestamp !== undefined,
      }));
    },
    async evict(pod) {
      const answer = await tolerate(
        `eviction of ${pod.namespace}/${pod.name}`,
        core.createNamespacedPodEviction(
          {
            name: pod.name,
            namespace: pod.namespace,
            body: {
              apiVersion: 'policy/v1',
              kind: 'Eviction',
              metadata: { name: pod.name, namespace: pod.namespace },
            },
          },
          options(),
        ),
        [404, 429],
      );
      return answer === 429 ? 'blocked' : 'evicted';
    },
    async ensureBootstrapToken(token, expiresAt) {
      const [id, secret] = token.split('.') as [string, string];
      const name = `bootstrap-token-${id}`;
      const created = await tolerate(
        'creation of the join token',
        core.createNamespacedSecret(
          {
            namespace: 'kube-system',
            body: {
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
            },
          },
          options(),
        ),
        [409],
      );
      if (created !== 409) return 'created';
      await attempt(
        'extension of the join token',
        core.patchNamespacedSecret(
          { name, namespace: 'kube-system', body: { stringData: { expiration: expiresAt } } },
          mergePatch(),
        ),
      );
      return 'extended';
    },
    async deleteNode(node) {
      await tolerate(`deletion of node ${node}`, core.deleteNode({ name: node }, options()), [404]);
    },
    async loadBalancerServices() {
      const list = await attempt('list of services', core.listServiceForAllNamespaces({}, options()));
      return list.items.filter((o) => o.spec?.type === 'LoadBalancer').map(refOf);
    },
    async persistentVolumeClaims() {
      const list = await attempt(
        'list of persistentvolumeclaims',
        core.listPersistentVolumeClaimForAllNamespaces({}, options()),
      );
      return list.items.map(refOf);
    },
    async deleteNamespaced(resource, ref) {
      const request = {
        name: ref.name,
        namespace: ref.namespace,
        body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: ref.uid } },
      };
      // 409: the uid precondition failed, so the object by that name is a newer one; leave it.
      await tolerate(
        `deletion of ${resource} ${ref.namespace}/${ref.name}`,
        resource === 'services'
          ? core.deleteNamespacedService(request, options())
          : core.deleteNamespacedPersistentVolumeClaim(request, options()),
        [404, 409],
      );
    },
    async nodes(signal) {
      const list = await attempt('node list', core.listNode({}, options(signal)));
      return list.items.map(nodeState);
    },
    close: async () => closed.abort(),
  };
};

const refOf = (o: { metadata?: { namespace?: string; name?: string; uid?: string } }): ObjectRef => ({
  namespace: o.metadata?.namespace ?? '',
  name: o.metadata?.name ?? '',
  uid: o.metadata?.uid ?? '',
});
