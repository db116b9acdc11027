import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Caller, Ctx, Env, Reply, Route, Service } from './http.ts';
import { bodyOf, discoveryRoute, HttpError, requireCaller, str } from './http.ts';
import { catalogFor } from './catalog.ts';
import {
  hexId,
  isoMicro,
  sha256Hex,
  type Assignment,
  type CloudState,
  type Domain,
  type Project,
  type Token,
  type User,
} from './state.ts';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
};

/** Resolves an X-Auth-Token to its caller, or null when unknown, expired, or its user is disabled. */
export function resolveToken(env: Env, tokenId: string): Caller | null {
  const token = env.state.tokens.get(tokenId);
  if (!token || token.expiresAt <= env.now()) return null;
  const user = env.state.users.get(token.userId);
  if (!user?.enabled) return null;
  const project = token.projectId ? (env.state.projects.get(token.projectId) ?? null) : null;
  if (token.projectId && !project) return null;
  const roleIds = tokenRoleIds(env.state, token);
  const roleNames = roleIds.map((id) => env.state.roles.get(id)?.name ?? id);
  return { token, user, project, roleIds, roleNames };
}

function tokenRoleIds(state: CloudState, token: Token): string[] {
  if (!token.projectId) return [];
  const appCred = token.appCredentialId ? state.appCredentials.get(token.appCredentialId) : undefined;
  if (appCred) return expandImplied(state, appCred.roleIds);
  return effectiveRoleIds(state, token.userId, token.projectId);
}

/** Roles a user holds on a project directly or through groups, with implied roles added (as in tokens). */
export function effectiveRoleIds(state: CloudState, userId: string, projectId: string): string[] {
  const direct = effectiveAssignments(state, (a) => a.scope === 'project' && a.scopeId === projectId)
    .filter((a) => a.userId === userId)
    .map((a) => a.roleId);
  return expandImplied(state, direct);
}

function expandImplied(state: CloudState, roleIds: string[]): string[] {
  const out: string[] = [];
  const queue = [...roleIds];
  while (queue.length > 0) {
    const id = queue.shift() as string;
    if (out.includes(id) || !state.roles.has(id)) continue;
    out.push(id);
    queue.push(...(state.impliedRoles.get(id) ?? []));
  }
  return out;
}

interface EffectiveAssignment extends Assignment {
  userId: string | null;
  groupId: string | null;
  /** Set when the assignment comes from an implied role. */
  priorRoleId: string | null;
  /** Role id of the stored assignment this one derives from. */
  grantedRoleId: string;
}

/** Expands group assignments into per-user ones, as Keystone's `effective` listing does. */
function effectiveAssignments(state: CloudState, filter: (a: Assignment) => boolean): EffectiveAssignment[] {
  const out: EffectiveAssignment[] = [];
  for (const a of state.assignments.filter(filter)) {
    const userIds = a.actor === 'user' ? [a.actorId] : [...(state.groups.get(a.actorId)?.members ?? [])];
    for (const userId of userIds) {
      out.push({
        ...a,
        userId,
        groupId: a.actor === 'group' ? a.actorId : null,
        priorRoleId: null,
        grantedRoleId: a.roleId,
      });
    }
  }
  return out;
}

function withImplied(state: CloudState, list: EffectiveAssignment[]): EffectiveAssignment[] {
  const out: EffectiveAssignment[] = [];
  for (const a of list) {
    out.push(a);
    const seen = new Set([a.roleId]);
    const queue = (state.impliedRoles.get(a.roleId) ?? []).map((id) => ({ id, prior: a.roleId }));
    while (queue.length > 0) {
      const next = queue.shift() as { id: string; prior: string };
      if (seen.has(next.id)) continue;
      seen.add(next.id);
      out.push({ ...a, roleId: next.id, priorRoleId: next.prior });
      queue.push(...(state.impliedRoles.get(next.id) ?? []).map((id) => ({ id, prior: next.id })));
    }
  }
  return out;
}

function keystoneError(err: HttpError, ctx: { env: Env }): Reply {
  const headers: Record<string, string> = { vary: 'X-Auth-Token' };
  if (err.status === 401) headers['www-authenticate'] = `Keystone uri="${ctx.env.url}/v3"`;
  return {
    status: err.status,
    headers,
    json: { error: { code: err.status, message: err.message, title: TITLES[err.status] ?? 'Error' } },
  };
}

function forbidden(action: string): HttpError {
  return new HttpError(403, `You are not authorized to perform the requested action: identity:${action}.`);
}

/** Policy chosen for cloudsim: `admin` (on any project) may do everything; `reader` (implied by admin and member) may read identity data. */
function requireRole(ctx: Ctx, role: 'admin' | 'reader', action: string): Caller {
  const caller = requireCaller(ctx);
  const ok =
    role === 'admin'
      ? caller.roleNames.includes('admin')
      : caller.roleNames.some((r) => r === 'admin' || r === 'reader');
  if (!ok) throw forbidden(action);
  return caller;
}

