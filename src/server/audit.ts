import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { describeAutoHeal } from '../cluster/autoheal.ts';
import type { ClusterSpec } from '../cluster/spec.ts';
import type { Store } from '../store/db.ts';
import { findKeystoneUserIdByName } from '../store/findKeystoneUserIdByName.ts';
import type { AuditEvent } from '../store/auditSchema.ts';
import { insertAuditEvent } from '../store/insertAuditEvent.ts';

/** What the audit hook needs. */
export interface AuditDeps {
  store: Store;
  now: () => Date;
}

/** What a rule may read to describe one audited request. Never the request's secrets. */
interface AuditContext {
  params: Record<string, string>;
  /** The parsed request body (a rule reads named fields of routes whose bodies hold no secret). */
  body: Record<string, unknown>;
  /** The parsed JSON answer, if any (the hook reads ids and names from it, nothing else). */
  response: Record<string, unknown> | undefined;
}

/** How one route is audited: its action name and where target and cluster come from. */
interface AuditRule {
  /** The action, or how the request's body names it (one route, several changes). */
  action: string | ((ctx: AuditContext) => string);
  target?: (ctx: AuditContext) => string | null;
  clusterId?: (ctx: AuditContext) => string | null;
  details?: (ctx: AuditContext) => Record<string, unknown>;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v.slice(0, 255) : null);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const clusterParam = (ctx: AuditContext) => str(ctx.params.id);
/** Whether a cluster PATCH asks for autoscaling bounds (else it is about the auto-heal switch). */
const sizeBoundsBody = (ctx: AuditContext) =>
  ctx.body.minSize !== undefined || ctx.body.maxSize !== undefined;

/**
 * Every audited route, keyed by `METHOD routeUrl` (Fastify's route pattern, so the route files need
 * no audit code). A route not listed here is not audited.
 */
export const AUDIT_RULES: Record<string, AuditRule> = {
  'POST /api/v1/login': { action: 'login' },
  'POST /api/v1/logout': { action: 'logout' },
  'POST /api/v1/tokens': {
    action: 'token.create',
    target: (ctx) => str(ctx.response?.id),
    details: (ctx) => ({
      name: str(ctx.response?.name),
      expiresAt: str(ctx.response?.expiresAt),
      ...(Array.isArray(ctx.response?.clusters) ? { clusters: ctx.response.clusters } : {}),
    }),
  },
  'DELETE /api/v1/tokens/:id': { action: 'token.delete', target: (ctx) => str(ctx.params.id) },
  'DELETE /api/v1/clusters/:id/admin/tokens/:tokenId': {
    action: 'token.revoke',
    target: (ctx) => str(ctx.params.tokenId),
    clusterId: clusterParam,
  },
  'POST /api/v1/clusters': {
    action: 'cluster.create',
    target: (ctx) => str(obj(ctx.response?.cluster).name),
    clusterId: (ctx) => str(obj(ctx.response?.cluster).id),
    details: (ctx) => ({ jobId: str(obj(ctx.response?.job).id) }),
  },
  'POST /api/v1/clusters/:id/resize': {
    action: 'cluster.resize',
    target: clusterParam,
    clusterId: clusterParam,
  },
  'POST /api/v1/clusters/:id/upgrade': {
    action: 'cluster.upgrade',
    target: clusterParam,
    clusterId: clusterParam,
  },
  'POST /api/v1/clusters/:id/rotate-credentials': {
    action: 'cluster.credentials.rotate',
    target: clusterParam,
    clusterId: clusterParam,
    details: (ctx) => ({ jobId: str(obj(ctx.response?.job).id) }),
  },
  'PATCH /api/v1/clusters/:id': {
    action: (ctx) => (sizeBoundsBody(ctx) ? 'cluster.bounds.set' : 'cluster.autoheal.set'),
    target: clusterParam,
    clusterId: clusterParam,
    details: (ctx) => {
      if (sizeBoundsBody(ctx)) {
        const { group, minSize, maxSize } = ctx.body;
        const job = str(obj(ctx.response?.job).id);
        return { group, minSize, maxSize, ...(job ? { jobId: job } : {}) };
      }
      const spec = obj(ctx.response?.spec);
      return Array.isArray(spec.nodeGroups)
        ? { autoHeal: describeAutoHeal(spec as Pick<ClusterSpec, 'autoHeal' | 'nodeGroups'>) }
        : {};
    },
  },
  'DELETE /api/v1/clusters/:id': { action: 'cluster.delete', target: clusterParam, clusterId: clusterParam },
  'POST /api/v1/clusters/:id/retry': {
    action: 'cluster.retry',
    target: clusterParam,
    clusterId: clusterParam,
  },
  'PUT /api/v1/clusters/:id/role-bindings': {
    action: 'rolebindings.update',
    target: clusterParam,
    clusterId: clusterParam,
    details: (ctx) => ({
      revision: typeof ctx.response?.revision === 'number' ? ctx.response.revision : null,
      bindings: Array.isArray(ctx.response?.items) ? ctx.response.items.length : null,
    }),
  },
};

