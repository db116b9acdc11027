import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from './index.ts';
import { login, type Session } from './testing.ts';

let cloud: Cloudsim;
let s: Session;
beforeEach(async () => {
  cloud = await startCloudsim();
  s = await login(cloud);
});
afterEach(async () => {
  await cloud.close();
});

const net = async (name = 'n') =>
  (await s.json<{ network: { id: string } }>('POST', '/network/v2.0/networks', { network: { name } })).network
    .id;
const subnet = async (networkId: string, cidr = '10.0.0.0/24') =>
  (
    await s.json<{ subnet: { id: string } }>('POST', '/network/v2.0/subnets', {
      subnet: { network_id: networkId, cidr, ip_version: 4 },
    })
  ).subnet.id;

describe('neutron', () => {
  it('validates CIDRs and allocates fixed IPs from the subnet', async () => {
    const n = await net();
    for (const cidr of ['10.0.0.0/33', 'banana', '10.0.0.1/24']) {
      const r = await s.call('POST', '/network/v2.0/subnets', {
        subnet: { network_id: n, cidr, ip_version: 4 },
      });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { NeutronError: { type: string } }).NeutronError.type).toBeTruthy();
    }
    // Neutron validates the body before it looks the network up.
    const onMissing = { subnet: { network_id: 'f0f0f0f0-0000-4000-8000-000000000000', cidr: '10.0.0.0/33' } };
    expect((await s.call('POST', '/network/v2.0/subnets', onMissing)).status).toBe(400);
    const sub = await subnet(n);
    expect(
      (
        await s.call('POST', '/network/v2.0/subnets', {
          subnet: { network_id: n, cidr: '10.0.0.128/25', ip_version: 4 },
        })
      ).status,
    ).toBe(400);
    const p1 = await s.json<{ port: { fixed_ips: { ip_address: string }[]; security_groups: string[] } }>(
      'POST',
      '/network/v2.0/ports',
      { port: { network_id: n } },
    );
    const p2 = await s.json<{ port: { fixed_ips: { ip_address: string }[] } }>(
      'POST',
      '/network/v2.0/ports',
      { port: { network_id: n } },
    );
    expect(p1.port.fixed_ips).toEqual([{ subnet_id: sub, ip_address: '10.0.0.2' }]);
    expect(p2.port.fixed_ips[0]?.ip_address).toBe('10.0.0.3');
    expect(p1.port.security_groups).toHaveLength(1);
    const taken = await s.call('POST', '/network/v2.0/ports', {
      port: { network_id: n, fixed_ips: [{ ip_address: '10.0.0.2' }] },
    });
    expect(taken.status).toBe(409);
  });

  it('refuses to delete a network with ports and a router with interfaces', async () => {
    const n = await net();
    const sub = await subnet(n);
    const port = (
      await s.json<{ port: { id: string } }>('POST', '/network/v2.0/ports', { port: { network_id: n } })
    ).port.id;
    const r = await s.call('DELETE', `/network/v2.0/networks/${n}`);
    expect(r.status).toBe(409);
    expect(((await r.json()) as { NeutronError: { type: string } }).NeutronError.type).toBe('NetworkInUse');
    const publicId = [...cloud.state.networks.values()].find((x) => x.external)?.id;
    const router = await s.json<{
      router: { id: string; external_gateway_info: { external_fixed_ips: unknown[] } };
    }>('POST', '/network/v2.0/routers', {
      router: { name: 'r', external_gateway_info: { network_id: publicId } },
    });
    expect(router.router.external_gateway_info.external_fixed_ips).toHaveLength(1);
    const rid = router.router.id;
    const iface = await s.json<{ port_id: string; subnet_id: string }>(
      'PUT',
      `/network/v2.0/routers/${rid}/add_router_interface`,
      { subnet_id: sub },
    );
    expect(iface.subnet_id).toBe(sub);
    const del = await s.call('DELETE', `/network/v2.0/routers/${rid}`);
    expect(del.status).toBe(409);
    expect(((await del.json()) as { NeutronError: { type: string } }).NeutronError.type).toBe('RouterInUse');
    const fip = await s.json<{
      floatingip: { floating_ip_address: string; fixed_ip_address: string; status: string };
    }>('POST', '/network/v2.0/floatingips', {
      floatingip: { floating_network_id: publicId, port_id: port },
    });
    expect(fip.floatingip.floating_ip_address).toMatch(/^172\.24\.4\./);
    expect(fip.floatingip.fixed_ip_address).toBe('10.0.0.2');
    await s.json('PUT', `/network/v2.0/routers/${rid}/remove_router_interface`, { subnet_id: sub });
    expect(
      (await s.call('PUT', `/network/v2.0/routers/${rid}/remove_router_interface`, { subnet_id: sub }))
        .status,
    ).toBe(404);
    expect((await s.call('DELETE', `/network/v2.0/routers/${rid}`)).status).toBe(204);
    expect((await s.call('DELETE', `/network/v2.0/ports/${port}`)).status).toBe(204);
    expect((await s.call('DELETE', `/network/v2.0/networks/${n}`)).status).toBe(204);
    expect((await s.call('GET', `/network/v2.0/networks/${n}`)).status).toBe(404);
  });

  it('tags resources and filters by tags and tags-any', async () => {
    const a = await net('a');
    const b = await net('b');
    expect((await s.call('PUT', `/network/v2.0/networks/${a}/tags/kaas`)).status).toBe(201);
    expect(await s.json('PUT', `/network/v2.0/networks/${b}/tags`, { tags: ['kaas', 'c1'] })).toEqual({
      tags: ['kaas', 'c1'],
    });
    const names = async (q: string) =>
      (await s.json<{ networks: { name: string }[] }>('GET', `/network/v2.0/networks?${q}`)).networks.map(
        (x) => x.name,
      );
    expect(await names('tags=kaas')).toEqual(['a', 'b']);
    expect(await names('tags=kaas,c1')).toEqual(['b']);
    expect(await names('tags-any=c1,zzz')).toEqual(['b']);
    expect(await names('router:external=true')).toEqual(['public']);
    expect((await s.call('DELETE', `/network/v2.0/networks/${a}/tags/nope`)).status).toBe(404);
  });

  it('creates security groups with default egress rules, rejects duplicate rules, and enforces quotas', async () => {
    const sg = await s.json<{ security_group: { id: string; security_group_rules: unknown[] } }>(
      'POST',
      '/network/v2.0/security-groups',
      { security_group: { name: 'api' } },
    );
    expect(sg.security_group.security_group_rules).toHaveLength(2);
    const rule = {
      security_group_rule: {
        security_group_id: sg.security_group.id,
        direction: 'ingress',
        protocol: 'tcp',
        port_range_min: 6443,
        port_range_max: 6443,
        ethertype: 'IPv4',
      },
    };
    expect((await s.call('POST', '/network/v2.0/security-group-rules', rule)).status).toBe(201);
    expect((await s.call('POST', '/network/v2.0/security-group-rules', rule)).status).toBe(409);
    cloud.knobs.quotas.projects[s.projectId] = { networks: 2 }; // the admin project already owns `public`
    await net();
    const r = await s.call('POST', '/network/v2.0/networks', { network: { name: 'x' } });
    expect(r.status).toBe(409);
    expect(((await r.json()) as { NeutronError: { type: string } }).NeutronError.type).toBe('OverQuota');
  });
});

describe('router gateway', () => {
  it('clears the gateway with an empty external_gateway_info', async () => {
    const publicId = [...cloud.state.networks.values()].find((x) => x.external)?.id;
    const r = await s.json<{ router: { id: string } }>('POST', '/network/v2.0/routers', {
      router: { name: 'r', external_gateway_info: { network_id: publicId } },
    });
    const cleared = await s.json<{ router: { external_gateway_info: unknown } }>(
      'PUT',
      `/network/v2.0/routers/${r.router.id}`,
      { router: { external_gateway_info: {} } },
    );
    expect(cleared.router.external_gateway_info).toBeNull();
    expect([...cloud.state.ports.values()].filter((p) => p.deviceId === r.router.id)).toEqual([]);
  });
});
