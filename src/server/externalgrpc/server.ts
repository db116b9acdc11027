/**
 * kaas's cluster-autoscaler cloud provider: the upstream `externalgrpc` gRPC contract
 * (externalgrpc.proto beside this file), served with grpc-js over mutual TLS (credentials.ts).
 * A node group's id is `<cluster id>/<group>`; a caller acts only on the cluster its certificate
 * names (PERMISSION_DENIED for another). The operations are the provisioner's (autoscale.ts): a
 * scale-up or a node deletion is a resize job, under the cluster's one-job lock.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import {
  AuthError,
  ConflictError,
  ForbiddenError,
  InputError,
  KaasError,
  NotFoundError,
} from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Autoscale, AutoscaledGroup, AutoscalerInstance } from '../../provisioner/autoscale.ts';
import { clusterCaCredentials, clusterOfPeer } from './credentials.ts';

/** The proto's file (shipped next to the bundle by scripts/build.mjs). */
export const EXTERNALGRPC_PROTO = fileURLToPath(new URL('./externalgrpc.proto', import.meta.url));
/** The service's full name, as cluster-autoscaler dials it. */
export const EXTERNALGRPC_SERVICE = 'clusterautoscaler.cloudprovider.v1.externalgrpc.CloudProvider';

/** proto-loader options both sides use: the proto's field names, enums as names, 64-bit as numbers. */
export const PROTO_OPTIONS = { keepCase: true, enums: String, longs: Number, defaults: true } as const;

/** The CloudProvider service definition, loaded from the proto. */
export function cloudProviderService(): grpc.ServiceDefinition {
  const pkg = grpc.loadPackageDefinition(loadSync(EXTERNALGRPC_PROTO, PROTO_OPTIONS));
  const ctor = EXTERNALGRPC_SERVICE.split('.').reduce<unknown>(
    (at, part) => (at as Record<string, unknown>)[part],
    pkg,
  ) as grpc.ServiceClientConstructor;
  return ctor.service;
}

/** Dependencies of {@link startExternalGrpc}. */
export interface ExternalGrpcDeps {
  autoscale: Autoscale;
  /** The CA certificate (PEM) of each cluster, by id: whose client certificates are let in. */
  clusterCas: () => Promise<Map<string, string>>;
  /** kaas's TLS server certificate and key (what KAAS_TLS_CERT_FILE/KEY_FILE name). */
  identity: { certPem: string; keyPem: string };
  logger: Logger;
  /** How often the cluster CAs are re-read; default 10 s. */
  caRefreshMs?: number;
}

/** A running externalgrpc server. */
export interface ExternalGrpcServer {
  port: number;
  /** Re-reads the cluster CAs now (a cluster just created). */
  refreshCas(): Promise<void>;
  close(): Promise<void>;
}

const GROUP_SEPARATOR = '/';

/** The gRPC status of a domain error (the one mapping point for this protocol). */
export function grpcStatusOf(error: unknown): grpc.status {
  if (error instanceof InputError) return grpc.status.INVALID_ARGUMENT;
  if (error instanceof NotFoundError) return grpc.status.NOT_FOUND;
  if (error instanceof AuthError) return grpc.status.UNAUTHENTICATED;
  if (error instanceof ForbiddenError) return grpc.status.PERMISSION_DENIED;
  if (error instanceof ConflictError) {
    if (error.code === 'outside_size_bounds') return grpc.status.OUT_OF_RANGE;
    // Both pass: the autoscaler asks again.
    if (error.code === 'operation_in_progress' || error.code === 'cluster_spec_busy')
      return grpc.status.UNAVAILABLE;
    return grpc.status.FAILED_PRECONDITION;
  }
  return grpc.status.INTERNAL;
}

const pbGroup = (clusterId: string, g: AutoscaledGroup) => ({
  id: `${clusterId}${GROUP_SEPARATOR}${g.name}`,
  minSize: g.minSize,
  maxSize: g.maxSize,
  debug: `kaas cluster ${clusterId} node group ${g.name}: ${g.minSize}..${g.maxSize}, target ${g.targetSize}`,
});

const STATE: Record<AutoscalerInstance['state'], string> = {
  running: 'instanceRunning',
  creating: 'instanceCreating',
  deleting: 'instanceDeleting',
};

// Cluster-autoscaler's InstanceErrorClass for an error that is not out-of-resources.
const OTHER_ERROR_CLASS = 99;

interface PbNode {
  providerID?: string;
  name?: string;
  labels?: Record<string, string>;
}

const nodeOf = (n: PbNode | undefined | null) => ({
  name: n?.name ?? '',
  providerID: n?.providerID ?? '',
  labels: n?.labels ?? {},
});

