import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { stringify } from 'yaml';
import { ConflictError, ForbiddenError, InputError, NotFoundError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { ObservedState } from '../../provisioner/observe.ts';
import type { Store } from '../../store/db.ts';
import { findCluster } from '../../store/findCluster.ts';
import { findClusterEndpoint, type ClusterEndpoint } from '../../store/findClusterEndpoint.ts';
import { getActiveCluster } from '../../store/getActiveCluster.ts';
import type { ClusterRecord } from '../../store/insertCluster.ts';
import { listClusters } from '../../store/listClusters.ts';
import { listProvisionedClusters } from '../../store/listProvisionedClusters.ts';
import { listUserProjectRoles } from '../../store/listUserProjectRoles.ts';
import { setActiveCluster } from '../../store/setActiveCluster.ts';
import { documented, errorResponses, nullable, object, pathParams, textResponse } from '../openapi.ts';
import { requirePrincipal, signedIn } from '../principal.ts';
import { nodeCountSchema, projectSchema, serviceListSchema } from './schemas.ts';

/** What the control-panel routes need. */
export interface PanelDeps {
  store: Store;
  logger: Logger;
  now: () => Date;
  /**
   * Reads a cluster's Nodes from its own API now (the provisioner's observeCluster); throws
   * NotFoundError for a cluster this kaas did not provision. Absent: nothing is observed.
   */
  observe?: (clusterId: string) => Promise<ObservedState>;
  /** The URL users reach kaas at (see ServerDeps.publicUrl); exec kubeconfigs need it. */
  publicUrl?: () => string;
}

/** The cluster's observed state, or null when this kaas cannot observe it (it did not provision it). */
export async function observedOf(deps: PanelDeps, clusterId: string): Promise<ObservedState | null> {
  if (!deps.observe) return null;
  try {
    return await deps.observe(clusterId);
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
}

/** A cluster as one user sees it: their roles on its project and whether they administer it. */
export interface ClusterAccess {
  cluster: ClusterRecord;
  roleIds: string[];
  isAdmin: boolean;
}

function accessFrom(cluster: ClusterRecord, roles: { roleId: string }[]): ClusterAccess {
  const roleIds = roles.map((r) => r.roleId);
  return { cluster, roleIds, isAdmin: roleIds.some((id) => cluster.adminRoleIds.includes(id)) };
}

/** Clusters the user holds any role on (per the synced assignments), oldest first. */
export async function visibleClusters(store: Store, userId: string): Promise<ClusterAccess[]> {
  const visible: ClusterAccess[] = [];
  for (const cluster of await listClusters({ db: store.db })) {
    const roles = await listUserProjectRoles({ db: store.db, userId, projectId: cluster.projectId });
    if (roles.length > 0) visible.push(accessFrom(cluster, roles));
  }
  return visible;
}

/**
 * The user's access to one cluster. A cluster the user holds no role on is reported as not found,
 * the same as one that does not exist, so ids of other projects' clusters don't leak.
 */
export async function clusterAccess(store: Store, userId: string, clusterId: string): Promise<ClusterAccess> {
  const cluster = await findCluster({ db: store.db, id: clusterId });
  const roles = cluster
    ? await listUserProjectRoles({ db: store.db, userId, projectId: cluster.projectId })
    : [];
  if (!cluster || roles.length === 0)
    throw new NotFoundError(`no cluster "${clusterId}" that you have access to`);
  return accessFrom(cluster, roles);
}

/**
 * The caller's access to the cluster named by the `:id` route parameter, if they administer it:
 * ForbiddenError (403) for members, NotFoundError (404) for users without any role there.
 */
export async function requireClusterAdmin(
  store: Store,
  request: FastifyRequest,
): Promise<ClusterAccess & { actor: string }> {
  const principal = requirePrincipal(request);
  const { id } = request.params as { id: string };
  const access = await clusterAccess(store, principal.userId, id);
  if (!access.isAdmin)
    throw new ForbiddenError(
      `administering cluster "${access.cluster.name}" needs its admin role on project "${access.cluster.projectName}"`,
    );
  return { ...access, actor: `${principal.userName}@${principal.domainName}` };
}

/** How a kubeconfig authenticates: the `kaas credential` exec plugin, or a pasted API token. */
export type KubeconfigAuth = { mode: 'exec'; kaasUrl: string } | { mode: 'token'; token: string };

/**
 * Renders a kubeconfig for one cluster. Pure: same input, same bytes. The exec plugin keeps the
 * secret out of the file (kubectl asks `kaas credential` for it); token mode embeds the token.
 */
export function renderKubeconfig(input: {
  cluster: { id: string; name: string };
  endpoint: { apiUrl: string; caCertPem: string | null };
  userName: string;
  auth: KubeconfigAuth;
}): string {
  const { cluster, endpoint, userName, auth } = input;
  const userEntry = `${userName}@${cluster.name}`;
  const clusterEntry: Record<string, string> = { server: endpoint.apiUrl };
  if (endpoint.caCertPem)
    clusterEntry['certificate-authority-data'] = Buffer.from(endpoint.caCertPem).toString('base64');
  const user =
    auth.mode === 'exec'
      ? {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: 'kaas',
            args: ['credential', '--cluster', cluster.id],
            env: [{ name: 'KAAS_URL', value: auth.kaasUrl }],
            // kaas is not on the npm registry: the CLI installs from a tarball packed in a source tree
            // (test/build/pack.test.ts installs one the same way).
            installHint:
              'Install the kaas CLI from a kaas source tree (npm ci && npm pack, then npm install -g ./kaas-*.tgz) and run "kaas login" once.',
            interactiveMode: 'IfAvailable',
            provideClusterInfo: false,
          },
        }
      : { token: auth.token };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster.name, cluster: clusterEntry }],
    users: [{ name: userEntry, user }],
    contexts: [{ name: cluster.name, context: { cluster: cluster.name, user: userEntry } }],
    'current-context': cluster.name,
    preferences: {},
  });
}

