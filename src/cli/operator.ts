import type { KeystoneDirectory } from '../auth/directory.ts';
import type { Principal } from '../auth/service.ts';
import type { Cloud } from '../openstack/index.ts';

/**
 * Who may create clusters over the API: holders of `roleName` on kaas' own project (the project
 * `cloud`'s credentials are scoped to), read from Keystone at each call so a revoked role stops at once.
 */
export function operatorCheck(
  cloud: Cloud,
  directory: Pick<KeystoneDirectory, 'listRoleAssignments'>,
  roleName: string,
): (principal: Principal) => Promise<boolean> {
  return async (principal) => {
    const project = (await cloud.session.token()).project;
    const assignments = project ? await directory.listRoleAssignments(project.id) : [];
    return assignments.some((a) => a.userId === principal.userId && a.roleName === roleName);
  };
}
