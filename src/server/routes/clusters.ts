import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import type { Principal } from '../../auth/service.ts';
import { ForbiddenError, InputError } from '../../errors.ts';
import type { Provisioner } from '../../provisioner/provisioner.ts';
import type { Store } from '../../store/db.ts';
import { supportedPatchList } from '../../versions/index.ts';
import {
  documented,
  emptyBodyAsObject,
  errorResponses,
  object,
  optionalBody,
  pathParams,
  type JsonSchema,
} from '../openapi.ts';
import { requirePrincipal } from '../principal.ts';
import { requireClusterAdmin } from './panel.ts';
import { clusterViewSchema, itemsOf, jobResultSchema, jobSchema, jobViewSchema } from './schemas.ts';

const str = { type: 'string' } as const;
const clusterParams = pathParams('id');
const errors = errorResponses(400, 401, 403, 404, 409, 502);

/** A route's options: its schema with summary, tag and the errors every cluster route may answer with. */
function route(summary: string, parts: { response: Record<number, JsonSchema> } & FastifySchema) {
  return documented({ summary, tags: ['clusters'], ...parts, response: { ...parts.response, ...errors } });
}

const createRoute = route(
  'Create a cluster (kaas operators) in `project`, by default your own project; 202 with the queued job',
  {
    body: object(
      {
        spec: { type: 'object', description: 'the cluster spec (name, kubernetesVersion, nodeGroups…)' },
        options: { type: 'object', description: 'provisioning options' },
        project: {
          ...str,
          minLength: 1,
          description:
            'the OpenStack project (id or name) the cluster belongs to and is built in, one you hold a role on (403 project_forbidden otherwise)',
        },
        defaultProject: {
          enum: ['requester', 'kaas'],
          description:
            "where the cluster goes without `project`: `requester` (default) your Keystone default project if you hold a role there, else the only project you hold a role on, else 400 project_required; `kaas` kaas's own project, where operators hold their role (the CLI's default)",
        },
      },
      ['options', 'project', 'defaultProject'],
    ),
    response: {
      202: object(
        { cluster: clusterViewSchema, job: jobSchema, privateKey: { ...str, description: 'shown once' } },
        ['privateKey'],
      ),
    },
  },
);

/** `PATCH /api/v1/clusters/:id`: one kind of change, the auto-heal switch or a group's autoscaling bounds. */
interface PatchBody {
  autoHeal?: boolean;
  group?: string;
  minSize?: number;
  maxSize?: number;
}

/** What the cluster routes need: the provisioner, and who may call them. */
export interface ClusterRouteDeps {
  provisioner: Pick<
    Provisioner,
    | 'createCluster'
    | 'requesterProject'
    | 'listClusters'
    | 'getCluster'
    | 'listJobs'
    | 'resizeCluster'
    | 'upgradeCluster'
    | 'deleteCluster'
    | 'retryJob'
    | 'getClusterJob'
    | 'rotateCredentials'
    | 'setAutoHeal'
    | 'setSizeBounds'
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
  const operator = requireOperator(isOperator);
  return async (request, clusterId) => {
    if (clusterId !== undefined) await requireClusterAdmin(store, request);
    else await operator(request);
  };
}

