import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from './index.ts';
import { login, type Session } from './testing.ts';

let cloud: Cloudsim;
let s: Session;
let clock: number;
let subnetId: string;
const L = '/load-balancer/v2/lbaas';
beforeEach(async () => {
  clock = Date.now();
  cloud = await startCloudsim({ now: () => clock, provisionDelayMs: 1000 });
  s = await login(cloud);
  const n = (
    await s.json<{ network: { id: string } }>('POST', '/network/v2.0/networks', { network: { name: 'n' } })
  ).network.id;
  subnetId = (
    await s.json<{ subnet: { id: string } }>('POST', '/network/v2.0/subnets', {
      subnet: { network_id: n, cidr: '10.1.0.0/24' },
    })
  ).subnet.id;
});
afterEach(async () => {
  await cloud.close();
});

describe('octavia, cinder and glance', () => {
  it('builds an API load balancer for 3 masters and cascades its delete', async () => {
    const lb = (
      await s.json<{ loadbalancer: { id: string; provisioning_status: string; vip_address: string } }>(
        'POST',
        `${L}/loadbalancers`,
        {
          loadbalancer: { name: 'api', vip_subnet_id: subnetId, tags: ['kaas'] },
        },
      )
    ).loadbalancer;
    expect(lb.provisioning_status).toBe('PENDING_CREATE');
    expect(lb.vip_address).toBe('10.1.0.2');
    const listener = { listener: { loadbalancer_id: lb.id, protocol: 'TCP', protocol_port: 6443 } };
    expect((await s.call('POST', `${L}/listeners`, listener)).status).toBe(409);
    const early = await s.call('DELETE', `${L}/loadbalancers/${lb.id}`);
    expect(early.status).toBe(409);
    expect(((await early.json()) as { faultstring: string }).faultstring).toBe(
      `Invalid state PENDING_CREATE of loadbalancer resource ${lb.id}`,
    );
    clock += 1000;
    const l = (await s.json<{ listener: { id: string } }>('POST', `${L}/listeners`, listener)).listener;
    clock += 1000;
    const pool = (
      await s.json<{ pool: { id: string } }>('POST', `${L}/pools`, {
        pool: { listener_id: l.id, protocol: 'TCP', lb_algorithm: 'ROUND_ROBIN' },
      })
    ).pool;
    for (const ip of ['10.1.0.10', '10.1.0.11', '10.1.0.12']) {
      clock += 1000;
      expect(
        (
          await s.call('POST', `${L}/pools/${pool.id}/members`, {
            member: { address: ip, protocol_port: 6443, subnet_id: subnetId },
          })
        ).status,
      ).toBe(201);
    }
    clock += 1000;
    expect(
      (
        await s.call('POST', `${L}/healthmonitors`, {
          healthmonitor: { pool_id: pool.id, type: 'TCP', delay: 5, timeout: 3, max_retries: 3 },
        })
      ).status,
    ).toBe(201);
    clock += 1000;
    const got = (
      await s.json<{ loadbalancers: { id: string; provisioning_status: string; listeners: unknown[] }[] }>(
        'GET',
        `${L}/loadbalancers?tags=kaas`,
      )
    ).loadbalancers;
    expect(got.map((x) => [x.id, x.provisioning_status, x.listeners.length])).toEqual([[lb.id, 'ACTIVE', 1]]);
    const members = await s.json<{ members: unknown[] }>('GET', `${L}/pools/${pool.id}/members`);
    expect(members.members).toHaveLength(3);
    const refused = await s.call('DELETE', `${L}/loadbalancers/${lb.id}`);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { faultstring: string }).faultstring).toMatch(/it has children/);
    expect((await s.call('DELETE', `${L}/loadbalancers/${lb.id}?cascade=true`)).status).toBe(204);
    // PENDING_DELETE for the provisioning delay, the VIP port still in Neutron, a second delete refused
    const deleting = await s.json<{ loadbalancer: { provisioning_status: string; vip_port_id: string } }>(
      'GET',
      `${L}/loadbalancers/${lb.id}`,
    );
    expect(deleting.loadbalancer.provisioning_status).toBe('PENDING_DELETE');
    expect(cloud.state.ports.has(deleting.loadbalancer.vip_port_id)).toBe(true);
    expect((await s.call('DELETE', `${L}/loadbalancers/${lb.id}?cascade=true`)).status).toBe(409);
    clock += 1000;
    expect((await s.call('GET', `${L}/loadbalancers/${lb.id}`)).status).toBe(404);
    expect(cloud.state.lb.size).toBe(0);
    expect(cloud.state.ports.has(deleting.loadbalancer.vip_port_id)).toBe(false);
  });

  it('creates volumes that become available, and enforces the volume quota', async () => {
    cloud.knobs.quotas.projects[s.projectId] = { volumes: 1 };
    const v = (
      await s.json<{ volume: { id: string; status: string } }>('POST', `/volume/v3/${s.projectId}/volumes`, {
        volume: { size: 10, name: 'etcd' },
      })
    ).volume;
    expect(v.status).toBe('creating');
    clock += 1000;
    expect(
      (await s.json<{ volume: { status: string } }>('GET', `/volume/v3/${s.projectId}/volumes/${v.id}`))
        .volume.status,
    ).toBe('available');
    const over = await s.call('POST', `/volume/v3/${s.projectId}/volumes`, { volume: { size: 1 } });
    expect(over.status).toBe(413);
    expect((await s.call('POST', `/volume/v3/${s.projectId}/volumes`, { volume: { size: 0 } })).status).toBe(
      400,
    );
    expect((await s.call('DELETE', `/volume/v3/${s.projectId}/volumes/${v.id}`)).status).toBe(202);
    // deleting for the provisioning delay, as Cinder is while its driver removes the volume
    expect(
      (await s.json<{ volume: { status: string } }>('GET', `/volume/v3/${s.projectId}/volumes/${v.id}`))
        .volume.status,
    ).toBe('deleting');
    expect((await s.call('DELETE', `/volume/v3/${s.projectId}/volumes/${v.id}`)).status).toBe(400);
    clock += 1000;
    expect((await s.call('GET', `/volume/v3/${s.projectId}/volumes/${v.id}`)).status).toBe(404);
  });

  it("sets a pool's members in one batch PUT, as OCCM does, with Octavia's zoneless timestamps", async () => {
    const lb = (
      await s.json<{ loadbalancer: { id: string; created_at: string } }>('POST', `${L}/loadbalancers`, {
        loadbalancer: { vip_subnet_id: subnetId },
      })
    ).loadbalancer;
    expect(lb.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    clock += 1000;
    const pool = (
      await s.json<{ pool: { id: string } }>('POST', `${L}/pools`, {
        pool: { loadbalancer_id: lb.id, protocol: 'TCP', lb_algorithm: 'ROUND_ROBIN' },
      })
    ).pool;
    const batch = (...addresses: string[]) =>
      s.call('PUT', `${L}/pools/${pool.id}/members`, {
        members: addresses.map((address) => ({ address, protocol_port: 30080, subnet_id: subnetId })),
      });
    const members = async () =>
      (await s.json<{ members: { address: string }[] }>('GET', `${L}/pools/${pool.id}/members`)).members
        .map((m) => m.address)
        .sort();
    expect((await batch('10.1.0.11')).status).toBe(409);
    clock += 1000;
    expect((await batch('10.1.0.11', '10.1.0.12')).status).toBe(202);
    expect(await members()).toEqual(['10.1.0.11', '10.1.0.12']);
    clock += 1000;
    expect((await batch('10.1.0.12', '10.1.0.13')).status).toBe(202);
    expect(await members()).toEqual(['10.1.0.12', '10.1.0.13']);
    clock += 1000;
    expect(
      (await s.call('PUT', `${L}/pools/${pool.id}/members`, { members: [{ address: 'x' }] })).status,
    ).toBe(400);
    expect((await s.call('GET', `${L}/pools/${subnetId}/members`)).status).toBe(404);
  });

  it('filters volumes by metadata, pages them by limit and marker, and extends one', async () => {
    const V = `/volume/v3/${s.projectId}/volumes`;
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const metadata = name === 'c' ? {} : { cluster: 'k1' };
      ids.push(
        (await s.json<{ volume: { id: string } }>('POST', V, { volume: { size: 1, name, metadata } })).volume
          .id,
      );
    }
    clock += 1000;
    type Page = { volumes: { id: string }[]; volumes_links?: { rel: string; href: string }[] };
    const filter = `metadata=${encodeURIComponent("{'cluster':'k1'}")}`;
    const first = await s.json<Page>('GET', `${V}/detail?${filter}&limit=1`);
    // newest first, as Cinder sorts by creation time
    expect(first.volumes.map((v) => v.id)).toEqual([ids[1]]);
    const next = new URL(first.volumes_links?.[0]?.href ?? '');
    expect(next.searchParams.get('marker')).toBe(ids[1]);
    const second = await s.json<Page>('GET', `${V}/detail?${next.searchParams.toString()}`);
    expect(second.volumes.map((v) => v.id)).toEqual([ids[0]]);
    expect((await s.call('GET', `${V}/detail?marker=${subnetId}`)).status).toBe(404);
    expect((await s.call('GET', `${V}?metadata=nonsense`)).status).toBe(400);

    const action = (body: unknown) => s.call('POST', `${V}/${ids[0]}/action`, body);
    expect((await action({ 'os-extend': { new_size: 1 } })).status).toBe(400);
    expect((await action({ 'os-extend': { new_size: 3 } })).status).toBe(202);
    const volume = async () =>
      (await s.json<{ volume: { status: string; size: number } }>('GET', `${V}/${ids[0]}`)).volume;
    expect(await volume()).toMatchObject({ status: 'extending', size: 3 });
    clock += 1000;
    expect(await volume()).toMatchObject({ status: 'available', size: 3 });
    expect((await action({ 'os-attach': { mountpoint: '/dev/vdb' } })).status).toBe(400);
  });

  it('snapshots only an available volume of the project, and refuses a missing one', async () => {
    const V = `/volume/v3/${s.projectId}`;
    const v = (await s.json<{ volume: { id: string } }>('POST', `${V}/volumes`, { volume: { size: 1 } }))
      .volume;
    const early = await s.call('POST', `${V}/snapshots`, { snapshot: { volume_id: v.id } });
    expect(early.status).toBe(400);
    expect(((await early.json()) as { badRequest: { message: string } }).badRequest.message).toMatch(
      /current status is: creating/,
    );
    expect((await s.call('POST', `${V}/snapshots`, { snapshot: { volume_id: 'nope' } })).status).toBe(404);
    clock += 1000;
    const snap = (
      await s.json<{ snapshot: { id: string; status: string } }>('POST', `${V}/snapshots`, {
        snapshot: { volume_id: v.id, name: 'snap' },
      })
    ).snapshot;
    expect(snap.status).toBe('creating');
    clock += 1000;
    // Cinder's list (summary) view holds what CSI reads: size, status, volume, creation time, metadata.
    expect((await s.json<{ snapshots: { id: string }[] }>('GET', `${V}/snapshots`)).snapshots).toEqual([
      {
        id: snap.id,
        name: 'snap',
        description: null,
        volume_id: v.id,
        status: 'available',
        size: 1,
        metadata: {},
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/),
        updated_at: null,
      },
    ]);
    expect((await s.call('DELETE', `${V}/snapshots/${snap.id}`)).status).toBe(202);
    expect((await s.call('GET', `${V}/snapshots/${snap.id}`)).status).toBe(404);
    expect((await s.call('DELETE', `${V}/volumes/${v.id}`)).status).toBe(202);
  });

  it('lists images by name and uploads image data', async () => {
    const list = await s.json<{ images: { name: string; status: string }[] }>(
      'GET',
      '/image/v2/images?name=debian-12',
    );
    expect(list.images.map((i) => [i.name, i.status])).toEqual([['debian-12', 'active']]);
    const img = await s.json<{ id: string; status: string }>('POST', '/image/v2/images', {
      name: 'mine',
      disk_format: 'raw',
      container_format: 'bare',
    });
    expect(img.status).toBe('queued');
    const up = await fetch(`${cloud.url}/image/v2/images/${img.id}/file`, {
      method: 'PUT',
      headers: { 'x-auth-token': s.token, 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(1024),
    });
    expect(up.status).toBe(204);
    expect(await s.json('GET', `/image/v2/images/${img.id}`)).toMatchObject({ status: 'active', size: 1024 });
    expect((await s.call('GET', '/image/v2/images/nope')).status).toBe(404);
  });
});
