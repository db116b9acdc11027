import { InputError } from '../errors.ts';
import { isOpenStackError } from './errors.ts';
import {
  applicationCredentialAuthBody,
  parseTokenBody,
  passwordAuthBody,
  type AuthScope,
  type KeystoneToken,
  type NamedRef,
  type Session,
} from './session.ts';

export type { AuthScope, KeystoneToken, NamedRef } from './session.ts';

/** Who a token belongs to: what the control panel and the TokenReview webhook need from Keystone. */
export interface UserIdentity {
  userId: string;
  userName: string;
  domainId: string;
  domainName: string;
  projectId?: string;
  projectName?: string;
  roles: NamedRef[];
  expiresAt: Date;
  /** The Keystone token. Secret: never log it. */
  token: string;
}

/** A Keystone user as the API returns it. */
export interface KeystoneUser {
  id: string;
  name: string;
  domain_id: string;
  enabled: boolean;
  default_project_id?: string;
  email?: string;
  description?: string;
}

/** A Keystone project. */
export interface KeystoneProject {
  id: string;
  name: string;
  domain_id: string;
  enabled: boolean;
  description?: string;
  parent_id?: string | null;
  tags?: string[];
}

/** A Keystone role (global when `domain_id` is null). */
export interface KeystoneRole {
  id: string;
  name: string;
  domain_id?: string | null;
}

/** A Keystone group. */
export interface KeystoneGroup {
  id: string;
  name: string;
  domain_id: string;
  description?: string;
}

/** A Keystone domain. */
export interface KeystoneDomain {
  id: string;
  name: string;
  enabled: boolean;
}

/** A reference inside a role assignment; names and domain only with `include_names`. */
export interface AssignmentRef {
  id: string;
  name?: string;
  domain?: { id: string; name?: string };
}

/** One (effective or direct) role assignment. */
export interface RoleAssignment {
  role: AssignmentRef;
  user?: AssignmentRef;
  group?: AssignmentRef;
  scope: {
    project?: AssignmentRef;
    domain?: AssignmentRef;
    system?: unknown;
    'OS-INHERIT:inherited_to'?: string;
  };
  links?: { assignment?: string; membership?: string };
}

/** An application credential; `secret` is only present in the create answer. */
export interface ApplicationCredential {
  id: string;
  name: string;
  secret?: string;
  project_id: string;
  roles: NamedRef[];
  expires_at: string | null;
  unrestricted?: boolean;
  description?: string | null;
}

/** Filters of `GET /v3/role_assignments`. */
export interface RoleAssignmentFilter {
  userId?: string;
  groupId?: string;
  projectId?: string;
  domainId?: string;
  roleId?: string;
  /** Expand group memberships and implied roles (what kaas maps to Kubernetes groups). */
  effective?: boolean;
  includeNames?: boolean;
}

/** Credentials a user types into the control panel. */
export interface PasswordCredentials {
  username?: string;
  userId?: string;
  password: string;
  userDomainName?: string;
  userDomainId?: string;
  /** Scope the token to this project; unscoped (or the user's default project) when absent. */
  project?: { id: string } | { name: string; domainName?: string; domainId?: string };
}

/** Turns a token into the identity kaas uses. */
export function identityFromToken(t: KeystoneToken): UserIdentity {
  return {
    userId: t.user.id,
    userName: t.user.name,
    domainId: t.user.domain.id,
    domainName: t.user.domain.name,
    ...(t.project ? { projectId: t.project.id, projectName: t.project.name } : {}),
    roles: t.roles,
    expiresAt: t.expiresAt,
    token: t.value,
  };
}

function e(segment: string): string {
  return encodeURIComponent(segment);
}

