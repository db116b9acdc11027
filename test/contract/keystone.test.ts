import { describe, expect, it } from 'vitest';
import { isOpenStackError } from '../../src/openstack/index.ts';
import { targets, useHarness } from './targets.ts';

const ignore404 = (p: Promise<unknown>) =>
  p.catch((e) => {
    if (!isOpenStackError(e, 'openstack_not_found')) throw e;
  });

describe.each(targets)('Keystone contract on $name', (target) => {
  const h = useHarness(target, 'ks');
  const ids: { project?: string; user?: string; role?: string; role2?: string; group?: string } = {};
  const password = 'contract-Pw-1';

  /** Keystone refuses to authenticate with this application credential. */
  const expectRefused = async (cred: { id: string; secret: string }) => {
    const err = await h.cloud.keystone.authenticateApplicationCredential(cred).catch((e: unknown) => e);
    expect(isOpenStackError(err, 'openstack_unauthorized')).toBe(true);
  };

  it('password auth as admin returns identity, project and roles; a wrong password is openstack_unauthorized', async () => {
    const me = await h.cloud.keystone.authenticatePassword({
      username: h.env.OS_USERNAME as string,
      password: h.env.OS_PASSWORD as string,
      userDomainName: 'Default',
      project: { name: 'admin', domainName: 'Default' },
    });
    expect(me).toMatchObject({ userName: 'admin', domainName: 'Default', projectName: 'admin' });
    expect(me.roles.map((r) => r.name)).toContain('admin');
    expect(me.expiresAt.getTime()).toBeGreaterThan(Date.now());
    const err = await h.cloud.keystone
      .authenticatePassword({ username: 'admin', password: 'wrong' })
      .catch((e) => e);
    expect(isOpenStackError(err, 'openstack_unauthorized')).toBe(true);
    expect(err.message).toMatch(/wrong username or password/);
  });

  it('validates tokens: a real one resolves to its user, garbage is not valid', async () => {
    const me = await h.cloud.keystone.authenticatePassword({
      username: 'admin',
      password: h.env.OS_PASSWORD as string,
    });
    const v = await h.cloud.keystone.validateToken(me.token);
    expect(v).toMatchObject({ userId: me.userId, userName: 'admin' });
    expect(await h.cloud.keystone.validateToken('gAAAAA-garbage-token')).toBeUndefined();
  });

  it('creates a project, user, roles and group; effective role assignments include group membership', async () => {
    const ks = h.cloud.keystone;
    const project = await ks.createProject({ name: `${h.prefix}-p`, description: 'kaas contract' });
    ids.project = project.id;
    h.defer(() => ignore404(ks.deleteProject(project.id)));
    expect((await ks.listProjects({ name: project.name })).map((p) => p.id)).toEqual([project.id]);
    expect((await ks.getProject(project.id)).name).toBe(project.name);

    const user = await ks.createUser({ name: `${h.prefix}-u`, password, defaultProjectId: project.id });
    ids.user = user.id;
    h.defer(() => ignore404(ks.deleteUser(user.id)));
    expect(user.enabled).toBe(true);
    const listed = await ks.listUsers({ name: user.name });
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id: user.id, enabled: true });
    expect((await ks.getUser(user.id)).name).toBe(user.name);

    const role = await ks.createRole({ name: `${h.prefix}-admins` });
    const role2 = await ks.createRole({ name: `${h.prefix}-viewers` });
    ids.role = role.id;
    ids.role2 = role2.id;
    h.defer(() => ignore404(ks.deleteRole(role.id)));
    h.defer(() => ignore404(ks.deleteRole(role2.id)));
    expect((await ks.listRoles({ name: role.name })).map((r) => r.id)).toEqual([role.id]);

    const group = await ks.createGroup({ name: `${h.prefix}-g` });
    ids.group = group.id;
    h.defer(() => ignore404(ks.deleteGroup(group.id)));
    await ks.addUserToGroup(group.id, user.id);
    await ks.assignProjectRole({ projectId: project.id, roleId: role.id, groupId: group.id });
    await ks.assignProjectRole({ projectId: project.id, roleId: role2.id, userId: user.id });

    const effective = await ks.listRoleAssignments({
      userId: user.id,
      projectId: project.id,
      effective: true,
      includeNames: true,
    });
    const byRole = new Map(effective.map((a) => [a.role.id, a]));
    expect([...byRole.keys()].sort()).toEqual([role.id, role2.id].sort());
    const viaGroup = byRole.get(role.id);
    expect(viaGroup?.role.name).toBe(role.name);
    expect(viaGroup?.user?.id).toBe(user.id);
    expect(viaGroup?.user?.name).toBe(user.name);
    expect(viaGroup?.scope.project).toMatchObject({ id: project.id, name: project.name });
    expect(viaGroup?.links?.membership).toContain(group.id);

    const direct = await ks.listRoleAssignments({ userId: user.id, projectId: project.id });
    expect(direct.map((a) => a.role.id)).toEqual([role2.id]);
    const filtered = await ks.listRoleAssignments({
      projectId: project.id,
      roleId: role.id,
      effective: true,
    });
    expect(filtered.map((a) => a.user?.id)).toEqual([user.id]);
  });

  it('the new user logs in scoped to the project with both roles', async () => {
    const me = await h.cloud.keystone.authenticatePassword({
      username: `${h.prefix}-u`,
      password,
      project: { id: ids.project as string },
    });
    expect(me.projectId).toBe(ids.project);
    expect(me.roles.map((r) => r.id).sort()).toEqual([ids.role, ids.role2].sort());
  });

  it('a disabled user cannot authenticate; re-enabled they can', async () => {
    const ks = h.cloud.keystone;
    expect((await ks.setUserEnabled(ids.user as string, false)).enabled).toBe(false);
    expect((await ks.listUsers({ name: `${h.prefix}-u` }))[0]?.enabled).toBe(false);
    const err = await ks.authenticatePassword({ username: `${h.prefix}-u`, password }).catch((e) => e);
    expect(isOpenStackError(err, 'openstack_unauthorized')).toBe(true);
    await ks.updateUser(ids.user as string, { enabled: true });
    await expect(ks.authenticatePassword({ username: `${h.prefix}-u`, password })).resolves.toMatchObject({
      userId: ids.user,
    });
  });

  it('application credentials: create as the user, authenticate by id and by name, delete', async () => {
    const userCloud = h.cloudFor({
      OS_AUTH_URL: h.env.OS_AUTH_URL as string,
      OS_USERNAME: `${h.prefix}-u`,
      OS_PASSWORD: password,
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_ID: ids.project as string,
      OS_REGION_NAME: 'RegionOne',
    });
    const ac = await userCloud.keystone.createApplicationCredential(ids.user as string, {
      name: `${h.prefix}-ac`,
      roles: [{ id: ids.role as string }],
    });
    h.defer(() => ignore404(h.cloud.keystone.deleteApplicationCredential(ids.user as string, ac.id)));
    expect(ac.secret).toBeTruthy();
    const byId = await h.cloud.keystone.authenticateApplicationCredential({ id: ac.id, secret: ac.secret });
    expect(byId.projectId).toBe(ids.project);
    expect(byId.roles.map((r) => r.id)).toEqual([ids.role]);
    const byName = await h.cloud.keystone.authenticateApplicationCredential({
      name: ac.name,
      secret: ac.secret,
      userId: ids.user as string,
    });
    expect(byName.userId).toBe(ids.user);
    await expectRefused({ id: ac.id, secret: 'wrong' });
    await userCloud.keystone.deleteApplicationCredential(ids.user as string, ac.id);
    await expectRefused({ id: ac.id, secret: ac.secret });
  });

  it("a cluster's credential: kaas's own user makes one restricted to member; its token holds member, not admin; deleted, it is refused", async () => {
    const ks = h.cloud.keystone;
    const kaas = await h.cloud.session.token();
    const name = `${h.prefix}-cluster`;
    const made = await ks.createApplicationCredential(kaas.user.id, { name, roles: [{ name: 'member' }] });
    h.defer(() => ignore404(ks.deleteApplicationCredential(kaas.user.id, made.id)));
    expect(made.roles.map((r) => r.name)).toEqual(['member']);
    expect(made.project_id).toBe(kaas.project?.id);

    const listed = await ks.listApplicationCredentials(kaas.user.id, { name });
    expect(listed.map((c) => c.id)).toEqual([made.id]);
    expect(listed[0]?.secret).toBeUndefined();
    expect(await ks.listApplicationCredentials(kaas.user.id, { name: `${name}-none` })).toEqual([]);

    const used = await ks.authenticateApplicationCredential({ id: made.id, secret: made.secret });
    expect(used).toMatchObject({ userId: kaas.user.id, projectId: kaas.project?.id });
    const roles = used.roles.map((r) => r.name);
    expect(roles).toContain('member');
    expect(roles).not.toContain('admin');

    await ks.deleteApplicationCredential(kaas.user.id, made.id);
    expect(await ks.listApplicationCredentials(kaas.user.id, { name })).toEqual([]);
    await expectRefused({ id: made.id, secret: made.secret });
  });

  it("Octavia's default policy: a member-only credential may not touch load balancers; with load-balancer_member it may", async () => {
    const ks = h.cloud.keystone;
    const kaas = await h.cloud.session.token();
    const projectId = kaas.project?.id as string;
    const credentialCloud = async (roles: string[]) => {
      // A new session: a token's roles are those its user held when it was issued.
      const owner = h.cloudFor(h.env);
      const made = await owner.keystone.createApplicationCredential(kaas.user.id, {
        name: `${h.prefix}-${roles.join('-')}`,
        roles: roles.map((name) => ({ name })),
      });
      h.defer(() => ignore404(ks.deleteApplicationCredential(kaas.user.id, made.id)));
      return h.cloudFor({
        OS_AUTH_URL: h.env.OS_AUTH_URL as string,
        OS_AUTH_TYPE: 'v3applicationcredential',
        OS_APPLICATION_CREDENTIAL_ID: made.id,
        OS_APPLICATION_CREDENTIAL_SECRET: made.secret,
        OS_REGION_NAME: h.env.OS_REGION_NAME ?? 'RegionOne',
        ...(h.env.OS_INTERFACE ? { OS_INTERFACE: h.env.OS_INTERFACE } : {}),
      });
    };
    const memberOnly = await credentialCloud(['member']);
    const refused = await memberOnly.octavia.listLoadBalancers({}).catch((e) => e);
    expect(isOpenStackError(refused, 'openstack_forbidden')).toBe(true);
    // What the cluster's other services need, member allows.
    await expect(memberOnly.cinder.listVolumes()).resolves.toBeInstanceOf(Array);
    await expect(memberOnly.swift.listContainers()).resolves.toBeInstanceOf(Array);

    let role = (await ks.listRoles({ name: 'load-balancer_member' }))[0];
    if (!role) {
      const made = await ks.createRole({ name: 'load-balancer_member' });
      h.defer(() => ignore404(ks.deleteRole(made.id)));
      role = made;
    }
    const held = await ks.listRoleAssignments({ userId: kaas.user.id, projectId, roleId: role.id });
    if (held.length === 0) {
      await ks.assignProjectRole({ projectId, roleId: role.id, userId: kaas.user.id });
      h.defer(() => ks.unassignProjectRole({ projectId, roleId: role.id, userId: kaas.user.id }));
    }
    const lbMember = await credentialCloud(['member', 'load-balancer_member']);
    await expect(lbMember.octavia.listLoadBalancers({})).resolves.toBeInstanceOf(Array);
  });

  it('finds the Default domain by name and unassigns/deletes everything', async () => {
    const ks = h.cloud.keystone;
    expect(await ks.findDomainByName('Default')).toMatchObject({ id: 'default', name: 'Default' });
    expect(await ks.findDomainByName(`${h.prefix}-none`)).toBeUndefined();
    await ks.unassignProjectRole({
      projectId: ids.project as string,
      roleId: ids.role2 as string,
      userId: ids.user as string,
    });
    await ks.unassignProjectRole({
      projectId: ids.project as string,
      roleId: ids.role as string,
      groupId: ids.group as string,
    });
    expect(
      await ks.listRoleAssignments({
        userId: ids.user as string,
        projectId: ids.project as string,
        effective: true,
      }),
    ).toEqual([]);
    await ks.removeUserFromGroup(ids.group as string, ids.user as string);
    await ks.deleteGroup(ids.group as string);
    await ks.deleteUser(ids.user as string);
    const err = await ks.getUser(ids.user as string).catch((e) => e);
    expect(isOpenStackError(err, 'openstack_not_found')).toBe(true);
  });
});
