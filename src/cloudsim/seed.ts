import { createHash } from 'node:crypto';
import { CloudState, hexId, uuid, type Group, type Project, type Role, type User } from './state.ts';

/** Creates (or returns the existing) project by name in a domain; used by `kaas dev` and tests. */
export function seedProject(
  state: CloudState,
  input: { name: string; domainId?: string; description?: string },
): Project {
  const domainId = input.domainId ?? 'default';
  const existing = state.findProjectByName(input.name, domainId);
  if (existing) return existing;
  const project: Project = {
    id: hexId(),
    name: input.name,
    domainId,
    description: input.description ?? '',
    enabled: true,
    tags: [],
  };
  state.projects.set(project.id, project);
  return project;
}

/** Creates a user, or updates the password/enabled flag of an existing one of that name. */
export function seedUser(
  state: CloudState,
  input: {
    name: string;
    password: string;
    domainId?: string;
    enabled?: boolean;
    defaultProjectId?: string;
    email?: string;
  },
): User {
  const domainId = input.domainId ?? 'default';
  const existing = state.findUserByName(input.name, domainId);
  if (existing) {
    existing.password = input.password;
    existing.enabled = input.enabled ?? existing.enabled;
    existing.defaultProjectId = input.defaultProjectId ?? existing.defaultProjectId;
    return existing;
  }
  const user: User = {
    id: hexId(),
    name: input.name,
    domainId,
    password: input.password,
    enabled: input.enabled ?? true,
    defaultProjectId: input.defaultProjectId,
    email: input.email,
  };
  state.users.set(user.id, user);
  return user;
}

/** Creates (or returns) a global role by name. */
export function seedRole(state: CloudState, name: string): Role {
  const existing = state.findRoleByName(name);
  if (existing) return existing;
  const role: Role = { id: hexId(), name, domainId: null, description: null };
  state.roles.set(role.id, role);
  return role;
}

/** Creates (or returns) a group by name, optionally adding members. */
export function seedGroup(
  state: CloudState,
  input: { name: string; domainId?: string; memberIds?: string[] },
): Group {
  const domainId = input.domainId ?? 'default';
  let group = [...state.groups.values()].find((g) => g.name === input.name && g.domainId === domainId);
  if (!group) {
    group = { id: hexId(), name: input.name, domainId, description: '', members: new Set() };
    state.groups.set(group.id, group);
  }
  for (const id of input.memberIds ?? []) group.members.add(id);
  return group;
}

/** Grants a role on a project to a user (or group); idempotent. */
export function assignRole(
  state: CloudState,
  input: { projectId: string; roleId: string; userId?: string; groupId?: string },
): void {
  const actor = input.groupId ? 'group' : 'user';
  const actorId = input.groupId ?? input.userId;
  if (!actorId) throw new Error('assignRole needs a userId or a groupId');
  const exists = state.assignments.some(
    (a) =>
      a.actor === actor &&
      a.actorId === actorId &&
      a.scopeId === input.projectId &&
      a.roleId === input.roleId,
  );
  if (!exists)
    state.assignments.push({
      actor,
      actorId,
      scope: 'project',
      scopeId: input.projectId,
      roleId: input.roleId,
    });
}

/** The state a fresh cloudsim starts with: the same bootstrap as the lab, plus flavors, images and a public network. */
export function bootstrapState(now: number): CloudState {
  const state = new CloudState();
  state.domains.set('default', {
    id: 'default',
    name: 'Default',
    description: 'The default domain',
    enabled: true,
  });
  const admin = seedProject(state, {
    name: 'admin',
    description: 'Bootstrap project for initializing the cloud.',
  });
  seedProject(state, { name: 'service' });
  const reader = seedRole(state, 'reader');
  const member = seedRole(state, 'member');
  const adminRole = seedRole(state, 'admin');
  state.impliedRoles.set(adminRole.id, [member.id]);
  state.impliedRoles.set(member.id, [reader.id]);
  const user = seedUser(state, { name: 'admin', password: 'secret' });
  assignRole(state, { projectId: admin.id, roleId: adminRole.id, userId: user.id });

  const flavors: [string, string, number, number, number][] = [
    ['1', 'm1.tiny', 1, 512, 1],
    ['2', 'm1.small', 1, 2048, 20],
    ['3', 'm1.medium', 2, 4096, 40],
    ['4', 'm1.large', 4, 8192, 40],
    ['5', 'm1.xlarge', 8, 16384, 160],
  ];
  for (const [id, name, vcpus, ram, disk] of flavors) state.flavors.set(id, { id, name, vcpus, ram, disk });

  // The lab's Cinder has the one type every Cinder creates, and makes it the default.
  const volumeType = uuid();
  state.volumeTypes.set(volumeType, {
    id: volumeType,
    name: '__DEFAULT__',
    description: 'Default Volume Type',
    extraSpecs: {},
  });

  for (const name of ['debian-12', 'flatcar-stable', 'ubuntu-24.04']) {
    const id = uuid();
    const data = `cloudsim image ${name}`;
    state.images.set(id, {
      id,
      name,
      status: 'active',
      visibility: 'public',
      owner: admin.id,
      diskFormat: 'qcow2',
      containerFormat: 'bare',
      size: data.length,
      checksum: createHash('md5').update(data).digest('hex'),
      hashValue: createHash('sha512').update(data).digest('hex'),
      createdAt: now,
      updatedAt: now,
      tags: [],
      minDisk: 0,
      minRam: 0,
      properties: { os_distro: name.split('-')[0] },
    });
  }

  const net = uuid();
  state.networks.set(net, {
    id: net,
    name: 'public',
    projectId: admin.id,
    external: true,
    shared: false,
    adminStateUp: true,
    mtu: 1500,
    description: '',
    tags: [],
    createdAt: now,
    updatedAt: now,
    segmentationId: 0,
    portSecurity: true,
  });
  const subnet = uuid();
  state.subnets.set(subnet, {
    id: subnet,
    name: 'public-subnet',
    projectId: admin.id,
    networkId: net,
    ipVersion: 4,
    cidr: '172.24.4.0/24',
    gatewayIp: '172.24.4.1',
    allocationPools: [{ start: '172.24.4.2', end: '172.24.4.254' }],
    enableDhcp: false,
    dnsNameservers: [],
    description: '',
    tags: [],
    createdAt: now,
    updatedAt: now,
  });
  return state;
}