/** Route hook: ForbiddenError (403) unless the caller is a kaas operator (401 when anonymous). */
export function requireOperator(
  isOperator: ((principal: Principal) => Promise<boolean>) | undefined,
): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    if (!(isOperator && (await isOperator(requirePrincipal(request)))))
      throw new ForbiddenError('creating clusters is for kaas operators (holders of KAAS_OPERATOR_ROLE)');
  };
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
    // Before validation: a caller who may not do this learns nothing about the body it sent.
    app.addHook('preValidation', async (request) => {
      await deps.authorize(request, (request.params as { id?: string }).id);
    });
    routes(app);
  });

  function routes(app: FastifyInstance): void {
    app.post<{
      Body: {
        spec: unknown;
        options?: Record<string, unknown>;
        project?: string;
        defaultProject?: 'requester' | 'kaas';
      };
    }>('/api/v1/clusters', createRoute, async (request, reply) => {
      const { spec, options, project, defaultProject } = request.body;
      // kaas's own project needs no check: creating at all needs the operator role held there.
      const choice =
        project === undefined && defaultProject === 'kaas'
          ? {}
          : { projectId: (await provisioner.requesterProject(requirePrincipal(request).userId, project)).id };
      const created = await provisioner.createCluster(spec, options ?? {}, choice);
      return reply.status(202).send(created);
    });

    if (deps.listRoute !== false)
      app.get(
        '/api/v1/clusters',
        route('All clusters', { response: { 200: itemsOf(clusterViewSchema) } }),
        async () => ({ items: await provisioner.listClusters() }),
      );

    app.get<{ Params: { id: string } }>(
      '/api/v1/clusters/:id',
      {
        ...route('A cluster, with its Nodes as its API reports them now', {
          params: clusterParams,
          response: { 200: clusterViewSchema },
        }),
      },
      async (request) => provisioner.getCluster(request.params.id),
    );

    const size = (description: string) => ({ type: 'integer', description }) as const;
    app.patch<{ Params: { id: string }; Body: PatchBody }>(
      '/api/v1/clusters/:id',
      route(
        "Change a cluster's settings, one kind per request. `autoHeal`: turn auto-healing on or off for the cluster, or with `group` for one node group; the stored spec changes (no job) and the healer follows it at its next pass, also while a job runs (200). `minSize`/`maxSize`: a node group's autoscaling bounds (a bound not given keeps its value), refused while a job runs; when the group's size falls outside them, or its autoscaling turns on or off, 202 with the resize job that brings it into them and installs or removes cluster-autoscaler (the bounds are stored when it succeeds), else 200",
        {
          params: clusterParams,
          body: {
            ...object(
              {
                autoHeal: { type: 'boolean', description: 'the auto-healing switch' },
                group: {
                  ...str,
                  description:
                    "a node group of the cluster; absent: the whole cluster (autoHeal), the cluster's only group (bounds)",
                },
                minSize: size('fewest nodes cluster-autoscaler may shrink the group to'),
                maxSize: size('most nodes cluster-autoscaler may grow the group to'),
              },
              ['autoHeal', 'group', 'minSize', 'maxSize'],
            ),
            additionalProperties: false,
          },
          response: { 200: clusterViewSchema, 202: jobResultSchema },
        },
      ),
      async (request, reply) => {
        const { autoHeal, group, minSize, maxSize } = request.body;
        const bounds = minSize !== undefined || maxSize !== undefined;
        if (autoHeal === undefined && !bounds) {
          throw new InputError('autoHeal is required, or minSize and/or maxSize', { field: 'autoHeal' });
        }
        if (autoHeal !== undefined && bounds) {
          throw new InputError('autoHeal cannot be changed in the same request as minSize/maxSize', {
            field: 'autoHeal',
          });
        }
        const named = group === undefined ? {} : { group };
        if (autoHeal !== undefined) return provisioner.setAutoHeal(request.params.id, { autoHeal, ...named });
        const result = await provisioner.setSizeBounds(request.params.id, {
          ...named,
          ...(minSize === undefined ? {} : { minSize }),
          ...(maxSize === undefined ? {} : { maxSize }),
        });
        return 'job' in result ? reply.status(202).send(result) : result.cluster;
      },
    );

    type Flag = 'true' | 'false';
    const flag = (description: string) => ({ enum: ['true', 'false'], description });
    app.delete<{
      Params: { id: string };
      Querystring: { deleteVolumes?: Flag; keepVolumes?: Flag; keepBackups?: Flag };
    }>(
      '/api/v1/clusters/:id',
      {
        ...route('Delete a cluster; 202 with the queued job', {
          params: clusterParams,
          // A mistyped choice is refused, not ignored: ignoring it would delete what the caller meant to keep.
          querystring: {
            ...object(
              {
                deleteVolumes: flag(
                  "also delete the cluster's PersistentVolumeClaims through its API first (default false)",
                ),
                keepVolumes: flag('keep the Cinder volumes Cinder CSI made for the cluster (default false)'),
                keepBackups: flag(
                  "keep the cluster's etcd-backup, Velero and registry Swift containers (default false)",
                ),
              },
              ['deleteVolumes', 'keepVolumes', 'keepBackups'],
            ),
            additionalProperties: false,
          },
          response: { 202: jobResultSchema },
        }),
      },
      async (request, reply) => {
        const q = request.query;
        const options = {
          deleteVolumes: q.deleteVolumes === 'true',
          keepVolumes: q.keepVolumes === 'true',
          keepBackups: q.keepBackups === 'true',
        };
        return reply.status(202).send({ job: await provisioner.deleteCluster(request.params.id, options) });
      },
    );

    app.post<{ Params: { id: string }; Body: { group: string; count: number } }>(
      '/api/v1/clusters/:id/resize',
      {
        ...route('Resize a node group; 202 with the queued job', {
          params: clusterParams,
          body: object({
            group: { ...str, description: 'the name of a node group' },
            count: { type: 'integer', description: 'the wanted number of nodes' },
          }),
          response: { 202: jobResultSchema },
        }),
      },
      async (request, reply) => {
        const { group, count } = request.body;
        return reply
          .status(202)
          .send({ job: await provisioner.resizeCluster(request.params.id, group, count) });
      },
    );

    app.post<{ Params: { id: string }; Body: { version: string } }>(
      '/api/v1/clusters/:id/upgrade',
      {
        ...route('Upgrade to a Kubernetes version; 202 with the job, 200 when it already runs it', {
          params: clusterParams,
          body: object({ version: { ...str, description: `one of ${supportedPatchList()}` } }),
          response: {
            200: object({ job: { type: 'null' }, message: str }),
            202: jobResultSchema,
          },
        }),
      },
      async (request, reply) => {
        const { version } = request.body;
        const job = await provisioner.upgradeCluster(request.params.id, version);
        if (!job)
          return reply.status(200).send({ job: null, message: `cluster already runs Kubernetes ${version}` });
        return reply.status(202).send({ job });
      },
    );

    app.post<{ Params: { id: string } }>(
      '/api/v1/clusters/:id/rotate-credentials',
      route(
        "Replace the cluster's OpenStack application credential without downtime; 202 with the queued job",
        { params: clusterParams, response: { 202: jobResultSchema } },
      ),
      async (request, reply) =>
        reply.status(202).send({ job: await provisioner.rotateCredentials(request.params.id) }),
    );

    app.post<{ Params: { id: string }; Body: { jobId?: string } }>(
      '/api/v1/clusters/:id/retry',
      {
        ...route("Retry the cluster's last failed job (or jobId) from the step that failed", {
          params: clusterParams,
          body: optionalBody(object({ jobId: str }, ['jobId'])),
          response: { 202: jobResultSchema },
        }),
        preValidation: emptyBodyAsObject,
      },
      async (request, reply) => {
        const job = await provisioner.retryJob(request.params.id, request.body.jobId);
        return reply.status(202).send({ job });
      },
    );

    app.get<{ Params: { id: string } }>(
      '/api/v1/clusters/:id/jobs',
      {
        ...route("The cluster's jobs", {
          params: clusterParams,
          response: { 200: itemsOf(jobSchema) },
        }),
      },
      async (request) => ({
        items: await provisioner.listJobs(request.params.id),
      }),
    );

    app.get<{ Params: { id: string; jobId: string }; Querystring: { after?: string } }>(
      '/api/v1/clusters/:id/jobs/:jobId',
      {
        ...route('A job with its steps and events', {
          params: pathParams('id', 'jobId'),
          querystring: object(
            { after: { ...str, description: 'only events after this time (for polling)' } },
            ['after'],
          ),
          response: { 200: jobViewSchema },
        }),
      },
      // Progress is polled: getClusterJob does not contact the cluster's API.
      async (request) =>
        provisioner.getClusterJob(request.params.id, request.params.jobId, request.query.after),
    );
  }
}
