/**
 * The OpenStack projects a user may have clusters made in: those they hold a role on now (Keystone's
 * effective assignments, so groups and implied roles count), and the one a cluster they ask for
 * without naming a project goes to.
 */
import { ForbiddenError, InputError } from '../errors.ts';
import type { Cloud } from '../openstack/index.ts';

/** A project a user holds some role on. */
export interface ProjectRef {
  id: string;
  name: string;
}

/** A user's projects, by name, and the id of their default one (null when they have none). */
export interface UserProjects {
  items: ProjectRef[];
  defaultProjectId: string | null;
}

/**
 * The projects `userId` holds a role on now, and their default: their Keystone `default_project_id`
 * if they hold a role there, else their only project, else none.
 */
export async function userProjects(keystone: Cloud['keystone'], userId: string): Promise<UserProjects> {
  const held = new Map<string, ProjectRef>();
  const assignments = await keystone.listRoleAssignments({ userId, effective: true, includeNames: true });
  for (const { scope } of assignments) {
    if (scope.project) held.set(scope.project.id, { id: scope.project.id, name: scope.project.name ?? '' });
  }
  const preferred = (await keystone.getUser(userId)).default_project_id;
  const items = [...held.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  const fallback = items.length === 1 ? items[0]!.id : null;
  return { items, defaultProjectId: preferred && held.has(preferred) ? preferred : fallback };
}

/**
 * The project of `projects` named by `ref` (id or name), or without `ref` their default: where a
 * cluster that user asks for goes. ForbiddenError for a project they hold no role on, whether or not
 * it exists; InputError for a name held in two domains, or no `ref` and no default.
 */
export function chooseProject(projects: UserProjects, ref: string | undefined): ProjectRef {
  if (ref === undefined) {
    const chosen = projects.items.find((p) => p.id === projects.defaultProjectId);
    if (chosen) return chosen;
    const names = projects.items.map((p) => `${p.name} (${p.id})`);
    throw new InputError(
      names.length === 0
        ? 'you hold a role on no OpenStack project, so there is none to make the cluster in: ask for a role on one'
        : `choose one of your projects for the cluster with project (you hold roles on ${names.join(', ')} and none is your default project)`,
      { code: 'project_required', field: 'project' },
    );
  }
  const byId = projects.items.find((p) => p.id === ref);
  if (byId) return byId;
  const byName = projects.items.filter((p) => p.name === ref);
  if (byName.length > 1) {
    throw new InputError(
      `you hold roles on ${byName.length} projects named ${ref} (in different domains): name it by id (${byName.map((p) => p.id).join(', ')})`,
      { code: 'project_ambiguous', field: 'project' },
    );
  }
  if (byName[0]) return byName[0];
  throw new ForbiddenError(
    `you hold no role on project ${ref}: a cluster can only be made in a project you belong to`,
    { code: 'project_forbidden' },
  );
}