function selfOr(ctx: Ctx, userId: string, action: string): void {
  if (requireCaller(ctx).user.id !== userId) requireRole(ctx, 'reader', action);
}

function links(ctx: Ctx): { self: string; previous: null; next: null } {
  const search = ctx.req.url?.includes('?') ? ctx.req.url.slice(ctx.req.url.indexOf('?')) : '';
  return { self: `${ctx.env.url}${ctx.rawPath}${search}`, previous: null, next: null };
}

function selfLink(ctx: Ctx, path: string): { self: string } {
  return { self: `${ctx.env.url}/v3/${path}` };
}

/** A 200 reply listing `items` under `key` as Keystone's collections do: each in its view, then the paging links. */
function listed<T>(ctx: Ctx, key: string, items: T[], view: (ctx: Ctx, t: T) => unknown): Reply {
  return { status: 200, json: { [key]: items.map((t) => view(ctx, t)), links: links(ctx) } };
}

/** The projects on which `userId` holds a role, directly or through a group. */
function projectsOf(state: CloudState, userId: string): Project[] {
  return [...state.projects.values()].filter((p) => effectiveRoleIds(state, userId, p.id).length > 0);
}

const domainView = (ctx: Ctx, d: Domain) => ({
  id: d.id,
  name: d.name,
  description: d.description,
  enabled: d.enabled,
  tags: [],
  options: {},
  links: selfLink(ctx, `domains/${d.id}`),
});

function get<T>(map: Map<string, T>, id: string, what: string): T {
  const v = map.get(id);
  if (!v) throw new HttpError(404, `Could not find ${what}: ${id}.`);
  return v;
}

function domainRef(state: CloudState, id: string): { id: string; name: string } {
  return { id, name: state.domains.get(id)?.name ?? id };
}

// ---- views ----

const userView = (ctx: Ctx, u: User) => ({
  id: u.id,
  name: u.name,
  domain_id: u.domainId,
  enabled: u.enabled,
  ...(u.defaultProjectId ? { default_project_id: u.defaultProjectId } : {}),
  ...(u.email ? { email: u.email } : {}),
  ...(u.description ? { description: u.description } : {}),
  password_expires_at: null,
  options: {},
  links: selfLink(ctx, `users/${u.id}`),
});

const projectView = (ctx: Ctx, p: Project) => ({
  id: p.id,
  name: p.name,
  domain_id: p.domainId,
  description: p.description,
  enabled: p.enabled,
  parent_id: p.domainId,
  is_domain: false,
  tags: p.tags,
  options: {},
  links: selfLink(ctx, `projects/${p.id}`),
});

function tokenBody(ctx: Ctx, token: Token, withCatalog: boolean): Record<string, unknown> {
  const { state } = ctx.env;
  const user = state.users.get(token.userId) as User;
  const body: Record<string, unknown> = {
    methods: token.methods,
    user: {
      domain: domainRef(state, user.domainId),
      id: user.id,
      name: user.name,
      password_expires_at: null,
    },
    audit_ids: [token.auditId],
    expires_at: isoMicro(token.expiresAt),
    issued_at: isoMicro(token.issuedAt),
  };
  const project = token.projectId ? state.projects.get(token.projectId) : undefined;
  if (project) {
    body.project = { domain: domainRef(state, project.domainId), id: project.id, name: project.name };
    body.is_domain = false;
    body.roles = tokenRoleIds(state, token).map((id) => ({ id, name: state.roles.get(id)?.name }));
    if (withCatalog) body.catalog = catalogFor(ctx.env, project.id);
  } else if (withCatalog) {
    body.catalog = [];
  }
  const appCred = token.appCredentialId ? state.appCredentials.get(token.appCredentialId) : undefined;
  if (appCred)
    body.application_credential = { id: appCred.id, name: appCred.name, restricted: !appCred.unrestricted };
  return body;
}

// ---- authentication ----

function unauthorized(): HttpError {
  return new HttpError(401, 'The request you have made requires authentication.');
}

function findUser(state: CloudState, ref: Record<string, unknown> | undefined): User {
  if (!ref)
    throw new HttpError(
      400,
      "Invalid input for field 'identity/password/user': 'user' is a required property",
    );
  const id = str(ref.id);
  if (id) {
    const u = state.users.get(id);
    if (!u) throw unauthorized();
    return u;
  }
  const name = str(ref.name);
  const domain = ref.domain as Record<string, unknown> | undefined;
  const domainId =
    str(domain?.id) ??
    (str(domain?.name) ? state.findDomainByName(str(domain?.name) as string)?.id : undefined);
  if (!name || !domainId) throw unauthorized();
  const u = state.findUserByName(name, domainId);
  if (!u) throw unauthorized();
  return u;
}

function secretMatches(given: string, expectedHash: string): boolean {
  return timingSafeEqual(Buffer.from(sha256Hex(given)), Buffer.from(expectedHash));
}

