import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from './index.ts';
import { login, type Session } from './testing.ts';

let cloud: Cloudsim;
let clock: number;
let s: Session;
let netId: string;
let imageId: string;
const MV = { 'openstack-api-version': 'compute 2.79' };

beforeEach(async () => {
  clock = Date.now();
  cloud = await startCloudsim({ now: () => clock, bootTimeMs: 5000 });
  s = await login(cloud);
  netId = (
    await s.json<{ network: { id: string } }>('POST', '/network/v2.0/networks', { network: { name: 'k8s' } })
  ).network.id;
  await s.json('POST', '/network/v2.0/subnets', {
    subnet: { network_id: netId, cidr: '10.20.0.0/24', ip_version: 4 },
  });
  imageId = [...cloud.state.images.values()].find((i) => i.name === 'flatcar-stable')?.id as string;
});
afterEach(async () => {
  await cloud.close();
});

const boot = (extra: Record<string, unknown> = {}) =>
  s.call(
    'POST',
    '/compute/v2.1/servers',
    { server: { name: 'm1', imageRef: imageId, flavorRef: '4', networks: [{ uuid: netId }], ...extra } },
    MV,
  );

describe('nova', () => {
  it('boots BUILD → ACTIVE after bootTimeMs, with the port IP and user_data, and deletes', async () => {
    const ud = Buffer.from('#cloud-config\n').toString('base64');
    const r = await boot({ user_data: ud, metadata: { role: 'master' }, tags: ['kaas'] });
    expect(r.status).toBe(202);
    expect(r.headers.get('openstack-api-version')).toBe('compute 2.79');
    expect(r.headers.get('x-openstack-nova-api-version')).toBe('2.79');
    const id = ((await r.json()) as { server: { id: string } }).server.id;
    const get = () =>
      s.json<{ server: Record<string, unknown> }>('GET', `/compute/v2.1/servers/${id}`, undefined, MV);
    expect((await get()).server.status).toBe('BUILD');
    clock += 5000;
    const server = (await get()).server;
    expect(server.status).toBe('ACTIVE');
    expect(server['OS-EXT-SRV-ATTR:user_data']).toBe(ud);
    expect(server.addresses).toEqual({
      k8s: [expect.objectContaining({ version: 4, addr: '10.20.0.2', 'OS-EXT-IPS:type': 'fixed' })],
    });
    const ports = await s.json<{ ports: { device_owner: string }[] }>(
      'GET',
      `/network/v2.0/ports?device_id=${id}`,
    );
    expect(ports.ports.map((p) => p.device_owner)).toEqual(['compute:nova']);
    expect((await s.call('DELETE', `/compute/v2.1/servers/${id}`)).status).toBe(204);
    const gone = await s.call('GET', `/compute/v2.1/servers/${id}`);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual({
      itemNotFound: { code: 404, message: `Instance ${id} could not be found.` },
    });
    expect((await s.json<{ ports: unknown[] }>('GET', `/network/v2.0/ports?device_id=${id}`)).ports).toEqual(
      [],
    );
  });

  it('lists a deleted server as deleting until its machine is destroyed, and in ERROR when that fails', async () => {
    const destroyed: string[] = [];
    let finish: (error?: Error) => void = () => undefined;
    cloud.knobs.serverDeletion = (server) =>
      new Promise<void>((resolve, reject) => {
        destroyed.push(server.name);
        finish = (error) => (error ? reject(error) : resolve());
      });
    const id = ((await (await boot()).json()) as { server: { id: string } }).server.id;
    clock += 5000;
    const S = `/compute/v2.1/servers/${id}`;
    const view = async () =>
      (await s.json<{ server: Record<string, unknown> }>('GET', S, undefined, MV)).server;
    expect((await s.call('DELETE', S)).status).toBe(204);
    expect(await view()).toMatchObject({ status: 'ACTIVE', 'OS-EXT-STS:task_state': 'deleting' });
    // A second delete while it goes does not destroy it twice.
    expect((await s.call('DELETE', S)).status).toBe(204);
    expect(destroyed).toEqual(['m1']);
    finish(new Error('the hypervisor is gone'));
    await new Promise((r) => setImmediate(r));
    expect(await view()).toMatchObject({
      status: 'ERROR',
      'OS-EXT-STS:task_state': null,
      fault: { code: 500, message: 'deleting the instance failed: the hypervisor is gone' },
    });
    // Deleted again, it goes once its machine is destroyed.
    expect((await s.call('DELETE', S)).status).toBe(204);
    expect(destroyed).toEqual(['m1', 'm1']);
    finish();
    await new Promise((r) => setImmediate(r));
    expect((await s.call('GET', S)).status).toBe(404);
  });

  it("answers a server's /ips and one metadata key as Nova does", async () => {
    const id = ((await (await boot({ metadata: { role: 'master' } })).json()) as { server: { id: string } })
      .server.id;
    const S = `/compute/v2.1/servers/${id}`;
    expect(await s.json('GET', `${S}/ips`)).toEqual({
      addresses: { k8s: [{ version: 4, addr: '10.20.0.2' }] },
    });
    expect(await s.json('GET', `${S}/metadata/role`)).toEqual({ meta: { role: 'master' } });
    expect(await s.json('PUT', `${S}/metadata/role`, { meta: { role: 'worker' } })).toEqual({
      meta: { role: 'worker' },
    });
    expect(await s.json('GET', `${S}/metadata`)).toEqual({ metadata: { role: 'worker' } });
    expect((await s.call('PUT', `${S}/metadata/role`, { meta: { other: 'x' } })).status).toBe(400);
    expect(
      (await s.call('PUT', `${S}/metadata/${'k'.repeat(256)}`, { meta: { ['k'.repeat(256)]: 'v' } })).status,
    ).toBe(400);
    // the body is checked before the server is looked up
    const missing = `/compute/v2.1/servers/${netId}/metadata/role`;
    expect((await s.call('PUT', missing, { meta: { other: 'x' } })).status).toBe(400);
    expect((await s.call('PUT', missing, { meta: { role: 'x' } })).status).toBe(404);
    expect((await s.call('DELETE', `${S}/metadata/role`)).status).toBe(204);
    expect((await s.call('GET', `${S}/metadata/role`)).status).toBe(404);
  });

  it('enforces instance/core quotas with Nova 403 body', async () => {
    cloud.knobs.quotas.projects[s.projectId] = { instances: 1 };
    expect((await boot()).status).toBe(202);
    const r = await boot({ name: 'm2' });
    expect(r.status).toBe(403);
    const body = (await r.json()) as { forbidden: { message: string; code: number } };
    expect(body.forbidden.code).toBe(403);
    expect(body.forbidden.message).toMatch(/^Quota exceeded for instances: /);
  });

  it('rejects bad flavor, image, key, user_data and microversion', async () => {
    expect((await boot({ flavorRef: '99' })).status).toBe(400);
    expect((await boot({ imageRef: 'x' })).status).toBe(400);
    expect((await boot({ key_name: 'none' })).status).toBe(400);
    expect((await boot({ user_data: '***' })).status).toBe(400);
    expect((await boot({ networks: undefined })).status).toBe(400);
    const r = await s.call('GET', '/compute/v2.1/flavors/detail', undefined, {
      'openstack-api-version': 'compute 3.0',
    });
    expect(r.status).toBe(406);
  });

  it('names the missing property of a server or server group, as Nova does', async () => {
    const r = await boot({ name: undefined });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({
      badRequest: {
        code: 400,
        message: "Invalid input for field/attribute server. Value: {}. 'name' is a required property",
      },
    });
    const g = await s.call('POST', '/compute/v2.1/os-server-groups', {
      server_group: { policy: 'anti-affinity' },
    });
    expect(((await g.json()) as { badRequest: { message: string } }).badRequest.message).toBe(
      "Invalid input for field/attribute server_group. Value: {}. 'name' is a required property",
    );
    const images = await s.call('GET', '/image/v2/images?marker=nope');
    expect([images.status, await images.text()]).toEqual([
      400,
      expect.stringContaining('marker [nope] not found'),
    ]);
  });

  it('filters and paginates server lists', async () => {
    for (const [name, tags] of [
      ['a-1', ['x']],
      ['a-2', ['x', 'y']],
      ['b-1', []],
    ] as const)
      await boot({ name, tags });
    const names = async (q: string) =>
      (
        await s.json<{ servers: { name: string }[] }>(
          'GET',
          `/compute/v2.1/servers/detail${q}`,
          undefined,
          MV,
        )
      ).servers.map((x) => x.name);
    expect(await names('?name=^a-')).toEqual(['a-2', 'a-1']);
    expect(await names('?tags=x,y')).toEqual(['a-2']);
    expect(await names('?status=BUILD')).toHaveLength(3);
    const page = await s.json<{ servers: { id: string }[]; servers_links: { href: string }[] }>(
      'GET',
      '/compute/v2.1/servers?limit=2',
    );
    expect(page.servers).toHaveLength(2);
    const next = new URL(page.servers_links[0]?.href as string);
    expect(
      (await s.json<{ servers: unknown[] }>('GET', `/compute/v2.1/servers${next.search}`)).servers,
    ).toHaveLength(1);
    expect((await s.call('GET', '/compute/v2.1/servers?marker=nope')).status).toBe(400);
  });

  it('imports and generates keypairs, 409 on duplicates', async () => {
    const gen = await s.json<{ keypair: { private_key: string; public_key: string; fingerprint: string } }>(
      'POST',
      '/compute/v2.1/os-keypairs',
      { keypair: { name: 'gen' } },
    );
    expect(gen.keypair.private_key).toContain('PRIVATE KEY');
    expect(gen.keypair.public_key).toMatch(/^ssh-rsa /);
    const imported = await s.call(
      'POST',
      '/compute/v2.1/os-keypairs',
      { keypair: { name: 'imp', public_key: gen.keypair.public_key } },
      MV,
    );
    expect(imported.status).toBe(201);
    expect(((await imported.json()) as { keypair: Record<string, unknown> }).keypair).not.toHaveProperty(
      'private_key',
    );
    expect(
      (
        await s.call('POST', '/compute/v2.1/os-keypairs', {
          keypair: { name: 'imp', public_key: gen.keypair.public_key },
        })
      ).status,
    ).toBe(409);
    expect(
      (
        await s.call('POST', '/compute/v2.1/os-keypairs', {
          keypair: { name: 'bad', public_key: 'nonsense' },
        })
      ).status,
    ).toBe(400);
    expect((await boot({ key_name: 'imp' })).status).toBe(202);
    expect((await s.call('DELETE', '/compute/v2.1/os-keypairs/imp', undefined, MV)).status).toBe(204);
    expect((await s.call('GET', '/compute/v2.1/os-keypairs/imp')).status).toBe(404);
  });

  it('lists flavors and records server group members from scheduler hints', async () => {
    const flavors = await s.json<{ flavors: { name: string; vcpus: number; ram: number; disk: number }[] }>(
      'GET',
      '/compute/v2.1/flavors/detail',
    );
    expect(flavors.flavors.find((f) => f.name === 'm1.large')).toMatchObject({
      vcpus: 4,
      ram: 8192,
      disk: 40,
    });
    const g = await s.json<{ server_group: { id: string; policy: string } }>(
      'POST',
      '/compute/v2.1/os-server-groups',
      { server_group: { name: 'masters', policy: 'anti-affinity' } },
      MV,
    );
    expect(g.server_group.policy).toBe('anti-affinity');
    const r = await s.call(
      'POST',
      '/compute/v2.1/servers',
      {
        server: { name: 'm', imageRef: imageId, flavorRef: '2', networks: [{ uuid: netId }] },
        'os:scheduler_hints': { group: g.server_group.id },
      },
      MV,
    );
    const id = ((await r.json()) as { server: { id: string } }).server.id;
    const got = await s.json<{ server_group: { members: string[] } }>(
      'GET',
      `/compute/v2.1/os-server-groups/${g.server_group.id}`,
      undefined,
      MV,
    );
    expect(got.server_group.members).toEqual([id]);
    expect(
      (
        await s.call(
          'POST',
          '/compute/v2.1/os-server-groups',
          { server_group: { name: 'x', policy: 'bogus' } },
          MV,
        )
      ).status,
    ).toBe(400);
  });
});
