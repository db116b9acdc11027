import { describe, expect, it } from 'vitest';
import { chooseProject, type UserProjects } from './projects.ts';

const a = { id: 'id-a', name: 'team-a' };
const b = { id: 'id-b', name: 'team-b' };
const b2 = { id: 'id-b2', name: 'team-b' };
const mine = (items: UserProjects['items'], defaultProjectId: string | null = null): UserProjects => ({
  items,
  defaultProjectId,
});
const refused = (projects: UserProjects, ref: string | undefined) => {
  try {
    chooseProject(projects, ref);
  } catch (error) {
    return error as { code: string; message: string; field?: string };
  }
  throw new Error('not refused');
};

describe('chooseProject', () => {
  it('takes a project the user holds a role on, by id or name', () => {
    expect(chooseProject(mine([a, b]), 'id-b')).toEqual(b);
    expect(chooseProject(mine([a, b]), 'team-a')).toEqual(a);
    expect(chooseProject(mine([b, b2]), 'id-b2')).toEqual(b2);
  });

  it('without one, takes their default project', () => {
    expect(chooseProject(mine([a, b], 'id-b'), undefined)).toEqual(b);
    expect(chooseProject(mine([a], 'id-a'), undefined)).toEqual(a);
  });

  it('refuses any other project with project_forbidden, whether or not it exists', () => {
    expect(refused(mine([a], 'id-a'), 'id-b')).toMatchObject({
      code: 'project_forbidden',
      message: 'you hold no role on project id-b: a cluster can only be made in a project you belong to',
    });
  });

  it('asks for the id of a name held in two domains', () => {
    expect(refused(mine([a, b, b2]), 'team-b')).toMatchObject({
      code: 'project_ambiguous',
      field: 'project',
      message: expect.stringContaining('name it by id (id-b, id-b2)'),
    });
  });

  it('asks the user to choose when they have no default project, naming theirs', () => {
    expect(refused(mine([a, b]), undefined)).toMatchObject({
      code: 'project_required',
      field: 'project',
      message:
        'choose one of your projects for the cluster with project (you hold roles on team-a (id-a), team-b (id-b) and none is your default project)',
    });
    expect(refused(mine([]), undefined)).toMatchObject({
      code: 'project_required',
      message: expect.stringContaining('you hold a role on no OpenStack project'),
    });
  });
});