function issueToken(ctx: Ctx): Reply {
  const { state } = ctx.env;
  const now = ctx.env.now();
  const auth = bodyOf(ctx, 'auth');
  const identity = (auth.identity ?? {}) as Record<string, unknown>;
  const methods = Array.isArray(identity.methods) ? (identity.methods as string[]) : [];
  let user: User;
  let projectId: string | null = null;
  let appCredentialId: string | null = null;
  let expiresAt = now + ctx.env.knobs.tokenTtlMs;
  if (methods.includes('application_credential')) {
    const ref = (identity.application_credential ?? {}) as Record<string, unknown>;
    const secret = str(ref.secret) ?? '';
    const byId = str(ref.id) ? state.appCredentials.get(str(ref.id) as string) : undefined;
    // Keystone looks a credential named by id up before it checks the secret: an unknown id is 404
    // (a deleted credential's too); an unknown name, like a wrong secret, is 401.
    if (str(ref.id) && !byId)
      throw new HttpError(404, `Could not find Application Credential: ${str(ref.id)}.`);
    const cred =
      byId ??
      (str(ref.name)
        ? [...state.appCredentials.values()].find(
            (c) =>
              c.name === ref.name && c.userId === findUser(state, ref.user as Record<string, unknown>).id,
          )
        : undefined);
    if (!cred || !secretMatches(secret, cred.secretHash)) throw unauthorized();
    if (cred.expiresAt !== null && cred.expiresAt <= now) throw unauthorized();
    user = state.users.get(cred.userId) as User;
    projectId = cred.projectId;
    appCredentialId = cred.id;
    if (cred.expiresAt !== null) expiresAt = Math.min(expiresAt, cred.expiresAt);
  } else if (methods.includes('password')) {
    const pw = (identity.password ?? {}) as Record<string, unknown>;
    const userRef = pw.user as Record<string, unknown> | undefined;
    user = findUser(state, userRef);
    if (user.password === undefined || user.password !== str(userRef?.password)) throw unauthorized();
  } else if (methods.includes('token')) {
    const t = (identity.token ?? {}) as Record<string, unknown>;
    const prior = resolveToken(ctx.env, str(t.id) ?? '');
    if (!prior) throw unauthorized();
    user = prior.user;
    expiresAt = prior.token.expiresAt;
  } else {
    throw new HttpError(
      400,
      'Expecting to find identity in auth - the server could not comply with the request since it is either malformed or otherwise incorrect.',
    );
  }
  if (!user.enabled) throw unauthorized();
  if (!appCredentialId)
    projectId = scopeProject(state, auth.scope as Record<string, unknown> | undefined, user);
  if (projectId && !appCredentialId && effectiveRoleIds(state, user.id, projectId).length === 0) {
    throw new HttpError(401, `User ${user.id} has no access to project ${projectId}`);
  }
  const token: Token = {
    id: `gAAAAAB${randomBytes(132).toString('base64url')}`,
    userId: user.id,
    projectId,
    methods: appCredentialId ? ['application_credential'] : methods,
    issuedAt: Math.floor(now / 1000) * 1000,
    expiresAt: Math.floor(expiresAt / 1000) * 1000,
    auditId: randomBytes(16).toString('base64url').slice(0, 22),
    appCredentialId,
  };
  // Expired tokens answer as unknown ones do: forget them, so a long-running cloud (and its saved state) stays small.
  for (const [id, old] of state.tokens) if (old.expiresAt <= now) state.tokens.delete(id);
  state.tokens.set(token.id, token);
  return {
    status: 201,
    headers: { 'x-subject-token': token.id, vary: 'X-Auth-Token' },
    json: { token: tokenBody(ctx, token, !ctx.query.has('nocatalog')) },
  };
}

function scopeProject(
  state: CloudState,
  scope: Record<string, unknown> | undefined,
  user: User,
): string | null {
  // As Keystone: unscoped auth takes the default project only where the user holds a role, else
  // answers an unscoped token (it logs "The token will be unscoped rather than scoped to the project").
  if (!scope) {
    const preferred = user.defaultProjectId;
    const usable =
      preferred && state.projects.has(preferred) && effectiveRoleIds(state, user.id, preferred).length > 0;
    return usable ? preferred : null;
  }
  const p = scope.project as Record<string, unknown> | undefined;
  if (!p) throw unauthorized();
  if (str(p.id)) {
    if (!state.projects.has(str(p.id) as string)) throw unauthorized();
    return str(p.id) as string;
  }
  const domain = p.domain as Record<string, unknown> | undefined;
  const domainId = str(domain?.id) ?? state.findDomainByName(str(domain?.name) ?? '')?.id;
  const project = domainId ? state.findProjectByName(str(p.name) ?? '', domainId) : undefined;
  if (!project?.enabled) throw unauthorized();
  return project.id;
}

function subjectToken(ctx: Ctx): Caller {
  const caller = requireCaller(ctx);
  const subject = ctx.headers['x-subject-token'];
  const resolved = typeof subject === 'string' ? resolveToken(ctx.env, subject) : null;
  const privileged = caller.roleNames.some((r) => r === 'admin' || r === 'reader' || r === 'service');
  if (!privileged && resolved?.user.id !== caller.user.id) throw forbidden('validate_token');
  if (!resolved) throw new HttpError(404, 'Could not recognize Fernet token');
  return resolved;
}