function ruleKey(request: FastifyRequest): string | undefined {
  const url = request.routeOptions.url;
  return url === undefined ? undefined : `${request.method} ${url}`;
}

function parseJson(payload: unknown): Record<string, unknown> | undefined {
  if (typeof payload !== 'string' || payload.length > 256 * 1024) return undefined;
  try {
    return obj(JSON.parse(payload));
  } catch {
    return undefined;
  }
}

/**
 * The audit log entry of one finished request, or undefined when it is not audited: failures are
 * kept for logins (who tried which name) and for known callers (e.g. a member refused with 403);
 * anonymous failures of other routes are noise. A failed login records the attempted user name,
 * never the password.
 */
export function auditEventOf(
  request: FastifyRequest,
  statusCode: number,
  response: Record<string, unknown> | undefined,
  at: Date,
): Omit<AuditEvent, 'id'> | undefined {
  const key = ruleKey(request);
  const rule = key === undefined ? undefined : AUDIT_RULES[key];
  if (!rule) return undefined;
  const ok = statusCode < 400;
  const principal = request.principal;
  let actorUserId = principal?.userId ?? null;
  let actorName = principal ? `${principal.userName}@${principal.domainName}` : null;
  if (rule.action === 'login') {
    const user = obj(response?.user);
    const body = obj(request.body);
    if (ok) {
      actorUserId = str(user.id);
      actorName = `${str(user.name)}@${str(user.domain)}`;
    } else {
      actorUserId = null;
      const attempted = str(body.username);
      actorName = attempted ? `${attempted}@${str(body.domain) ?? 'Default'}` : null;
    }
  } else if (!principal) {
    return undefined;
  }
  const ctx: AuditContext = {
    params: obj(request.params) as Record<string, string>,
    body: obj(request.body),
    response,
  };
  const error = obj(response?.error);
  return {
    at: at.toISOString(),
    actorUserId,
    actorName,
    action: typeof rule.action === 'string' ? rule.action : rule.action(ctx),
    target: rule.target?.(ctx) ?? null,
    clusterId: rule.clusterId?.(ctx) ?? null,
    outcome: ok ? 'success' : 'failure',
    details: {
      status: statusCode,
      ...(ok ? (rule.details?.(ctx) ?? {}) : { error: str(error.code), message: str(error.message) }),
    },
    requestId: String(request.id).slice(0, 64),
    sourceIp: request.ip.slice(0, 64),
  };
}

/**
 * Audits the routes of AUDIT_RULES with one pair of hooks: onSend keeps the JSON answer of audited
 * routes (ids and names are read from it), onResponse writes the entry. A failing insert is logged
 * and never fails the request, which has already been answered.
 */
export function registerAudit(app: FastifyInstance, deps: AuditDeps): void {
  const responses = new WeakMap<FastifyRequest, Record<string, unknown>>();
  app.addHook('onSend', async (request: FastifyRequest, _reply: FastifyReply, payload: unknown) => {
    const key = ruleKey(request);
    if (key !== undefined && AUDIT_RULES[key]) {
      const parsed = parseJson(payload);
      if (parsed) responses.set(request, parsed);
    }
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const event = auditEventOf(request, reply.statusCode, responses.get(request), deps.now());
    if (!event) return;
    try {
      // A failed login of a known user is tied to that user, so their cluster's administrators see it.
      const attempted = event.action === 'login' && event.outcome === 'failure' ? event.actorName : null;
      const at = attempted?.lastIndexOf('@') ?? -1;
      if (attempted && at > 0)
        event.actorUserId =
          (await findKeystoneUserIdByName({
            db: deps.store.db,
            name: attempted.slice(0, at),
            domainName: attempted.slice(at + 1),
          })) ?? null;
      await insertAuditEvent({ db: deps.store.db, event });
    } catch (error) {
      request.log.error({ err: error, action: event.action }, 'could not write the audit log entry');
    }
  });
}
