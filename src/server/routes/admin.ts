import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Agent, request as httpRequest } from 'undici';
import type { AuthService } from '../../auth/service.ts';
import { InputError, NotFoundError } from '../../errors.ts';
import { toSpec } from '../../provisioner/addons/rolebindings.ts';
import { findClusterEndpoint } from '../../store/findClusterEndpoint.ts';
import { findReconcileStatus } from '../../store/findReconcileStatus.ts';
import { getRoleBindings, type RoleBinding } from '../../store/getRoleBindings.ts';
import { listAddonStatus } from '../../store/listAddonStatus.ts';
import { listProjectMemberTokens } from '../../store/listProjectMemberTokens.ts';
import { listProjectRoles } from '../../store/listProjectRoles.ts';
import { replaceRoleBindings } from '../../store/replaceRoleBindings.ts';
import { noContent, nullable, object, pathParams } from '../openapi.ts';
import { registerAuditRoutes } from './audit.ts';
import {
  clusterParams,
  managedServiceLinks,
  observedOf,
  panelRoute,
  requireClusterAdmin,
  type PanelDeps,
} from './panel.ts';
import { itemsOf, observedSchema, serviceListSchema, tokenSchema } from './schemas.ts';

/** Outcome of an anonymous GET: `ok` for a 2xx answer. */
export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** Anonymous GET of a URL, trusting `ca` (PEM) when given; never throws. */
export type Probe = (url: string, options: { ca: string | null }) => Promise<ProbeResult>;

/** What the admin routes need beyond the panel's deps. */
export interface AdminDeps extends PanelDeps {
  /** Revocation goes through the auth service so its TokenReview caches forget the token at once. */
  auth: Pick<AuthService, 'adminDeleteToken'>;
  /** Reaches clusters' /healthz and service ingresses; defaults to `httpProbe`. */
  probe?: Probe;
}

