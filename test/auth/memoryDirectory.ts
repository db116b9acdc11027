import { AuthError, UpstreamError } from '../../src/errors.ts';
import type { DirectoryAssignment, DirectoryUser, KeystoneDirectory } from '../../src/auth/directory.ts';

/** An in-memory Keystone stand-in for app.inject() tests; `failing` simulates an outage. */
export function memoryDirectory() {
  const users = new Map<string, DirectoryUser & { password: string }>();
  const assignments = new Map<string, DirectoryAssignment[]>();
  const state = { failing: false, calls: 0 };
  const check = () => {
    state.calls++;
    if (state.failing) throw new UpstreamError('keystone is down');
  };
  const directory: KeystoneDirectory = {
    async authenticate({ username, password, domain }) {
      check();
      const u = [...users.values()].find(
        (x) => x.name === username && x.domainName === (domain ?? 'Default'),
      );
      if (!u || u.password !== password || !u.enabled) throw new AuthError('wrong username or password');
      return { userId: u.id, userName: u.name, domainId: u.domainId, domainName: u.domainName };
    },
    async listUsers() {
      check();
      return [...users.values()].map(({ password: _p, ...u }) => u);
    },
    async listRoleAssignments(projectId) {
      check();
      return assignments.get(projectId) ?? [];
    },
    async getProject(id) {
      check();
      return { id, name: `project-${id}`, domainId: 'default' };
    },
  };
  return {
    directory,
    state,
    addUser(id: string, name: string, password: string) {
      users.set(id, { id, name, password, domainId: 'default', domainName: 'Default', enabled: true });
    },
    setEnabled(id: string, enabled: boolean) {
      const u = users.get(id);
      if (u) u.enabled = enabled;
    },
    deleteUser(id: string) {
      users.delete(id);
    },
    setRoles(projectId: string, list: DirectoryAssignment[]) {
      assignments.set(projectId, list);
    },
  };
}

/** The stand-in holding alice (u1, password pw-alice) and bob (u2, pw-bob) with `roles` on project p1. */
export function aliceAndBob(roles: DirectoryAssignment[]): ReturnType<typeof memoryDirectory> {
  const ks = memoryDirectory();
  ks.addUser('u1', 'alice', 'pw-alice');
  ks.addUser('u2', 'bob', 'pw-bob');
  ks.setRoles('p1', roles);
  return ks;
}