/** Starts the externalgrpc server on `host:port` (0: any free port). */
export async function startExternalGrpc(
  deps: ExternalGrpcDeps,
  listen: { host: string; port: number },
): Promise<ExternalGrpcServer> {
  const tls = await clusterCaCredentials({
    identity: deps.identity,
    cas: deps.clusterCas,
    refreshMs: deps.caRefreshMs ?? 10_000,
    logger: deps.logger,
  });
  const { autoscale } = deps;

  /**
   * A unary handler: the caller's cluster from its certificate, then `work`; a domain error becomes
   * its status with its message, anything else INTERNAL without details (logged here).
   */
  function unary<Req, Res>(name: string, work: (clusterId: string, request: Req) => Promise<Res>) {
    return (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
      (async () => {
        const clusterId = clusterOfPeer(call.getAuthContext().sslPeerCertificate, tls.caOf);
        return work(clusterId, call.request);
      })().then(
        (response) => callback(null, response),
        (error: unknown) => {
          const code = grpcStatusOf(error);
          if (code === grpc.status.INTERNAL)
            deps.logger.error({ err: error, rpc: name }, 'externalgrpc call failed');
          else deps.logger.info({ rpc: name, code: (error as KaasError).code }, (error as Error).message);
          callback({
            code,
            details:
              code === grpc.status.INTERNAL ? 'internal error (see the kaas log)' : (error as Error).message,
          });
        },
      );
    };
  }

  /** The group of id `<cluster>/<group>`, only on the caller's own cluster. */
  function groupOf(clusterId: string, id: string | undefined): string {
    const at = (id ?? '').indexOf(GROUP_SEPARATOR);
    if (at <= 0)
      throw new InputError(`node group id must be <cluster id>/<group>, got ${JSON.stringify(id)}`, {
        field: 'id',
      });
    if (id!.slice(0, at) !== clusterId) {
      throw new ForbiddenError(`this certificate is for cluster ${clusterId}, not ${id!.slice(0, at)}`, {
        code: 'other_cluster',
      });
    }
    return id!.slice(at + 1);
  }

  const server = new grpc.Server();
  server.addService(cloudProviderService(), {
    NodeGroups: unary('NodeGroups', async (clusterId) => ({
      nodeGroups: (await autoscale.nodeGroups(clusterId)).map((g) => pbGroup(clusterId, g)),
    })),
    NodeGroupForNode: unary('NodeGroupForNode', async (clusterId, req: { node?: PbNode }) => {
      const group = await autoscale.groupForNode(clusterId, nodeOf(req.node));
      return { nodeGroup: group ? pbGroup(clusterId, group) : { id: '', minSize: 0, maxSize: 0, debug: '' } };
    }),
    // kaas knows no GPU flavors: the label cluster-autoscaler's own providers use, and no types.
    GPULabel: unary('GPULabel', async () => ({ label: 'nvidia.com/gpu.present' })),
    GetAvailableGPUTypes: unary('GetAvailableGPUTypes', async () => ({ gpuTypes: {} })),
    // Nothing is held between calls: every answer is read fresh from the store and the cloud.
    Cleanup: unary('Cleanup', async () => ({})),
    Refresh: unary('Refresh', async () => ({})),
    NodeGroupTargetSize: unary('NodeGroupTargetSize', async (clusterId, req: { id?: string }) => ({
      targetSize: await autoscale.targetSize(clusterId, groupOf(clusterId, req.id)),
    })),
    NodeGroupIncreaseSize: unary(
      'NodeGroupIncreaseSize',
      async (clusterId, req: { id?: string; delta?: number }) => {
        await autoscale.increaseSize(clusterId, groupOf(clusterId, req.id), req.delta ?? 0);
        return {};
      },
    ),
    NodeGroupDeleteNodes: unary(
      'NodeGroupDeleteNodes',
      async (clusterId, req: { id?: string; nodes?: PbNode[] }) => {
        await autoscale.deleteNodes(clusterId, groupOf(clusterId, req.id), (req.nodes ?? []).map(nodeOf));
        return {};
      },
    ),
    NodeGroupDecreaseTargetSize: unary(
      'NodeGroupDecreaseTargetSize',
      async (clusterId, req: { id?: string; delta?: number }) =>
        autoscale.decreaseTargetSize(clusterId, groupOf(clusterId, req.id), req.delta ?? 0),
    ),
    NodeGroupNodes: unary('NodeGroupNodes', async (clusterId, req: { id?: string }) => ({
      instances: (await autoscale.nodes(clusterId, groupOf(clusterId, req.id))).map((i) => ({
        id: i.id,
        status: {
          instanceState: STATE[i.state],
          errorInfo: i.error
            ? {
                errorCode: i.error.code,
                errorMessage: i.error.message,
                instanceErrorClass: OTHER_ERROR_CLASS,
              }
            : { errorCode: '', errorMessage: '', instanceErrorClass: 0 },
        },
      })),
    })),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`,
      tls.credentials,
      (error, bound) => (error ? reject(error) : resolve(bound)),
    ),
  ).catch((error: unknown) => {
    tls.stop();
    throw new InputError(
      `externalgrpc cannot listen on ${listen.host}:${listen.port}: ${(error as Error).message}`,
      {
        code: 'invalid_config',
        field: 'KAAS_AUTOSCALER_PORT',
        cause: error,
      },
    );
  });
  return {
    port,
    refreshCas: tls.refresh,
    close: () =>
      new Promise<void>((resolve) => {
        tls.stop();
        // Calls in flight get 5 s; then open connections (an autoscaler's idle channel) are cut.
        const force = setTimeout(() => server.forceShutdown(), 5_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