/** The managed services every cluster runs behind its ingress, one subdomain each. */
export const MANAGED_SERVICES = [
  { id: 'grafana', name: 'Grafana', description: 'Dashboards for cluster and workload metrics' },
  { id: 'prometheus', name: 'Prometheus', description: 'Metrics collection, queries and alerts' },
  { id: 'kibana', name: 'Kibana', description: 'Search and visualise cluster and application logs' },
  { id: 'registry', name: 'Container registry', description: 'Private image registry for this cluster' },
] as const;

/** Each managed service with its ingress URL (`https://<service>.<cluster>.<domain>`), or null when no domain is known. */
export function managedServiceLinks(clusterName: string, ingressDomain: string | null) {
  return MANAGED_SERVICES.map((s) => ({
    ...s,
    url: ingressDomain ? `https://${s.id}.${clusterName}.${ingressDomain}` : null,
  }));
}

const TOKEN_SHAPE = /^[A-Za-z0-9_.~+/=-]{16,512}$/;

async function requireEndpoint(
  store: Store,
  cluster: ClusterRecord,
): Promise<ClusterEndpoint & { apiUrl: string }> {
  const endpoint = await findClusterEndpoint({ db: store.db, clusterId: cluster.id });
  if (!endpoint?.apiUrl)
    throw new ConflictError(
      `cluster "${cluster.name}" has no API server address yet: it is not provisioned`,
      {
        code: 'cluster_not_provisioned',
      },
    );
  return { ...endpoint, apiUrl: endpoint.apiUrl };
}

/** Sends a download the browser saves as `filename` (made safe), never cached. */
export function sendAttachment(
  reply: FastifyReply,
  contentType: string,
  filename: string,
  body: string | NodeJS.ReadableStream,
) {
  return reply
    .header('content-type', contentType)
    .header('content-disposition', `attachment; filename="${filename.replace(/[^A-Za-z0-9_.-]/g, '_')}"`)
    .header('cache-control', 'no-store')
    .send(body);
}