// ---- role assignments ----

function listRoleAssignments(ctx: Ctx): Reply {
  requireRole(ctx, 'reader', 'list_role_assignments');
  const { state } = ctx.env;
  const q = ctx.query;
  const effective = q.has('effective');
  const names = q.has('include_names');
  const userId = q.get('user.id');
  const groupId = q.get('group.id');
  const roleId = q.get('role.id');
  const projectId = q.get('scope.project.id');
  const domainId = q.get('scope.domain.id');
  const scopeFilter = (a: Assignment) =>
    (!projectId || (a.scope === 'project' && a.scopeId === projectId)) &&
    (!domainId || (a.scope === 'domain' && a.scopeId === domainId));
  let list: EffectiveAssignment[] = effective
    ? withImplied(state, effectiveAssignments(state, scopeFilter))
    : state.assignments.filter(scopeFilter).map((a) => ({
        ...a,
        userId: a.actor === 'user' ? a.actorId : null,
        groupId: a.actor === 'group' ? a.actorId : null,
        priorRoleId: null,
        grantedRoleId: a.roleId,
      }));
  list = list.filter(
    (a) =>
      (!userId || a.userId === userId) &&
      (!groupId || (!effective && a.groupId === groupId)) &&
      (!roleId || a.roleId === roleId),
  );
  const base = `${ctx.env.url}/v3`;
  const items = list.map((a) => {
    const scopePath = `${a.scope === 'project' ? 'projects' : 'domains'}/${a.scopeId}`;
    const actorPath = a.groupId ? `groups/${a.groupId}` : `users/${a.userId}`;
    const link: Record<string, string> = {
      assignment: `${base}/${scopePath}/${actorPath}/roles/${a.grantedRoleId}`,
    };
    if (effective && a.groupId) link.membership = `${base}/groups/${a.groupId}/users/${a.userId}`;
    if (a.priorRoleId) link.prior_role = `${base}/prior_role/${a.priorRoleId}/implies/${a.roleId}`;
    const out: Record<string, unknown> = { links: link };
    if (a.scope === 'project') {
      const p = state.projects.get(a.scopeId);
      out.scope = {
        project:
          names && p ? { id: p.id, name: p.name, domain: domainRef(state, p.domainId) } : { id: a.scopeId },
      };
    } else {
      out.scope = { domain: names ? domainRef(state, a.scopeId) : { id: a.scopeId } };
    }
    if (a.userId && (effective || !a.groupId)) {
      const u = state.users.get(a.userId);
      out.user =
        names && u ? { id: u.id, name: u.name, domain: domainRef(state, u.domainId) } : { id: a.userId };
    } else if (a.groupId) {
      const g = state.groups.get(a.groupId);
      out.group =
        names && g ? { id: g.id, name: g.name, domain: domainRef(state, g.domainId) } : { id: a.groupId };
    }
    const r = state.roles.get(a.roleId);
    out.role =
      names && r
        ? { id: r.id, name: r.name, ...(r.domainId ? { domain: domainRef(state, r.domainId) } : {}) }
        : { id: a.roleId };
    return out;
  });
  return { status: 200, json: { role_assignments: items, links: links(ctx) } };
}

function grant(ctx: Ctx, actor: 'user' | 'group', op: 'put' | 'delete' | 'head'): Reply {
  const { state } = ctx.env;
  if (op === 'head') requireRole(ctx, 'reader', 'check_grant');
  else requireRole(ctx, 'admin', op === 'put' ? 'create_grant' : 'revoke_grant');
  const projectId = ctx.params.project as string;
  const actorId = ctx.params.actor as string;
  const roleId = ctx.params.role as string;
  get(state.projects, projectId, 'project');
  if (actor === 'user') get(state.users, actorId, 'user');
  else get(state.groups, actorId, 'group');
  get(state.roles, roleId, 'role');
  const same = (a: Assignment) =>
    a.actor === actor &&
    a.actorId === actorId &&
    a.scope === 'project' &&
    a.scopeId === projectId &&
    a.roleId === roleId;
  const exists = state.assignments.some(same);
  if (op === 'put') {
    if (!exists) state.assignments.push({ actor, actorId, scope: 'project', scopeId: projectId, roleId });
  } else if (!exists) {
    throw new HttpError(
      404,
      `Could not find role assignment with role: ${roleId}, user or group: ${actorId}, project, domain, or system: ${projectId}.`,
    );
  } else if (op === 'delete') {
    state.assignments = state.assignments.filter((a) => !same(a));
  }
  return { status: 204, headers: { vary: 'X-Auth-Token' } };
}

// ---- CRUD helpers ----

function filterByQuery<T extends { name: string }>(ctx: Ctx, items: T[], domainOf?: (t: T) => string): T[] {
  const name = ctx.query.get('name');
  const domainId = ctx.query.get('domain_id');
  const enabled = ctx.query.get('enabled');
  return items.filter(
    (i) =>
      (name === null || i.name === name) &&
      (domainId === null || !domainOf || domainOf(i) === domainId) &&
      (enabled === null ||
        !('enabled' in i) ||
        String((i as unknown as { enabled: boolean }).enabled) === enabled.toLowerCase()),
  );
}

