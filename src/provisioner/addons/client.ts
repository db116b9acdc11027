/**
 * The slice of the Kubernetes API the addon appliers need — server-side apply, read, list by
 * label, delete, and "is this kind served" — over @kubernetes/client-node's dynamic
 * KubernetesObjectApi, with every failure turned into an UpstreamError naming what was being done.
 */
import {
  ApiException,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject as ClientObject,
} from '@kubernetes/client-node';
import type { KubernetesObject } from '../../addons/index.ts';
import { UpstreamError } from '../../errors.ts';
import type { ObjectRef } from '../../store/listAddonStatus.ts';
import { kubeConfigFor, type KubeAccess } from '../kubeclient.ts';
import { refusedMessage } from '../identity.ts';

/** The field manager kaas applies as; it owns every field of what it renders. */
export const FIELD_MANAGER = 'kaas';

/** An object as the API server returns it (metadata filled in, maybe a status). */
export interface LiveObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  status?: unknown;
  [key: string]: unknown;
}

/** What the appliers do against one cluster. */
export interface ClusterApi {
  /** Server-side apply with force as FIELD_MANAGER: creates or converges, a no-op when unchanged. */
  apply(obj: KubernetesObject): Promise<LiveObject>;
  /** The live object, or undefined when it does not exist. */
  read(ref: ObjectRef): Promise<LiveObject | undefined>;
  /** Objects of one kind (all namespaces) carrying every label of the selector. */
  list(apiVersion: string, kind: string, labelSelector: string): Promise<LiveObject[]>;
  /** Deletes; an object already gone is fine. */
  remove(ref: ObjectRef): Promise<'deleted' | 'absent'>;
  /** Whether the API serves this kind now (a custom kind only once its CRD is established). */
  served(apiVersion: string, kind: string): Promise<boolean>;
}

/** Human name of an object in messages: `Deployment kaas-system/grafana`. */
export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace === undefined ? '' : `${ref.namespace}/`}${ref.name}`;
}

/** The reference the store keeps for an object. */
export function refOf(obj: KubernetesObject): ObjectRef {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    ...(obj.metadata.namespace === undefined ? {} : { namespace: obj.metadata.namespace }),
    name: obj.metadata.name,
  };
}

function statusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? (err.code as number) : undefined;
}

/** The `message` of a Kubernetes Status body (parsed or not), else the body's start. */
export function statusMessage(body: unknown): string {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.slice(0, 300);
    }
  }
  const message = (parsed as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : JSON.stringify(parsed).slice(0, 300);
}

/** Maps a client failure to an UpstreamError saying what failed and why, keeping the cause. */
export function kubeError(server: string, what: string, err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (err instanceof ApiException) {
    if (err.code === 401 || err.code === 403)
      return new UpstreamError(`${what}: ${refusedMessage(err.code)}`, {
        code: 'kube_api_refused',
        cause: err,
      });
    const detail = statusMessage(err.body);
    return new UpstreamError(`${what}: Kubernetes API ${server} answered ${String(err.code)}: ${detail}`, {
      code: 'kube_api_error',
      cause: err,
    });
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new UpstreamError(`${what}: Kubernetes API ${server} unreachable: ${reason}`, {
    code: 'kube_api_unreachable',
    cause: err,
  });
}

/** A type name the client's serializer does not know: responses come back as the server sent them. */
const AS_SENT = 'KubernetesObject';

/** KubernetesObjectApi with its (protected) discovery lookup made callable and a faithful apply. */
export class ObjectApi extends KubernetesObjectApi {
  /** Discovery entry of the kind, undefined when its group-version is served but not the kind. */
  discover(apiVersion: string, kind: string) {
    return this.resource(apiVersion, kind);
  }

  /**
   * Server-side apply (forced, as `fieldManager`) of `obj` exactly as given. The inherited patch()
   * first passes the body through the client's typed models, which silently drop every field they
   * do not know by its TypeScript name (a CRD schema's `x-kubernetes-preserve-unknown-fields`,
   * `default` and `enum`; fields newer than the models), after which the server prunes whatever
   * such a CRD no longer preserves. Sent as rendered, a field the server does not know is refused.
   */
  async serverSideApply(obj: ClientObject, fieldManager: string): Promise<LiveObject> {
    const path = await this.specUriPath(structuredClone(obj), 'patch');
    const request = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    request.setHeaderParam('Accept', 'application/json');
    request.setHeaderParam('Content-Type', PatchStrategy.ServerSideApply);
    request.setQueryParam('fieldManager', fieldManager);
    request.setQueryParam('force', 'true');
    request.setBody(JSON.stringify(obj));
    return (await this.requestPromise(request, AS_SENT)) as LiveObject;
  }
}

/** A ClusterApi over any kubeconfig (tests point it at a local API server). */
export function clusterApiFromConfig(kc: KubeConfig): ClusterApi {
  const server = kc.getCurrentCluster()?.server ?? 'unknown';
  return clusterApi(kc.makeApiClient(ObjectApi), server);
}

function spec(ref: ObjectRef): ClientObject & { metadata: { name: string } } {
  return {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }) },
  };
}

/**
 * Wraps a KubernetesObjectApi for one cluster. `server` only appears in error messages.
 * The client mutates the specs it is given (it fills in defaults), so they are always fresh.
 */
export function clusterApi(api: ObjectApi, server: string): ClusterApi {
  const fail = (what: string, err: unknown) => kubeError(server, what, err);
  return {
    async apply(obj) {
      try {
        return await api.serverSideApply(obj as unknown as ClientObject, FIELD_MANAGER);
      } catch (err) {
        throw fail(`apply of ${describeRef(refOf(obj))}`, err);
      }
    },
    async read(ref) {
      try {
        const live: ClientObject = await api.read(spec(ref));
        return live as LiveObject;
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw fail(`read of ${describeRef(ref)}`, err);
      }
    },
    async list(apiVersion, kind, labelSelector) {
      try {
        const res = await api.list(
          apiVersion,
          kind,
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
          labelSelector,
        );
        return res.items as LiveObject[];
      } catch (err) {
        throw fail(`list of ${kind} (${labelSelector})`, err);
      }
    },
    async remove(ref) {
      try {
        await api.delete(spec(ref), undefined, undefined, undefined, undefined, 'Background');
        return 'deleted';
      } catch (err) {
        if (statusOf(err) === 404) return 'absent';
        throw fail(`delete of ${describeRef(ref)}`, err);
      }
    },
    async served(apiVersion, kind) {
      try {
        return (await api.discover(apiVersion, kind)) !== undefined;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw fail(`discovery of ${apiVersion} ${kind}`, err);
      }
    },
  };
}

/** The production ClusterApi: the cluster's break-glass client certificate, trusting only its CA. */
export function clusterApiFor(access: KubeAccess): ClusterApi {
  return clusterApiFromConfig(kubeConfigFor(access));
}