function sendKubeconfig(reply: FastifyReply, clusterName: string, yaml: string) {
  return sendAttachment(reply, 'application/yaml; charset=utf-8', `kubeconfig-${clusterName}.yaml`, yaml);
}

const str = { type: 'string' } as const;
/** The path parameter of a cluster's routes. */
export const clusterParams = pathParams('id');
const kubeconfigResponse = textResponse(
  'application/yaml',
  'a kubeconfig file for the cluster',
  object({
    apiVersion: { const: 'v1' },
    kind: { const: 'Config' },
    clusters: { type: 'array', items: { type: 'object' } },
    contexts: { type: 'array', items: { type: 'object' } },
    users: { type: 'array', items: { type: 'object' } },
    'current-context': str,
  }),
);

/** A panel route's options: its schema with summary, tag and the error statuses of the panel's routes. */
export function panelRoute(
  summary: string,
  parts: { params?: object; querystring?: object; body?: object; response: Record<number, object> },
  tag = 'panel',
) {
  return {
    ...documented({
      summary,
      tags: [tag],
      ...parts,
      response: { ...parts.response, ...errorResponses(400, 401, 403, 404, 409, 502) },
    }),
    preValidation: signedIn,
  };
}

/**
 * Control-panel API for every logged-in user: the clusters they can see, their remembered active
 * cluster, kubeconfig downloads.
 */