function createUser(ctx: Ctx): Reply {
  requireRole(ctx, 'admin', 'create_user');
  const { state } = ctx.env;
  const b = bodyOf(ctx, 'user');
  const name = str(b.name);
  if (!name) throw new HttpError(400, "Invalid input for field 'name': 'name' is a required property");
  const domainId = str(b.domain_id) ?? 'default';
  get(state.domains, domainId, 'domain');
  if (state.findUserByName(name, domainId))
    throw new HttpError(
      409,
      `Conflict occurred attempting to store user - Duplicate entry found with name ${name} at domain ID ${domainId}.`,
    );
  const user: User = {
    id: hexId(),
    name,
    domainId,
    password: str(b.password),
    enabled: b.enabled !== false,
    email: str(b.email),
    description: str(b.description),
    defaultProjectId: str(b.default_project_id),
  };
  state.users.set(user.id, user);
  return { status: 201, json: { user: userView(ctx, user) } };
}

function updateUser(ctx: Ctx): Reply {
  const { state } = ctx.env;
  const user = get(state.users, ctx.params.id as string, 'user');
  requireRole(ctx, 'admin', 'update_user');
  const b = bodyOf(ctx, 'user');
  if (str(b.name)) user.name = str(b.name) as string;
  if (typeof b.enabled === 'boolean') user.enabled = b.enabled;
  if (str(b.password)) user.password = str(b.password);
  if (b.email !== undefined) user.email = str(b.email);
  if (b.description !== undefined) user.description = str(b.description);
  if (b.default_project_id !== undefined) user.defaultProjectId = str(b.default_project_id);
  return { status: 200, json: { user: userView(ctx, user) } };
}

function deleteUser(ctx: Ctx): Reply {
  requireRole(ctx, 'admin', 'delete_user');
  const { state } = ctx.env;
  const id = ctx.params.id as string;
  get(state.users, id, 'user');
  state.users.delete(id);
  state.assignments = state.assignments.filter((a) => !(a.actor === 'user' && a.actorId === id));
  for (const g of state.groups.values()) g.members.delete(id);
  for (const [k, c] of state.appCredentials) if (c.userId === id) state.appCredentials.delete(k);
  for (const [k, t] of state.tokens) if (t.userId === id) state.tokens.delete(k);
  return { status: 204 };
}

function createProject(ctx: Ctx): Reply {
  requireRole(ctx, 'admin', 'create_project');
  const { state } = ctx.env;
  const b = bodyOf(ctx, 'project');
  const name = str(b.name);
  if (!name) throw new HttpError(400, "Invalid input for field 'name': 'name' is a required property");
  if (name.length > 64) throw new HttpError(400, `Invalid input for field 'name': '${name}' is too long`);
  const domainId = str(b.domain_id) ?? 'default';
  get(state.domains, domainId, 'domain');
  if (state.findProjectByName(name, domainId))
    throw new HttpError(
      409,
      `Conflict occurred attempting to store project - it is not permitted to have two projects with the same name in the same domain : ${name}.`,
    );
  const project: Project = {
    id: hexId(),
    name,
    domainId,
    description: str(b.description) ?? '',
    enabled: b.enabled !== false,
    tags: Array.isArray(b.tags) ? (b.tags as string[]) : [],
  };
  state.projects.set(project.id, project);
  return { status: 201, json: { project: projectView(ctx, project) } };
}

function updateProject(ctx: Ctx): Reply {
  requireRole(ctx, 'admin', 'update_project');
  const project = get(ctx.env.state.projects, ctx.params.id as string, 'project');
  const b = bodyOf(ctx, 'project');
  if (str(b.name)) project.name = str(b.name) as string;
  if (typeof b.enabled === 'boolean') project.enabled = b.enabled;
  if (b.description !== undefined) project.description = str(b.description) ?? '';
  if (Array.isArray(b.tags)) project.tags = b.tags as string[];
  return { status: 200, json: { project: projectView(ctx, project) } };
}

function deleteProject(ctx: Ctx): Reply {
  requireRole(ctx, 'admin', 'delete_project');
  const { state } = ctx.env;
  const id = ctx.params.id as string;
  get(state.projects, id, 'project');
  state.projects.delete(id);
  state.assignments = state.assignments.filter((a) => !(a.scope === 'project' && a.scopeId === id));
  return { status: 204 };
}

const roleView = (
  ctx: Ctx,
  r: { id: string; name: string; domainId: string | null; description: string | null },
) => ({
  id: r.id,
  name: r.name,
  domain_id: r.domainId,
  description: r.description,
  options: {},
  links: selfLink(ctx, `roles/${r.id}`),
});

