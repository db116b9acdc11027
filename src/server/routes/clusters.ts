import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../../auth/service.ts';
import { ForbiddenError, InputError, NotFoundError } from '../../errors.ts';
import type { Provisioner } from '../../provisioner/provisioner.ts';
import type { Store } from '../../store/db.ts';
import { supportedPatchList } from '../../versions/index.ts';
import { requirePrincipal } from '../principal.ts';
import { requireClusterAdmin } from './panel.ts';

/** What the cluster routes need: the provisioner, and who may call them. */
export interface ClusterRouteDeps {
  provisioner: Pick<
    Provisioner,
    | 'createCluster'
    | 'listClusters'
    | 'getCluster'
    | 'listJobs'
    | 'resizeCluster'
    | 'upgradeCluster'
    | 'deleteCluster'
    | 'retryJob'
    | 'getJob'
  >;
  /**
   * Throws AuthError/ForbiddenError unless the caller may do this: `clusterId` is the cluster the
   * route acts on, undefined for create and list.
   */
  authorize(request: FastifyRequest, clusterId: string | undefined): void | Promise<void>;
  /** Serve `GET /api/v1/clusters` here; false when the control panel's per-user list owns that path. */
  listRoute?: boolean;
}

/**
 * Who may do what: operating a cluster needs one of its admin roles (members get 403, others 404);
 * creating one needs `isOperator` (without it, creation is for the operator CLI only).
 */
export function clusterGuard(
  store: Store,
  isOperator: ((principal: Principal) => Promise<boolean>) | undefined,
): ClusterRouteDeps['authorize'] {
  return async (request, clusterId) => {
    if (clusterId !== undefined) {
      await requireClusterAdmin(store, request);
      return;
    }
    if (!(isOperator && (await isOperator(requirePrincipal(request)))))
      throw new ForbiddenError('creating clusters is for kaas operators (holders of KAAS_OPERATOR_ROLE)');
  };
}

function body(request: FastifyRequest): Record<string, unknown> {
  const b = request.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new InputError('request body must be a JSON object');
  return b as Record<string, unknown>;
}

/**
 * Cluster lifecycle API. Every mutation returns 202 with the queued job; progress is read from
 * `GET /api/v1/clusters/{id}/jobs/{jobId}` (steps with their state, and events; `?after=<time>`
 * returns only newer events, for polling). `DELETE /api/v1/clusters/{id}?deleteVolumes=true` also
 * deletes the cluster's PersistentVolumeClaims (and so their volumes) before the cloud sweep.
 */
export function registerClusterRoutes(parent: FastifyInstance, deps: ClusterRouteDeps): void {
  const { provisioner } = deps;
  // An encapsulated scope, so the check guards these routes only (not the panel's under the same prefix).
  void parent.register(async (app) => {
    app.addHook('preHandler', async (request) => {
      await deps.authorize(request, (request.params as { id?: string }).id);
    });
    routes(app);
  });

  function routes(app: FastifyInstance): void {
    app.post('/api/v1/clusters', async (request, reply) => {
      const { spec, options } = body(request);
      const created = await provisioner.createCluster(spec, (options ?? {}) as Record<string, unknown>);
      return reply.status(202).send(created);
    });

    if (deps.listRoute !== false)
      app.get('/api/v1/clusters', async () => ({ items: await provisioner.listClusters() }));

    app.get<{ Params: { id: string } }>('/api/v1/clusters/:id', async (request) =>
      provisioner.getCluster(request.params.id),
    );

    app.delete<{
      Params: { id: string };
      Querystring: { deleteVolumes?: string; keepVolumes?: string; keepBackups?: string };
    }>('/api/v1/clusters/:id', async (request, reply) => {
      const q = request.query;
      const options = {
        deleteVolumes: booleanQuery(q.deleteVolumes, 'deleteVolumes'),
        keepVolumes: booleanQuery(q.keepVolumes, 'keepVolumes'),
        keepBackups: booleanQuery(q.keepBackups, 'keepBackups'),
      };
      return reply.status(202).send({ job: await provisioner.deleteCluster(request.params.id, options) });
    });

    app.post<{ Params: { id: string } }>('/api/v1/clusters/:id/resize', async (request, reply) => {
      const { group, count } = body(request);
      if (typeof group !== 'string')
        throw new InputError('group must be the name of a node group', { field: 'group' });
      if (typeof count !== 'number') throw new InputError('count must be a number', { field: 'count' });
      return reply
        .status(202)
        .send({ job: await provisioner.resizeCluster(request.params.id, group, count) });
    });

    app.post<{ Params: { id: string } }>('/api/v1/clusters/:id/upgrade', async (request, reply) => {
      const { version } = body(request);
      if (typeof version !== 'string')
        throw new InputError(
          `version must be one of the supported Kubernetes versions: ${supportedPatchList()}`,
          {
            field: 'version',
          },
        );
      const job = await provisioner.upgradeCluster(request.params.id, version);
      if (!job)
        return reply.status(200).send({ job: null, message: `cluster already runs Kubernetes ${version}` });
      return reply.status(202).send({ job });
    });

    app.post<{ Params: { id: string } }>('/api/v1/clusters/:id/retry', async (request, reply) => {
      const { jobId } = body(request);
      const job = await provisioner.retryJob(
        request.params.id,
        typeof jobId === 'string' ? jobId : undefined,
      );
      return reply.status(202).send({ job });
    });

    app.get<{ Params: { id: string } }>('/api/v1/clusters/:id/jobs', async (request) => ({
      items: await provisioner.listJobs(request.params.id),
    }));

    app.get<{ Params: { id: string; jobId: string }; Querystring: { after?: string } }>(
      '/api/v1/clusters/:id/jobs/:jobId',
      async (request) => {
        // Progress is polled: resolving the cluster must not contact its API each time.
        const cluster = await provisioner.getCluster(request.params.id, { observe: false });
        const view = await provisioner.getJob(request.params.jobId, request.query.after);
        if (view.job.clusterId !== cluster.id) {
          throw new NotFoundError(`cluster ${request.params.id} has no job ${request.params.jobId}`, {
            code: 'job_not_found',
          });
        }
        return view;
      },
    );
  }
}

/** `?name=true|false` (absent: false); anything else is refused rather than read as false. */
function booleanQuery(value: string | undefined, field: string): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw new InputError(`${field} must be true or false`, { field });
}
