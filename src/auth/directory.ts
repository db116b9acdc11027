import { AuthError } from '../errors.ts';
import { isOpenStackError, type Cloud } from '../openstack/index.ts';

/** Who logged in, per Keystone. */
export interface DirectoryIdentity {
  userId: string;
  userName: string;
  domainId: string;
  domainName: string;
}

/** A Keystone user as the sync mirrors it. */
export interface DirectoryUser {
  id: string;
  name: string;
  domainId: string;
  domainName: string;
  enabled: boolean;
}

/** One effective role of a user on a project. */
export interface DirectoryAssignment {
  userId: string;
  roleId: string;
  roleName: string;
}

/**
 * The narrow slice of Keystone the auth service uses. Keeping it this small makes the least
 * privilege of kaas' service user easy to state: read users, domains, projects, role assignments.
 */
export interface KeystoneDirectory {
  /** Checks a password; fails with AuthError('wrong username or password') for every kind of refusal. */
  authenticate(input: { username: string; password: string; domain?: string }): Promise<DirectoryIdentity>;
  listUsers(): Promise<DirectoryUser[]>;
  /** Effective assignments (groups and implied roles expanded) of users on the project. */
  listRoleAssignments(projectId: string): Promise<DirectoryAssignment[]>;
  getProject(id: string): Promise<{ id: string; name: string; domainId: string }>;
}

/** Implements the directory over the shared OpenStack client (kaas' own service credentials). */
export function keystoneDirectory(cloud: Pick<Cloud, 'keystone' | 'session'>): KeystoneDirectory {
  const ks = cloud.keystone;
  return {
    async authenticate({ username, password, domain }) {
      try {
        const id = await ks.authenticatePassword({ username, password, userDomainName: domain || 'Default' });
        return { userId: id.userId, userName: id.userName, domainId: id.domainId, domainName: id.domainName };
      } catch (error) {
        if (
          isOpenStackError(error, 'openstack_unauthorized') ||
          isOpenStackError(error, 'openstack_not_found')
        ) {
          throw new AuthError('wrong username or password', { code: 'bad_credentials', cause: error });
        }
        throw error;
      }
    },

    async listUsers() {
      const users = await ks.listUsers();
      const domainIds = [...new Set(users.map((u) => u.domain_id))];
      const names = new Map<string, string>();
      for (const id of domainIds) names.set(id, await domainName(id));
      return users.map((u) => ({
        id: u.id,
        name: u.name,
        domainId: u.domain_id,
        domainName: names.get(u.domain_id) ?? u.domain_id,
        enabled: u.enabled !== false,
      }));
    },

    async listRoleAssignments(projectId) {
      const list = await ks.listRoleAssignments({ projectId, effective: true, includeNames: true });
      const out = new Map<string, DirectoryAssignment>();
      for (const a of list) {
        if (!a.user || a.scope.project?.id !== projectId) continue;
        out.set(`${a.user.id} ${a.role.id}`, {
          userId: a.user.id,
          roleId: a.role.id,
          roleName: a.role.name ?? a.role.id,
        });
      }
      return [...out.values()];
    },

    async getProject(id) {
      const p = await ks.getProject(id);
      return { id: p.id, name: p.name, domainId: p.domain_id };
    },
  };

  // The shared client has no get-domain call; this one read goes through its session (same auth, retries).
  async function domainName(id: string): Promise<string> {
    const res = await cloud.session.request<{ domain: { name: string } }>(
      'identity',
      'GET',
      `/v3/domains/${encodeURIComponent(id)}`,
    );
    return res.body.domain.name;
  }
}