function createRole(ctx: Ctx): Reply {
  requireRole(ctx, 'admin', 'create_role');
  const { state } = ctx.env;
  const b = bodyOf(ctx, 'role');
  const name = str(b.name);
  if (!name) throw new HttpError(400, "Invalid input for field 'name': 'name' is a required property");
  if (state.findRoleByName(name))
    throw new HttpError(
      409,
      `Conflict occurred attempting to store role - Duplicate entry found with name ${name}.`,
    );
  const role = {
    id: hexId(),
    name,
    domainId: str(b.domain_id) ?? null,
    description: str(b.description) ?? null,
  };
  state.roles.set(role.id, role);
  return { status: 201, json: { role: roleView(ctx, role) } };
}

function deleteRole(ctx: Ctx): Reply {
  requireRole(ctx, 'admin', 'delete_role');
  const { state } = ctx.env;
  const id = ctx.params.id as string;
  get(state.roles, id, 'role');
  state.roles.delete(id);
  state.assignments = state.assignments.filter((a) => a.roleId !== id);
  return { status: 204 };
}

const groupView = (ctx: Ctx, g: { id: string; name: string; domainId: string; description: string }) => ({
  id: g.id,
  name: g.name,
  domain_id: g.domainId,
  description: g.description,
  links: selfLink(ctx, `groups/${g.id}`),
});

function createGroup(ctx: Ctx): Reply {
  requireRole(ctx, 'admin', 'create_group');
  const { state } = ctx.env;
  const b = bodyOf(ctx, 'group');
  const name = str(b.name);
  if (!name) throw new HttpError(400, "Invalid input for field 'name': 'name' is a required property");
  const domainId = str(b.domain_id) ?? 'default';
  if ([...state.groups.values()].some((g) => g.name === name && g.domainId === domainId)) {
    throw new HttpError(
      409,
      `Conflict occurred attempting to store group - Duplicate entry found with name ${name} at domain ID ${domainId}.`,
    );
  }
  const group = {
    id: hexId(),
    name,
    domainId,
    description: str(b.description) ?? '',
    members: new Set<string>(),
  };
  state.groups.set(group.id, group);
  return { status: 201, json: { group: groupView(ctx, group) } };
}

function membership(ctx: Ctx, op: 'put' | 'delete' | 'head'): Reply {
  const { state } = ctx.env;
  if (op === 'head') requireRole(ctx, 'reader', 'check_user_in_group');
  else requireRole(ctx, 'admin', op === 'put' ? 'add_user_to_group' : 'remove_user_from_group');
  const group = get(state.groups, ctx.params.group as string, 'group');
  const userId = ctx.params.user as string;
  get(state.users, userId, 'user');
  if (op === 'put') group.members.add(userId);
  else if (!group.members.has(userId))
    throw new HttpError(404, `User '${userId}' not found in group '${group.id}'.`);
  else if (op === 'delete') group.members.delete(userId);
  return { status: 204 };
}

function createAppCredential(ctx: Ctx): Reply {
  const caller = requireCaller(ctx);
  const { state } = ctx.env;
  const userId = ctx.params.user as string;
  if (caller.user.id !== userId) throw forbidden('create_application_credential');
  if (!caller.project) throw new HttpError(401, 'The request you have made requires authentication.');
  const b = bodyOf(ctx, 'application_credential');
  const name = str(b.name);
  if (!name) throw new HttpError(400, "Invalid input for field 'name': 'name' is a required property");
  if ([...state.appCredentials.values()].some((c) => c.userId === userId && c.name === name)) {
    throw new HttpError(
      409,
      'Conflict occurred attempting to store application_credential - Duplicate application credential.',
    );
  }
  let roleIds = caller.roleIds;
  if (Array.isArray(b.roles)) {
    roleIds = (b.roles as Record<string, unknown>[]).map((r) => {
      const role = str(r.id) ? state.roles.get(str(r.id) as string) : state.findRoleByName(str(r.name) ?? '');
      if (!role || !caller.roleIds.includes(role.id))
        throw new HttpError(404, `Could not find role: ${str(r.id) ?? str(r.name)}.`);
      return role.id;
    });
  }
  const secret = str(b.secret) ?? randomBytes(64).toString('base64url');
  const expires = str(b.expires_at);
  const cred = {
    id: hexId(),
    name,
    description: str(b.description) ?? null,
    secretHash: sha256Hex(secret),
    userId,
    projectId: caller.project.id,
    roleIds,
    expiresAt: expires ? Date.parse(expires) : null,
    unrestricted: b.unrestricted === true,
  };
  state.appCredentials.set(cred.id, cred);
  return { status: 201, json: { application_credential: { ...appCredView(ctx, cred), secret } } };
}

function appCredView(
  ctx: Ctx,
  c: {
    id: string;
    name: string;
    description: string | null;
    userId: string;
    projectId: string;
    roleIds: string[];
    expiresAt: number | null;
    unrestricted: boolean;
  },
) {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    user_id: c.userId,
    project_id: c.projectId,
    roles: c.roleIds.map((id) => ({ id, name: ctx.env.state.roles.get(id)?.name, domain_id: null })),
    expires_at: c.expiresAt === null ? null : new Date(c.expiresAt).toISOString().replace('Z', '000'),
    unrestricted: c.unrestricted,
    access_rules: [],
    links: selfLink(ctx, `users/${c.userId}/application_credentials/${c.id}`),
  };
}

