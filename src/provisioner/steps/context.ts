/**
 * What every step executor gets, and the few helpers they share: finding a resource by name and
 * tag before creating it (the idempotency rule), and retrying a whole look-up-then-create when the
 * cloud answered 5xx to a non-idempotent call.
 */
import type { KeyPair } from '../../auth/pki.ts';
import type { ClusterSpec } from '../../cluster/spec.ts';
import { UpstreamError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { isOpenStackError, type Cloud } from '../../openstack/index.ts';
import type { StepContext } from '../engine.ts';
import type { Db } from '../../store/db.ts';
import type { ClusterApi } from '../addons/client.ts';
import type { WaitOptions } from '../addons/wait.ts';
import type { EtcdClient } from '../etcd.ts';
import type { KubeAccess, KubeClient } from '../kubeclient.ts';
import type { ProvisionOptions } from '../options.ts';
import type { ReleaseAccess } from '../release.ts';
import type { CredentialStore } from './credential.ts';

/** Renders the first-boot user data of one node (src/bootstrap in production, saving its enrollment). */
export type RenderUserData = (node: NodeBootstrap) => Promise<string>;

/**
 * GETs a URL of a cluster's API and returns the HTTP status (for /healthz). `caPem` is the cluster
 * CA the API's certificate must chain to (absent for clusters created before kaas made the CA).
 */
export type ApiProbe = (url: string, signal: AbortSignal, caPem?: string) => Promise<number>;

/** What the provisioner knows about a node when it renders its user data. */
export interface NodeBootstrap {
  spec: ClusterSpec;
  clusterId: string;
  role: 'init' | 'join-control-plane' | 'worker';
  nodeName: string;
  labels: Readonly<Record<string, string>>;
  /** `host:port` of the API (load-balancer VIP or master-0 address). */
  controlPlaneEndpoint: string;
  release: { url: string; sha256: string };
  /** Extra API certificate names (masters): the API floating IP clients and kaas connect to. */
  certSANs?: readonly string[];
}

/** Dependencies and per-job facts handed to every executor. */
export interface ExecDeps {
  cloud: Cloud;
  logger: Logger;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  spec: ClusterSpec;
  clusterId: string;
  options: ProvisionOptions;
  /** Where releases are fetched from and cached, and the catalogue they are checked against. */
  release: ReleaseAccess;
  renderUserData: RenderUserData;
  /** Most servers created at once inside one step. */
  serverConcurrency: number;
  /** How often builds and deletions are polled. */
  pollIntervalMs: number;
  /** Longest wait for servers to become ACTIVE or disappear. */
  waitTimeoutMs: number;
  /** Reads and counts a cluster's Kubernetes API (absent: the API is treated as unreachable). */
  fetchApi?: ApiProbe;
  /** The cluster CA (from the stored material), to verify the API's certificate. */
  clusterCaPem?: string;
  /**
   * Where the cluster's API really answers when the cloud's addresses route nowhere (kaas dev
   * --kube: a control plane on 127.0.0.1), once it runs; create records it as the endpoint.
   */
  apiAddress?: () => string | undefined;
  /** The cluster's Kubernetes API as kaas (absent: no credentials or endpoint yet). */
  kube?: { url: string; client: KubeClient; bootstrapToken: string };
  /** A client as kaas for the API at `server` (create learns its endpoint during the job). */
  kubeClientFor?: (server: string) => KubeClient;
  /** What the addons step needs to apply the managed services (absent: no credentials). */
  addons?: AddonsAccess;
  /**
   * The cluster's etcd reached through its API, dialling only the named masters (absent: no etcd CA
   * or no API endpoint). The caller closes each client.
   */
  etcd?: (masters: readonly string[]) => EtcdClient;
  /** The kubeadm-certs objects, sealed with this job's certificate key (absent: no material). */
  kubeadmCerts?: () => Record<string, unknown>[];
  /** The cluster's sealed application credentials (absent: no stored material). */
  credentials?: CredentialStore;
  /**
   * Where the cluster's cluster-autoscaler reaches kaas (`host:port`), the CA of kaas's certificate
   * and the client certificate kaas issued the cluster (absent: kaas serves no autoscaler).
   */
  autoscaler?: { address: string; caPem: string; certificate: () => Promise<KeyPair> };
  /** Longest a drain keeps retrying evictions a PodDisruptionBudget refuses. */
  drainTimeoutMs: number;
  /** Longest delete waits for LoadBalancer Services and PVCs to disappear from the cluster API. */
  kubeCleanupTimeoutMs: number;
  ctx: StepContext;
}

/** The store the services' status goes to, and kaas's access to the cluster's API. */
export interface AddonsAccess {
  db: Db;
  /** Cluster CA and kaas's own client certificate (identity.ts). */
  access: Omit<KubeAccess, 'server'>;
  /**
   * A short-lived `system:masters` certificate, given to create jobs only: the addons step binds
   * kaas's identity to cluster-admin with it before anything else.
   */
  grant?: Omit<KubeAccess, 'server'>;
  /** Builds the API client (clusterApiFor in production; tests point it at a double). */
  clusterApi: (access: KubeAccess) => ClusterApi;
  /** Overrides of how long the appliers wait for CRDs and workloads. */
  wait?: Partial<WaitOptions>;
}

/** Output of steps that create one cloud resource: its id (the checkpoint). */
export interface ResourceOutput {
  id: string;
  [field: string]: unknown;
}

const RETRYABLE = new Set([
  'openstack_unavailable',
  'openstack_error',
  'openstack_rate_limited',
  'openstack_timeout',
  'openstack_unreachable',
]);

/**
 * Runs `ensure` again when the cloud failed transiently. Safe because every ensure looks its
 * resource up by name before creating it, so a POST that did go through is found, not repeated.
 * 429s were already retried by the session honouring Retry-After; this adds backoff on top.
 * No attempt starts once the job's signal aborted: the engine may no longer own the job (fencing).
 */
export async function withRetries<T>(
  deps: Pick<ExecDeps, 'sleep' | 'ctx'>,
  what: string,
  ensure: () => Promise<T>,
  attempts = 5,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    if (deps.ctx.signal.aborted) {
      throw new UpstreamError(`stopped before ${what}: the job is no longer run here`, { code: 'aborted' });
    }
    try {
      return await ensure();
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      if (attempt >= attempts || !isOpenStackError(error) || !RETRYABLE.has(code) || deps.ctx.signal.aborted)
        throw error;
      const delayMs = Math.min(8_000, 500 * 2 ** (attempt - 1));
      await deps.ctx.event(`${what}: ${error.message}; trying again in ${delayMs} ms`, 'warn');
      await deps.sleep(delayMs);
    }
  }
}