/** The production probe: undici with a 3-second budget and the cluster CA as the only trust root when given. */
export const httpProbe: Probe = async (url, { ca }) => {
  const dispatcher = new Agent({
    connect: { timeout: 3000, ...(ca ? { ca } : {}) },
    headersTimeout: 3000,
    bodyTimeout: 3000,
  });
  try {
    const res = await httpRequest(url, { method: 'GET', dispatcher, signal: AbortSignal.timeout(4000) });
    const text = (await res.body.text()).slice(0, 200).trim();
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    return {
      ok,
      detail: ok ? text || `HTTP ${res.statusCode}` : `HTTP ${res.statusCode}${text ? `: ${text}` : ''}`,
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { ok: false, detail: `unreachable: ${cause ?? (error as Error).message}` };
  } finally {
    await dispatcher.close();
  }
};

const NAME = /^[a-z0-9]([-a-z0-9.:]{0,251}[a-z0-9])?$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MAX_BINDINGS = 200;

/** Validates a role-bindings PUT body into bindings; InputError names the offending field. */
export function parseRoleBindings(body: unknown): RoleBinding[] {
  const items = (body as { items?: unknown } | undefined)?.items;
  if (!Array.isArray(items))
    throw new InputError('items must be an array of role bindings', { field: 'items' });
  if (items.length > MAX_BINDINGS)
    throw new InputError(`at most ${MAX_BINDINGS} role bindings`, { field: 'items' });
  const seen = new Set<string>();
  return items.map((raw: unknown, i) => {
    const item = (raw ?? {}) as Record<string, unknown>;
    const field = (name: string) => ({ field: `items[${i}].${name}` });
    const { keystoneRoleId, kind, roleName, namespace } = item;
    if (typeof keystoneRoleId !== 'string' || keystoneRoleId === '' || keystoneRoleId.length > 64)
      throw new InputError('keystoneRoleId must be a Keystone role id', field('keystoneRoleId'));
    if (kind !== 'ClusterRole' && kind !== 'Role')
      throw new InputError('kind must be ClusterRole or Role', field('kind'));
    if (typeof roleName !== 'string' || !NAME.test(roleName))
      throw new InputError(
        'roleName must be a Kubernetes role name (lower case, digits, "-", ".", ":")',
        field('roleName'),
      );
    const ns = namespace === undefined || namespace === null || namespace === '' ? undefined : namespace;
    if (ns !== undefined && (typeof ns !== 'string' || !NAMESPACE.test(ns)))
      throw new InputError('namespace must be a DNS label (lower case, digits, "-")', field('namespace'));
    if (kind === 'Role' && ns === undefined)
      throw new InputError('a Role lives in a namespace: namespace is required', field('namespace'));
    const key = `${keystoneRoleId}\u0000${kind}\u0000${roleName}\u0000${ns ?? ''}`;
    if (seen.has(key)) throw new InputError('duplicate role binding', field('roleName'));
    seen.add(key);
    return { keystoneRoleId, kind, roleName, ...(ns !== undefined ? { namespace: ns as string } : {}) };
  });
}

const str = { type: 'string' } as const;
const nullableStr = nullable(str);

const overviewSchema = object({
  cluster: object({ id: str, name: str, projectId: str, projectName: str }),
  apiUrl: nullableStr,
  health: object({ state: { enum: ['healthy', 'unhealthy', 'unknown'] }, detail: str }),
  kubernetesVersion: nullableStr,
  nodeCount: nullable({ type: 'integer' }),
  provisioningState: nullableStr,
  reportedAt: nullableStr,
  observed: nullable(observedSchema),
});

const roleBindingSchema = object(
  {
    keystoneRoleId: { ...str, description: 'a Keystone role id held on the project' },
    kind: { enum: ['ClusterRole', 'Role'] },
    roleName: { ...str, description: 'a Kubernetes (Cluster)Role name' },
    namespace: { ...nullableStr, description: "a Role's namespace (required for kind Role)" },
  },
  ['namespace'],
);
const bindingItems = { type: 'array', items: roleBindingSchema, maxItems: MAX_BINDINGS };
const bindingState = { enum: ['none', 'pending', 'applied'] };

const roleBindingsSchema = object({
  items: bindingItems,
  revision: { type: 'integer' },
  appliedRevision: nullable({ type: 'integer' }),
  state: bindingState,
  updatedAt: nullableStr,
  updatedBy: nullableStr,
  appliedAt: nullableStr,
  availableRoles: { type: 'array', items: object({ id: str, name: str }) },
});

const memberTokenSchema = {
  ...tokenSchema,
  required: [...(tokenSchema.required as string[]), 'userId', 'userName', 'domainName', 'lastUsedAt'],
  properties: { ...(tokenSchema.properties as object), userId: str, userName: str, domainName: str },
};

/** An admin route's options (the panel's errors, tag `admin`). */
function adminRoute(summary: string, parts: Parameters<typeof panelRoute>[1]) {
  return panelRoute(summary, { params: clusterParams, ...parts }, 'admin');
}

/**
 * Administration API of one cluster. The caller must hold one of the cluster's admin roles on its
 * project: members get 403, users without any role there get 404.
 */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { store } = deps;
  const probe = deps.probe ?? httpProbe;
  const requireAdmin = (request: FastifyRequest) => requireClusterAdmin(store, request);

  app.get(
    '/api/v1/clusters/:id/admin/overview',
    adminRoute("The cluster's API address, health, version and Nodes", {
      response: { 200: overviewSchema },
    }),
    async (request) => {
      const { cluster } = await requireAdmin(request);
      const endpoint = await findClusterEndpoint({ db: store.db, clusterId: cluster.id });
      const observed = await observedOf(deps, cluster.id);
      const health = observed?.noApi
        ? { state: 'unknown', detail: `no Kubernetes API: ${observed.reason ?? ''}` }
        : endpoint?.apiUrl
          ? await probe(`${endpoint.apiUrl.replace(/\/+$/, '')}/healthz`, { ca: endpoint.caCertPem }).then(
              (r) => ({
                state: r.ok ? 'healthy' : 'unhealthy',
                detail: r.detail,
              }),
            )
          : { state: 'unknown', detail: 'the cluster has no API server address yet' };
      return {
        cluster: {
          id: cluster.id,
          name: cluster.name,
          projectId: cluster.projectId,
          projectName: cluster.projectName,
        },
        apiUrl: endpoint?.apiUrl ?? null,
        health,
        kubernetesVersion: endpoint?.kubernetesVersion ?? null,
        nodeCount: endpoint?.nodeCount ?? null,
        provisioningState: endpoint?.provisioningState ?? null,
        reportedAt: endpoint?.updatedAt ?? null,
        /** Nodes as the cluster's API reports them now; null when this kaas did not provision it. */
        observed,
      };
    },
  );

  app.get(
    '/api/v1/clusters/:id/admin/services',
    adminRoute('The managed services, whether each answers, and what the reconciler last did', {
      response: { 200: serviceListSchema },
    }),
    async (request) => {
      const { cluster } = await requireAdmin(request);
      const endpoint = await findClusterEndpoint({ db: store.db, clusterId: cluster.id });
      const ingressDomain = endpoint?.ingressDomain ?? null;
      const items = await Promise.all(
        managedServiceLinks(cluster.name, ingressDomain).map(async (s) => {
          if (!s.url)
            return { ...s, status: 'unknown', detail: 'no ingress domain recorded for this cluster' };
          const r = await probe(s.url, { ca: null });
          return { ...s, status: r.ok ? 'up' : 'down', detail: r.detail };
        }),
      );
      const sync = await findReconcileStatus({ db: store.db, clusterId: cluster.id });
      const services = await listAddonStatus({ db: store.db, clusterId: cluster.id });
      return {
        ingressDomain,
        items,
        reconcile: {
          ...sync,
          services: services.map((a) => ({
            name: a.addon,
            state: a.state,
            message: a.message,
            observedAt: a.observedAt,
          })),
        },
      };
    },
  );

  app.get(
    '/api/v1/clusters/:id/role-bindings',
    adminRoute('Which Keystone roles map to which Kubernetes roles', {
      response: { 200: roleBindingsSchema },
    }),
    async (request) => {
      const { cluster } = await requireAdmin(request);
      const set = await getRoleBindings({ db: store.db, clusterId: cluster.id });
      const roles = await listProjectRoles({ db: store.db, projectId: cluster.projectId });
      return {
        items: set.bindings,
        revision: set.revision,
        appliedRevision: set.appliedRevision,
        state: set.revision === 0 ? 'none' : set.appliedRevision === set.revision ? 'applied' : 'pending',
        updatedAt: set.updatedAt,
        updatedBy: set.updatedBy,
        appliedAt: set.appliedAt,
        availableRoles: roles.map((r) => ({ id: r.roleId, name: r.roleName })),
      };
    },
  );

  app.put(
    '/api/v1/clusters/:id/role-bindings',
    adminRoute('Replace the role bindings (applied to the cluster in the background)', {
      body: object({ items: bindingItems }),
      response: {
        200: object({ items: bindingItems, revision: { type: 'integer' }, state: bindingState }),
      },
    }),
    async (request) => {
      const { cluster, actor } = await requireAdmin(request);
      const bindings = parseRoleBindings(request.body);
      // The applier's own rule (protected namespaces): refused now, not later on the cluster.
      bindings.forEach((b, i) => toSpec(b, i, 'items'));
      // A binding to a role nobody can hold on this project grants nothing today and something
      // unexpected if the id ever appears: refuse it (the roles are those the panel offers).
      const roles = await listProjectRoles({ db: store.db, projectId: cluster.projectId });
      bindings.forEach((b, i) => {
        if (!roles.some((r) => r.roleId === b.keystoneRoleId))
          throw new InputError(
            `keystoneRoleId "${b.keystoneRoleId}" is not a role anyone holds on project "${cluster.projectName}"`,
            { field: `items[${i}].keystoneRoleId`, code: 'unknown_role' },
          );
      });
      const revision = await store.db.transaction().execute((trx) =>
        replaceRoleBindings({
          db: trx,
          clusterId: cluster.id,
          bindings,
          updatedBy: actor,
          now: deps.now(),
        }),
      );
      request.log.info({ clusterId: cluster.id, revision, actor }, 'role bindings replaced');
      return { items: bindings, revision, state: 'pending' };
    },
  );

  app.get(
    '/api/v1/clusters/:id/admin/tokens',
    adminRoute("The API tokens of the project's members", {
      response: { 200: itemsOf(memberTokenSchema) },
    }),
    async (request) => {
      const { cluster } = await requireAdmin(request);
      const tokens = await listProjectMemberTokens({ db: store.db, projectId: cluster.projectId });
      return {
        items: tokens.map((t) => ({
          id: t.id,
          name: t.name,
          userId: t.userId,
          userName: t.userName,
          domainName: t.domainName,
          createdAt: t.createdAt,
          expiresAt: t.expiresAt,
          lastUsedAt: t.lastUsedAt,
        })),
      };
    },
  );

  app.delete(
    '/api/v1/clusters/:id/admin/tokens/:tokenId',
    adminRoute("Revoke a member's API token", {
      params: pathParams('id', 'tokenId'),
      response: { 204: noContent },
    }),
    async (request, reply) => {
      const { cluster, actor } = await requireAdmin(request);
      const { tokenId } = request.params as { tokenId: string };
      const members = await listProjectMemberTokens({ db: store.db, projectId: cluster.projectId });
      const target = members.find((t) => t.id === tokenId);
      if (!target) throw new NotFoundError(`no token "${tokenId}" of a member of cluster "${cluster.name}"`);
      await deps.auth.adminDeleteToken(tokenId);
      request.log.info(
        { clusterId: cluster.id, tokenId, owner: target.userId, actor },
        'token revoked by administrator',
      );
      return reply.status(204).send();
    },
  );

  registerAuditRoutes(app, deps);
}