/** Keystone v3 calls kaas makes: checking users' credentials and tokens, and identity admin for tests. */
export function createKeystone(session: Session) {
  const req = session.request;

  async function all<T>(path: string, itemsKey: string, query?: Record<string, string | undefined>) {
    const out: T[] = [];
    for await (const item of session.paginate<T>('identity', path, { itemsKey, ...(query ? { query } : {}) }))
      out.push(item);
    return out;
  }

  function scopeOf(p: PasswordCredentials['project']): AuthScope {
    if (!p) return { kind: 'unscoped' };
    if ('id' in p) return { kind: 'project', id: p.id };
    return { kind: 'project', name: p.name, domainId: p.domainId, domainName: p.domainName };
  }

  return {
    /**
     * Checks a user's password (the control panel login). A wrong password, unknown or disabled user
     * fails with `openstack_unauthorized`.
     */
    async authenticatePassword(creds: PasswordCredentials): Promise<UserIdentity> {
      if (!creds.username && !creds.userId)
        throw new InputError('A username is required', { field: 'username' });
      if (!creds.password) throw new InputError('A password is required', { field: 'password' });
      const body = passwordAuthBody(
        {
          id: creds.userId,
          name: creds.username,
          domainId: creds.userDomainId,
          domainName: creds.userDomainName ?? (creds.userDomainId ? undefined : 'Default'),
          password: creds.password,
        },
        scopeOf(creds.project),
      );
      return identityFromToken(await session.authenticate(body));
    },

    /** Authenticates with an application credential (by id, or by name plus its user). */
    async authenticateApplicationCredential(cred: {
      id?: string;
      name?: string;
      secret: string;
      userId?: string;
      userName?: string;
      userDomainName?: string;
    }): Promise<UserIdentity> {
      return identityFromToken(await session.authenticate(applicationCredentialAuthBody(cred)));
    },

    /** Validates someone's token; undefined when Keystone does not know it (404: invalid or expired). */
    async validateToken(token: string): Promise<UserIdentity | undefined> {
      if (!token) return undefined;
      try {
        const res = await req('identity', 'GET', '/v3/auth/tokens', {
          headers: { 'x-subject-token': token },
          query: { nocatalog: '1' },
        });
        return identityFromToken(parseTokenBody(token, res.body));
      } catch (err) {
        if (isOpenStackError(err, 'openstack_not_found')) return undefined;
        throw err;
      }
    },

    /** Revokes a token (logout). */
    async revokeToken(token: string): Promise<void> {
      await req('identity', 'DELETE', '/v3/auth/tokens', {
        headers: { 'x-subject-token': token },
        okStatuses: [404],
      });
    },

    async listUsers(filter: { name?: string; domainId?: string; enabled?: boolean } = {}) {
      return all<KeystoneUser>('/v3/users', 'users', {
        name: filter.name,
        domain_id: filter.domainId,
        enabled: filter.enabled === undefined ? undefined : String(filter.enabled),
      });
    },
    async getUser(id: string): Promise<KeystoneUser> {
      return (await req<{ user: KeystoneUser }>('identity', 'GET', `/v3/users/${e(id)}`)).body.user;
    },
    async createUser(input: {
      name: string;
      password?: string;
      domainId?: string;
      enabled?: boolean;
      email?: string;
      defaultProjectId?: string;
      description?: string;
    }): Promise<KeystoneUser> {
      const user = {
        name: input.name,
        domain_id: input.domainId ?? 'default',
        enabled: input.enabled ?? true,
        ...(input.password !== undefined ? { password: input.password } : {}),
        ...(input.email !== undefined ? { email: input.email } : {}),
        ...(input.defaultProjectId !== undefined ? { default_project_id: input.defaultProjectId } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
      };
      return (await req<{ user: KeystoneUser }>('identity', 'POST', '/v3/users', { json: { user } })).body
        .user;
    },
    async updateUser(id: string, patch: { enabled?: boolean; password?: string; email?: string }) {
      return (
        await req<{ user: KeystoneUser }>('identity', 'PATCH', `/v3/users/${e(id)}`, {
          json: { user: patch },
        })
      ).body.user;
    },
    async setUserEnabled(id: string, enabled: boolean): Promise<KeystoneUser> {
      return (
        await req<{ user: KeystoneUser }>('identity', 'PATCH', `/v3/users/${e(id)}`, {
          json: { user: { enabled } },
        })
      ).body.user;
    },
    async deleteUser(id: string): Promise<void> {
      await req('identity', 'DELETE', `/v3/users/${e(id)}`);
    },

    async listProjects(filter: { name?: string; domainId?: string } = {}) {
      return all<KeystoneProject>('/v3/projects', 'projects', {
        name: filter.name,
        domain_id: filter.domainId,
      });
    },
    async getProject(id: string): Promise<KeystoneProject> {
      return (await req<{ project: KeystoneProject }>('identity', 'GET', `/v3/projects/${e(id)}`)).body
        .project;
    },
    async createProject(input: { name: string; domainId?: string; description?: string; enabled?: boolean }) {
      const project = {
        name: input.name,
        domain_id: input.domainId ?? 'default',
        enabled: input.enabled ?? true,
        description: input.description ?? '',
      };
      return (
        await req<{ project: KeystoneProject }>('identity', 'POST', '/v3/projects', { json: { project } })
      ).body.project;
    },
    async deleteProject(id: string): Promise<void> {
      await req('identity', 'DELETE', `/v3/projects/${e(id)}`);
    },

    async listRoles(filter: { name?: string } = {}) {
      return all<KeystoneRole>('/v3/roles', 'roles', { name: filter.name });
    },
    async createRole(input: { name: string; domainId?: string }): Promise<KeystoneRole> {
      const role = { name: input.name, ...(input.domainId ? { domain_id: input.domainId } : {}) };
      return (await req<{ role: KeystoneRole }>('identity', 'POST', '/v3/roles', { json: { role } })).body
        .role;
    },
    async deleteRole(id: string): Promise<void> {
      await req('identity', 'DELETE', `/v3/roles/${e(id)}`);
    },

    async listGroups(filter: { name?: string; domainId?: string } = {}) {
      return all<KeystoneGroup>('/v3/groups', 'groups', { name: filter.name, domain_id: filter.domainId });
    },
    async createGroup(input: {
      name: string;
      domainId?: string;
      description?: string;
    }): Promise<KeystoneGroup> {
      const group = {
        name: input.name,
        domain_id: input.domainId ?? 'default',
        description: input.description ?? '',
      };
      return (await req<{ group: KeystoneGroup }>('identity', 'POST', '/v3/groups', { json: { group } })).body
        .group;
    },
    async addUserToGroup(groupId: string, userId: string): Promise<void> {
      await req('identity', 'PUT', `/v3/groups/${e(groupId)}/users/${e(userId)}`);
    },
    async removeUserFromGroup(groupId: string, userId: string): Promise<void> {
      await req('identity', 'DELETE', `/v3/groups/${e(groupId)}/users/${e(userId)}`);
    },
    async deleteGroup(id: string): Promise<void> {
      await req('identity', 'DELETE', `/v3/groups/${e(id)}`);
    },

    /** `GET /v3/role_assignments`; with `effective` group memberships and implied roles are expanded. */
    async listRoleAssignments(filter: RoleAssignmentFilter = {}): Promise<RoleAssignment[]> {
      return all<RoleAssignment>('/v3/role_assignments', 'role_assignments', {
        'user.id': filter.userId,
        'group.id': filter.groupId,
        'scope.project.id': filter.projectId,
        'scope.domain.id': filter.domainId,
        'role.id': filter.roleId,
        effective: filter.effective ? 'true' : undefined,
        include_names: filter.includeNames ? 'true' : undefined,
      });
    },

    /** Grants a role on a project to a user or a group (idempotent). */
    async assignProjectRole(
      input: { projectId: string; roleId: string } & ({ userId: string } | { groupId: string }),
    ) {
      const who = 'userId' in input ? `users/${e(input.userId)}` : `groups/${e(input.groupId)}`;
      await req('identity', 'PUT', `/v3/projects/${e(input.projectId)}/${who}/roles/${e(input.roleId)}`);
    },
    /** Revokes a role on a project from a user or a group. */
    async unassignProjectRole(
      input: { projectId: string; roleId: string } & ({ userId: string } | { groupId: string }),
    ) {
      const who = 'userId' in input ? `users/${e(input.userId)}` : `groups/${e(input.groupId)}`;
      await req('identity', 'DELETE', `/v3/projects/${e(input.projectId)}/${who}/roles/${e(input.roleId)}`);
    },

    /**
     * Creates an application credential for a user. Keystone only lets a user create their own,
     * so the session must be authenticated as that user.
     */
    async createApplicationCredential(
      userId: string,
      input: {
        name: string;
        description?: string;
        roles?: { id?: string; name?: string }[];
        expiresAt?: Date;
      },
    ): Promise<ApplicationCredential & { secret: string }> {
      const application_credential = {
        name: input.name,
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.roles ? { roles: input.roles } : {}),
        ...(input.expiresAt ? { expires_at: input.expiresAt.toISOString() } : {}),
      };
      const res = await req<{ application_credential: ApplicationCredential & { secret: string } }>(
        'identity',
        'POST',
        `/v3/users/${e(userId)}/application_credentials`,
        { json: { application_credential } },
      );
      return res.body.application_credential;
    },
    /** A user's application credentials (never their secrets), optionally only those named `name`. */
    async listApplicationCredentials(userId: string, filter: { name?: string } = {}) {
      return all<ApplicationCredential>(
        `/v3/users/${e(userId)}/application_credentials`,
        'application_credentials',
        { name: filter.name },
      );
    },
    /** Deletes one of a user's application credentials; tokens issued with it stop working. */
    async deleteApplicationCredential(userId: string, id: string): Promise<void> {
      await req('identity', 'DELETE', `/v3/users/${e(userId)}/application_credentials/${e(id)}`);
    },

    /** Looks a domain up by name; undefined when there is none. */
    async findDomainByName(name: string): Promise<KeystoneDomain | undefined> {
      const domains = await all<KeystoneDomain>('/v3/domains', 'domains', { name });
      return domains.find((d) => d.name === name);
    },
  };
}

/** The Keystone client returned by {@link createKeystone}. */
export type Keystone = ReturnType<typeof createKeystone>;
