import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from './index.ts';
import { login } from './testing.ts';

let cloud: Cloudsim;
let clock: number;
beforeEach(async () => {
  clock = Date.parse('2026-11-23T10:00:00Z');
  cloud = await startCloudsim({ now: () => clock, tokenTtlMs: 60_000 });
});
afterEach(async () => {
  await cloud.close();
});

async function auth(body: unknown): Promise<Response> {
  return fetch(`${cloud.authUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: body }),
  });
}

describe('keystone', () => {
  it('issues a project token with the lab catalog and implied roles', async () => {
    const r = await auth({
      identity: {
        methods: ['password'],
        password: { user: { name: 'admin', domain: { name: 'Default' }, password: 'secret' } },
      },
      scope: { project: { name: 'admin', domain: { name: 'Default' } } },
    });
    expect(r.status).toBe(201);
    const { token } = (await r.json()) as { token: Record<string, unknown> };
    expect(token.expires_at).toBe('2026-11-23T10:01:00.000000Z');
    expect((token.roles as { name: string }[]).map((x) => x.name).sort()).toEqual([
      'admin',
      'member',
      'reader',
    ]);
    const types = (token.catalog as { type: string }[]).map((c) => c.type);
    expect(types).toEqual([
      'identity',
      'object-store',
      'image',
      'network',
      'compute',
      'load-balancer',
      'volumev3',
      'block-storage',
    ]);
    const swift = (token.catalog as { type: string; endpoints: { interface: string; url: string }[] }[]).find(
      (c) => c.type === 'object-store',
    );
    expect(swift?.endpoints.map((e) => e.interface)).toEqual(['public', 'internal', 'admin']);
    expect(swift?.endpoints[0]?.url).toBe(
      `${cloud.url}/object-store/v1/AUTH_${(token.project as { id: string }).id}`,
    );
  });

  it('forgets expired tokens when it issues a new one, so its state stays small', async () => {
    const first = await login(cloud);
    clock += 60_000;
    const second = await login(cloud);
    expect([...cloud.state.tokens.keys()]).toEqual([second.token]);
    expect(cloud.state.tokens.has(first.token)).toBe(false);
  });

  it('rejects a wrong password, a disabled user and an unknown project with 401', async () => {
    const user = cloud.seedUser({ name: 'bob', password: 'pw' });
    const pw = (password: string) => ({
      methods: ['password'],
      password: { user: { id: user.id, password } },
    });
    expect((await auth({ identity: pw('nope') })).status).toBe(401);
    expect((await auth({ identity: pw('pw') })).status).toBe(201);
    expect((await auth({ identity: pw('pw'), scope: { project: { id: 'missing' } } })).status).toBe(401);
    user.enabled = false;
    const r = await auth({ identity: pw('pw') });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe(`Keystone uri="${cloud.authUrl}"`);
    expect(await r.json()).toEqual({
      error: {
        code: 401,
        message: 'The request you have made requires authentication.',
        title: 'Unauthorized',
      },
    });
  });

  it('validates tokens, answers 404 for unknown ones, revokes, and expires them', async () => {
    const s = await login(cloud);
    const v = await fetch(`${cloud.authUrl}/auth/tokens`, {
      headers: { 'x-auth-token': s.token, 'x-subject-token': s.token },
    });
    expect(v.status).toBe(200);
    expect(v.headers.get('x-subject-token')).toBe(s.token);
    const bad = await fetch(`${cloud.authUrl}/auth/tokens`, {
      headers: { 'x-auth-token': s.token, 'x-subject-token': 'garbage' },
    });
    expect(bad.status).toBe(404);
    const other = await login(cloud);
    const del = await fetch(`${cloud.authUrl}/auth/tokens`, {
      method: 'DELETE',
      headers: { 'x-auth-token': s.token, 'x-subject-token': other.token },
    });
    expect(del.status).toBe(204);
    expect((await other.call('GET', '/v3/users')).status).toBe(401);
    clock += 61_000;
    expect((await s.call('GET', '/v3/users')).status).toBe(401);
  });

  it('lists effective assignments through groups with include_names, like the lab', async () => {
    const s = await login(cloud);
    const project = cloud.seedProject({ name: 'demo' });
    const role = cloud.seedRole('kubernetes-admins');
    const alice = cloud.seedUser({ name: 'alice', password: 'pw' });
    const group = (await s.json<{ group: { id: string } }>('POST', '/v3/groups', { group: { name: 'ops' } }))
      .group;
    expect((await s.call('PUT', `/v3/groups/${group.id}/users/${alice.id}`)).status).toBe(204);
    expect(
      (await s.call('PUT', `/v3/projects/${project.id}/groups/${group.id}/roles/${role.id}`)).status,
    ).toBe(204);
    const direct = await s.json<{ role_assignments: unknown[] }>(
      'GET',
      `/v3/role_assignments?scope.project.id=${project.id}`,
    );
    expect(direct.role_assignments).toEqual([
      {
        links: { assignment: `${cloud.authUrl}/projects/${project.id}/groups/${group.id}/roles/${role.id}` },
        scope: { project: { id: project.id } },
        group: { id: group.id },
        role: { id: role.id },
      },
    ]);
    const eff = await s.json<{ role_assignments: unknown[]; links: unknown }>(
      'GET',
      `/v3/role_assignments?user.id=${alice.id}&effective&include_names`,
    );
    expect(eff.role_assignments).toEqual([
      {
        links: {
          assignment: `${cloud.authUrl}/projects/${project.id}/groups/${group.id}/roles/${role.id}`,
          membership: `${cloud.authUrl}/groups/${group.id}/users/${alice.id}`,
        },
        scope: { project: { id: project.id, name: 'demo', domain: { id: 'default', name: 'Default' } } },
        user: { id: alice.id, name: 'alice', domain: { id: 'default', name: 'Default' } },
        role: { id: role.id, name: 'kubernetes-admins' },
      },
    ]);
    expect(eff.links).toEqual({
      self: `${cloud.authUrl}/role_assignments?user.id=${alice.id}&effective&include_names`,
      previous: null,
      next: null,
    });
    const a = await login(cloud, 'alice', 'pw', 'demo');
    expect((await a.call('GET', '/v3/role_assignments')).status).toBe(403);
    expect((await a.call('GET', `/v3/users/${alice.id}`)).status).toBe(200);
  });

  it('manages users, projects, roles and grants with conflicts and 404s', async () => {
    const s = await login(cloud);
    const u = (
      await s.json<{ user: { id: string; enabled: boolean } }>('POST', '/v3/users', {
        user: { name: 'carol', password: 'pw' },
      })
    ).user;
    expect(u.enabled).toBe(true);
    expect((await s.call('POST', '/v3/users', { user: { name: 'carol' } })).status).toBe(409);
    expect(
      (await s.json<{ users: unknown[] }>('GET', '/v3/users?name=carol&domain_id=default')).users,
    ).toHaveLength(1);
    const p = (
      await s.json<{ project: { id: string } }>('POST', '/v3/projects', {
        project: { name: 'p1', domain_id: 'default' },
      })
    ).project;
    const r = (await s.json<{ role: { id: string } }>('POST', '/v3/roles', { role: { name: 'viewer' } }))
      .role;
    expect((await s.call('PUT', `/v3/projects/${p.id}/users/${u.id}/roles/${r.id}`)).status).toBe(204);
    expect((await s.call('HEAD', `/v3/projects/${p.id}/users/${u.id}/roles/${r.id}`)).status).toBe(204);
    expect((await s.call('DELETE', `/v3/projects/${p.id}/users/${u.id}/roles/${r.id}`)).status).toBe(204);
    expect((await s.call('DELETE', `/v3/projects/${p.id}/users/${u.id}/roles/${r.id}`)).status).toBe(404);
    expect((await s.call('PATCH', `/v3/users/${u.id}`, { user: { enabled: false } })).status).toBe(200);
    expect((await s.call('GET', '/v3/users/nope')).status).toBe(404);
    expect((await s.call('DELETE', `/v3/users/${u.id}`)).status).toBe(204);
  });

  it('authenticates with an application credential restricted to its roles', async () => {
    const role = cloud.seedRole('kubernetes-admins');
    const project = cloud.seedProject({ name: 'demo' });
    const user = cloud.seedUser({ name: 'demo', password: 'demo' });
    cloud.assignRole({ projectId: project.id, userId: user.id, roleId: role.id });
    cloud.assignRole({
      projectId: project.id,
      userId: user.id,
      roleId: cloud.state.findRoleByName('member')?.id as string,
    });
    const s = await login(cloud, 'demo', 'demo', 'demo');
    const cred = (
      await s.json<{ application_credential: { id: string; secret: string } }>(
        'POST',
        `/v3/users/${user.id}/application_credentials`,
        {
          application_credential: { name: 'capi', roles: [{ name: 'kubernetes-admins' }] },
        },
      )
    ).application_credential;
    const r = await auth({
      identity: {
        methods: ['application_credential'],
        application_credential: { id: cred.id, secret: cred.secret },
      },
    });
    expect(r.status).toBe(201);
    const { token } = (await r.json()) as { token: { roles: { name: string }[]; project: { id: string } } };
    expect(token.roles.map((x) => x.name)).toEqual(['kubernetes-admins']);
    expect(token.project.id).toBe(project.id);
    const wrong = await auth({
      identity: { methods: ['application_credential'], application_credential: { id: cred.id, secret: 'x' } },
    });
    expect(wrong.status).toBe(401);
    // Keystone looks an id up before the secret (404); an unknown name is 401 like a wrong secret.
    const appCred = (ref: Record<string, unknown>) =>
      auth({ identity: { methods: ['application_credential'], application_credential: ref } });
    expect((await appCred({ id: project.id, secret: cred.secret })).status).toBe(404);
    const byName = { name: 'nope', secret: 'x', user: { name: 'demo', domain: { name: 'Default' } } };
    expect((await appCred(byName)).status).toBe(401);
  });
});