export function registerPanelRoutes(app: FastifyInstance, deps: PanelDeps): void {
  const { store } = deps;

  app.get(
    '/api/v1/clusters',
    panelRoute('The clusters you hold a role on, and your active one', {
      response: {
        200: object({
          items: {
            type: 'array',
            items: object({
              id: str,
              name: str,
              project: { ...projectSchema, description: 'the OpenStack project the cluster belongs to' },
              isAdmin: { type: 'boolean' },
              status: {
                ...nullable(str),
                description: "kaas' provisioning state; null when kaas did not provision it",
              },
              kubernetesVersion: nullable(str),
            }),
          },
          activeClusterId: nullable(str),
        }),
      },
    }),
    async (request) => {
      const principal = requirePrincipal(request);
      // A token restricted to chosen clusters lists only those.
      const allowed = principal.clusters;
      const visible = (await visibleClusters(store, principal.userId)).filter(
        (v) => !allowed || allowed.includes(v.cluster.id),
      );
      const remembered = await getActiveCluster({ db: store.db, userId: principal.userId });
      const active = visible.find((v) => v.cluster.id === remembered) ?? visible[0];
      const provisioned = new Map(
        (await listProvisionedClusters({ db: store.db })).map((p) => [p.id, p] as const),
      );
      const stateOf = (id: string) => {
        const p = provisioned.get(id);
        const version = (p?.spec as { kubernetesVersion?: unknown } | undefined)?.kubernetesVersion;
        return { status: p?.status ?? null, kubernetesVersion: typeof version === 'string' ? version : null };
      };
      return {
        items: visible.map((v) => ({
          id: v.cluster.id,
          name: v.cluster.name,
          project: { id: v.cluster.projectId, name: v.cluster.projectName },
          isAdmin: v.isAdmin,
          ...stateOf(v.cluster.id),
        })),
        activeClusterId: active?.cluster.id ?? null,
      };
    },
  );

  app.put<{ Body: { clusterId: string } }>(
    '/api/v1/session/active-cluster',
    panelRoute('Remember the cluster the panel shows', {
      body: object({ clusterId: { ...str, minLength: 1 } }),
      response: { 200: object({ activeClusterId: str }) },
    }),
    async (request) => {
      const principal = requirePrincipal(request);
      const body = request.body;
      if (principal.clusters && !principal.clusters.includes(body.clusterId))
        throw new NotFoundError(`no cluster "${body.clusterId}" that you have access to`);
      const access = await clusterAccess(store, principal.userId, body.clusterId);
      await setActiveCluster({
        db: store.db,
        userId: principal.userId,
        clusterId: access.cluster.id,
        now: deps.now(),
      });
      return { activeClusterId: access.cluster.id };
    },
  );

  app.get(
    '/api/v1/clusters/:id/services',
    panelRoute("The cluster's managed services and their addresses", {
      params: clusterParams,
      response: { 200: serviceListSchema },
    }),
    async (request) => {
      const principal = requirePrincipal(request);
      const { id } = request.params as { id: string };
      const { cluster } = await clusterAccess(store, principal.userId, id);
      const endpoint = await findClusterEndpoint({ db: store.db, clusterId: cluster.id });
      const ingressDomain = endpoint?.ingressDomain ?? null;
      return { ingressDomain, items: managedServiceLinks(cluster.name, ingressDomain) };
    },
  );

  // Members see how many Nodes are Ready; the reason and per-group detail are for administrators.
  app.get(
    '/api/v1/clusters/:id/nodes',
    panelRoute("How many of the cluster's Nodes are Ready", {
      params: clusterParams,
      response: {
        200: object({
          observed: nullable(
            object(
              {
                checkedAt: str,
                reachable: { type: 'boolean' },
                noApi: { type: 'boolean' },
                notYet: { type: 'boolean' },
                nodes: nodeCountSchema,
              },
              ['noApi', 'notYet'],
            ),
          ),
        }),
      },
    }),
    async (request) => {
      const principal = requirePrincipal(request);
      const { id } = request.params as { id: string };
      const { cluster } = await clusterAccess(store, principal.userId, id);
      const observed = await observedOf(deps, cluster.id);
      return {
        observed: observed && {
          checkedAt: observed.checkedAt,
          reachable: observed.reachable,
          ...(observed.noApi ? { noApi: true } : {}),
          ...(observed.notYet ? { notYet: true } : {}),
          nodes: observed.nodes,
        },
      };
    },
  );

  app.get<{ Querystring: { mode?: string } }>(
    '/api/v1/clusters/:id/kubeconfig',
    panelRoute('A kubeconfig that authenticates with the `kaas credential` exec plugin', {
      params: clusterParams,
      querystring: object(
        { mode: { ...str, description: 'exec (default); token mode is POST, with the token' } },
        ['mode'],
      ),
      response: { 200: kubeconfigResponse },
    }),
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const { id } = request.params as { id: string };
      const { mode = 'exec' } = request.query;
      if (mode === 'token')
        throw new InputError('token mode embeds a secret: POST the token to this URL instead of GET', {
          field: 'mode',
        });
      if (mode !== 'exec')
        throw new InputError(`unknown mode "${mode}": use exec or token`, { field: 'mode' });
      const { cluster } = await clusterAccess(store, principal.userId, id);
      const endpoint = await requireEndpoint(store, cluster);
      if (!deps.publicUrl)
        throw new InputError('kaas does not know its public URL: the operator sets KAAS_PUBLIC_URL', {
          code: 'public_url_unset',
        });
      const kaasUrl = deps.publicUrl();
      const yaml = renderKubeconfig({
        cluster,
        endpoint,
        userName: principal.userName,
        auth: { mode: 'exec', kaasUrl },
      });
      return sendKubeconfig(reply, cluster.name, yaml);
    },
  );

  app.post<{ Body: { token: string } }>(
    '/api/v1/clusters/:id/kubeconfig',
    panelRoute('A kubeconfig with one of your API tokens embedded', {
      params: clusterParams,
      body: object({ token: { ...str, description: 'a kaas API token' } }),
      response: { 200: kubeconfigResponse },
    }),
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const { id } = request.params as { id: string };
      const body = request.body;
      if (!TOKEN_SHAPE.test(body.token))
        throw new InputError('token is required and must be a kaas API token', { field: 'token' });
      const { cluster } = await clusterAccess(store, principal.userId, id);
      const endpoint = await requireEndpoint(store, cluster);
      const yaml = renderKubeconfig({
        cluster,
        endpoint,
        userName: principal.userName,
        auth: { mode: 'token', token: body.token },
      });
      return sendKubeconfig(reply, cluster.name, yaml);
    },
  );
}