function ownAppCredential(ctx: Ctx) {
  selfOr(ctx, ctx.params.user as string, 'get_application_credential');
  const cred = ctx.env.state.appCredentials.get(ctx.params.id as string);
  if (!cred || cred.userId !== ctx.params.user)
    throw new HttpError(404, `Could not find Application Credential: ${ctx.params.id}.`);
  return cred;
}

const versionDoc = (env: Env) => ({
  version: {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${env.url}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  },
});

/** The Keystone collections kept as maps by id in the cloud state. */
type Collection = 'users' | 'projects' | 'domains' | 'roles' | 'groups';
type Entry<K extends Collection> =
  CloudState[K] extends Map<string, infer T extends { name: string }> ? T : never;

/** The state's map of `collection` (TypeScript cannot follow the key to the entry type by itself). */
function mapOf<K extends Collection>(state: CloudState, collection: K): Map<string, Entry<K>> {
  return state[collection] as unknown as Map<string, Entry<K>>;
}

/** GET `/<collection>` for readers (`action` names the policy), filtered by the query's name and domain. */
function collectionRoute<K extends Collection>(
  collection: K,
  action: string,
  view: (ctx: Ctx, t: Entry<K>) => unknown,
  domainOf?: (t: Entry<K>) => string,
): Route {
  return {
    method: 'GET',
    path: `/${collection}`,
    handler: (ctx) => {
      requireRole(ctx, 'reader', action);
      const all = [...mapOf(ctx.env.state, collection).values()];
      return listed(ctx, collection, filterByQuery(ctx, all, domainOf), view);
    },
  };
}

/** GET `/<collection>/{id}` once `authorize` lets the caller (it throws otherwise): `{ [what]: view }`, or 404. */
function showOneRoute<K extends Collection>(
  collection: K,
  what: string,
  view: (ctx: Ctx, t: Entry<K>) => unknown,
  authorize: (ctx: Ctx, id: string) => void,
): Route {
  return {
    method: 'GET',
    path: `/${collection}/{id}`,
    handler: (ctx) => {
      const id = ctx.params.id as string;
      authorize(ctx, id);
      const entry = get(mapOf(ctx.env.state, collection), id, what);
      return { status: 200, json: { [what]: view(ctx, entry) } };
    },
  };
}