/** The one resource named `name` among `found`; more than one means someone else made a twin. */
export function single<T extends { id: string }>(found: T[], kind: string, name: string): T | undefined {
  if (found.length > 1) {
    throw new UpstreamError(`found ${found.length} ${kind}s named ${name}; delete the extra ones and retry`, {
      code: 'duplicate_resource',
    });
  }
  return found[0];
}

/** Output of an earlier step, which must have run. */
export function outputOf<T>(deps: Pick<ExecDeps, 'ctx'>, stepId: string): T {
  const out = deps.ctx.outputs.get(stepId);
  if (out === undefined) throw new UpstreamError(`step ${stepId} has no output`, { code: 'invalid_plan' });
  return out as T;
}

/** Polls `check` until it returns a value, honouring the engine's abort signal. */
export async function poll<T>(deps: ExecDeps, what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = deps.now().getTime() + deps.waitTimeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (deps.ctx.signal.aborted) throw new UpstreamError(`stopped waiting for ${what}`, { code: 'aborted' });
    if (deps.now().getTime() > deadline) {
      throw new UpstreamError(
        `gave up after ${Math.round(deps.waitTimeoutMs / 1000)} s waiting for ${what}`,
        {
          code: 'wait_timeout',
        },
      );
    }
    await deps.sleep(deps.pollIntervalMs);
  }
}

/** Runs `work` over `items` with at most `limit` at once; the first failure is thrown after all settle. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await work(items[i] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}