const routes: Route[] = [
  // Keystone's unversioned root: 300 Multiple Choices listing its one version.
  discoveryRoute('/', (env) => ({ versions: { values: [versionDoc(env).version] } }), {
    status: 300,
    absolute: true,
  }),
  discoveryRoute('', versionDoc),
  { method: 'POST', path: '/auth/tokens', auth: 'none', handler: issueToken },
  {
    method: 'GET',
    path: '/auth/tokens',
    handler: (ctx) => {
      const subject = subjectToken(ctx);
      return {
        status: 200,
        headers: { 'x-subject-token': subject.token.id, vary: 'X-Auth-Token' },
        json: { token: tokenBody(ctx, subject.token, !ctx.query.has('nocatalog')) },
      };
    },
  },
  { method: 'HEAD', path: '/auth/tokens', handler: (ctx) => (subjectToken(ctx), { status: 200 }) },
  {
    method: 'DELETE',
    path: '/auth/tokens',
    handler: (ctx) => {
      const subject = subjectToken(ctx);
      ctx.env.state.tokens.delete(subject.token.id);
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    path: '/auth/catalog',
    handler: (ctx) => {
      const caller = requireCaller(ctx);
      return {
        status: 200,
        json: {
          catalog: caller.project ? catalogFor(ctx.env, caller.project.id) : [],
          links: { self: `${ctx.env.url}/v3/auth/catalog` },
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/auth/projects',
    handler: (ctx) => {
      const caller = requireCaller(ctx);
      return listed(ctx, 'projects', projectsOf(ctx.env.state, caller.user.id), projectView);
    },
  },
  collectionRoute('users', 'list_users', userView, (u) => u.domainId),
  { method: 'POST', path: '/users', handler: createUser },
  showOneRoute('users', 'user', userView, (ctx, id) => selfOr(ctx, id, 'get_user')),
  { method: 'PATCH', path: '/users/{id}', handler: updateUser },
  { method: 'DELETE', path: '/users/{id}', handler: deleteUser },
  {
    method: 'GET',
    path: '/users/{id}/groups',
    handler: (ctx) => {
      selfOr(ctx, ctx.params.id as string, 'list_groups_for_user');
      get(ctx.env.state.users, ctx.params.id as string, 'user');
      const groups = [...ctx.env.state.groups.values()].filter((g) => g.members.has(ctx.params.id as string));
      return listed(ctx, 'groups', groups, groupView);
    },
  },
  {
    method: 'GET',
    path: '/users/{id}/projects',
    handler: (ctx) => {
      selfOr(ctx, ctx.params.id as string, 'list_user_projects');
      get(ctx.env.state.users, ctx.params.id as string, 'user');
      return listed(ctx, 'projects', projectsOf(ctx.env.state, ctx.params.id as string), projectView);
    },
  },
  collectionRoute('projects', 'list_projects', projectView, (p) => p.domainId),
  { method: 'POST', path: '/projects', handler: createProject },
  showOneRoute('projects', 'project', projectView, (ctx, id) => {
    if (requireCaller(ctx).project?.id !== id) requireRole(ctx, 'reader', 'get_project');
  }),
  { method: 'PATCH', path: '/projects/{id}', handler: updateProject },
  { method: 'DELETE', path: '/projects/{id}', handler: deleteProject },
  ...(['user', 'group'] as const).flatMap((actor) =>
    (['put', 'head', 'delete'] as const).map((op) => ({
      method: op.toUpperCase(),
      path: `/projects/{project}/${actor}s/{actor}/roles/{role}`,
      handler: (ctx: Parameters<typeof grant>[0]) => grant(ctx, actor, op),
    })),
  ),
  {
    method: 'GET',
    path: '/projects/{project}/users/{actor}/roles',
    handler: (ctx) => {
      requireRole(ctx, 'reader', 'list_grants');
      const { state } = ctx.env;
      const ids = state.assignments
        .filter(
          (a) =>
            a.actor === 'user' &&
            a.actorId === ctx.params.actor &&
            a.scope === 'project' &&
            a.scopeId === ctx.params.project,
        )
        .map((a) => a.roleId);
      const roles = ids.map((id) => state.roles.get(id)).filter((r) => r !== undefined);
      return listed(ctx, 'roles', roles, roleView);
    },
  },
  collectionRoute('domains', 'list_domains', domainView),
  showOneRoute('domains', 'domain', domainView, (ctx) => requireCaller(ctx)),
  collectionRoute('roles', 'list_roles', roleView),
  { method: 'POST', path: '/roles', handler: createRole },
  showOneRoute('roles', 'role', roleView, (ctx) => requireRole(ctx, 'reader', 'get_role')),
  { method: 'DELETE', path: '/roles/{id}', handler: deleteRole },
  collectionRoute('groups', 'list_groups', groupView, (g) => g.domainId),
  { method: 'POST', path: '/groups', handler: createGroup },
  showOneRoute('groups', 'group', groupView, (ctx) => requireRole(ctx, 'reader', 'get_group')),
  {
    method: 'DELETE',
    path: '/groups/{id}',
    handler: (ctx) => {
      requireRole(ctx, 'admin', 'delete_group');
      const { state } = ctx.env;
      get(state.groups, ctx.params.id as string, 'group');
      state.groups.delete(ctx.params.id as string);
      state.assignments = state.assignments.filter(
        (a) => !(a.actor === 'group' && a.actorId === ctx.params.id),
      );
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    path: '/groups/{id}/users',
    handler: (ctx) => {
      requireRole(ctx, 'reader', 'list_users_in_group');
      const { state } = ctx.env;
      const group = get(state.groups, ctx.params.id as string, 'group');
      const users = [...group.members].map((id) => state.users.get(id)).filter((u) => u !== undefined);
      return listed(ctx, 'users', users, userView);
    },
  },
  { method: 'PUT', path: '/groups/{group}/users/{user}', handler: (ctx) => membership(ctx, 'put') },
  { method: 'HEAD', path: '/groups/{group}/users/{user}', handler: (ctx) => membership(ctx, 'head') },
  { method: 'DELETE', path: '/groups/{group}/users/{user}', handler: (ctx) => membership(ctx, 'delete') },
  { method: 'GET', path: '/role_assignments', handler: listRoleAssignments },
  { method: 'POST', path: '/users/{user}/application_credentials', handler: createAppCredential },
  {
    method: 'GET',
    path: '/users/{user}/application_credentials',
    handler: (ctx) => {
      selfOr(ctx, ctx.params.user as string, 'list_application_credentials');
      const creds = [...ctx.env.state.appCredentials.values()].filter(
        (c) => c.userId === ctx.params.user && (!ctx.query.get('name') || c.name === ctx.query.get('name')),
      );
      return listed(ctx, 'application_credentials', creds, appCredView);
    },
  },
  {
    method: 'GET',
    path: '/users/{user}/application_credentials/{id}',
    handler: (ctx) => ({
      status: 200,
      json: { application_credential: appCredView(ctx, ownAppCredential(ctx)) },
    }),
  },
  {
    method: 'DELETE',
    path: '/users/{user}/application_credentials/{id}',
    handler: (ctx) => {
      const cred = ownAppCredential(ctx);
      const { state } = ctx.env;
      state.appCredentials.delete(cred.id);
      for (const [k, t] of state.tokens) if (t.appCredentialId === cred.id) state.tokens.delete(k);
      return { status: 204 };
    },
  },
];

/** Keystone v3 under `/v3`. */
export const keystone: Service = {
  name: 'identity',
  prefix: '/v3',
  routes,
  errorReply: keystoneError,
  decorate: (reply) => {
    reply.headers = { vary: 'X-Auth-Token', ...reply.headers };
  },
};
