/**
 * nodelab's stand-in for Octavia's data plane on its own, without nodes: a cluster's load balancer
 * in cloudsim is served on the lab's bridge (its VIP on the host, its listener forwarding TCP to
 * the pool's members round robin), a member refusing connections is skipped, a member taken out of
 * the pool gets no more connections, and a deleted load balancer leaves nothing on the host.
 */
import { execFile } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import { tagsFor } from '../../src/cluster/names.ts';
import { testCloud } from '../provisioner/support.ts';
import { until } from './kaas.ts';
import { startNodelab, type Nodelab } from './node.ts';
import { serveLoadBalancers, type LbStandIn } from './lb.ts';

const run = promisify(execFile);
const CIDR = '10.245.0.0/24';
const MEMBERS = ['10.245.0.21', '10.245.0.22'];
const MEMBER_PORT = 7000;

/** What the far end of one connection to `host:port` says (members answer with their address). */
function ask(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let said = '';
    socket.on('data', (d: Buffer) => (said += d.toString()));
    socket.on('end', () => resolve(said));
    socket.on('error', reject);
  });
}

/** The addresses the bridge holds. */
async function bridgeAddresses(bridge: string): Promise<string[]> {
  const { stdout } = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', bridge]);
  return [...stdout.matchAll(/inet (\S+)/g)].map((m) => m[1] ?? '').sort();
}

describe('nodelab load-balancer stand-in', () => {
  let lab: Nodelab | undefined;
  let sim: Cloudsim | undefined;
  let lbs: LbStandIn | undefined;
  const members = new Map<string, Server>();
  afterAll(async () => {
    try {
      await lbs?.stop();
      for (const server of members.values()) server.close();
      await lab?.stop();
    } finally {
      await sim?.close();
    }
  });

  it('serves the VIP, forwards round robin to the pool, skips a refusing member, leaves nothing', async () => {
    lab = await startNodelab({ cidr: CIDR });
    const { bridge, gateway } = lab;
    sim = await startCloudsim({ port: 0, host: gateway, bootTimeMs: 20 });
    const cloud = testCloud(sim);
    // Two "masters" on the cluster network, each answering with its address (the bridge's
    // addresses go with the bridge when the lab stops).
    for (const address of MEMBERS) {
      await run('ip', ['addr', 'add', `${address}/32`, 'dev', bridge]);
      const server = createServer((socket) => socket.end(address));
      await new Promise<void>((resolve) => server.listen({ host: address, port: MEMBER_PORT }, resolve));
      members.set(address, server);
    }
    const clusterId = '6d3a4c52-6f70-4b4e-9d7e-5a1b2c3d4e5f';
    const network = await cloud.neutron.networks.create({ name: 'nodelab-lb' });
    const subnet = await cloud.neutron.subnets.create({ network_id: network.id, ip_version: 4, cidr: CIDR });
    const { octavia } = cloud;
    const lb = await octavia.createLoadBalancer({
      name: 'api',
      vipSubnetId: subnet.id,
      tags: tagsFor(clusterId),
    });
    // Another cluster's load balancer is not served.
    await octavia.createLoadBalancer({ name: 'other', vipSubnetId: subnet.id, tags: tagsFor('other') });
    await octavia.waitForLoadBalancer(lb.id);
    const listener = await octavia.createListener({
      loadBalancerId: lb.id,
      name: 'api',
      protocol: 'TCP',
      protocolPort: 6443,
    });
    await octavia.waitForLoadBalancer(lb.id);
    const pool = await octavia.createPool({ name: 'api', protocol: 'TCP', listenerId: listener.id });
    await octavia.waitForLoadBalancer(lb.id);
    const ids = new Map<string, string>();
    for (const address of MEMBERS) {
      ids.set(address, (await octavia.createMember(pool.id, { address, protocolPort: MEMBER_PORT })).id);
      await octavia.waitForLoadBalancer(lb.id);
    }

    lbs = serveLoadBalancers(cloud, clusterId, bridge, 100);
    const vip = lb.vip_address;
    const both = MEMBERS.map((m) => `${m}:${MEMBER_PORT}`);
    await until('the pool served', 10_000, async () =>
      lbs?.served().get(`${vip}:6443`)?.length === 2 ? true : undefined,
    );
    expect([...lbs.served().keys()]).toEqual([`${vip}:6443`]);
    expect(await bridgeAddresses(bridge)).toEqual(
      [`${gateway}/24`, `${vip}/32`, ...MEMBERS.map((m) => `${m}/32`)].sort(),
    );
    // Round robin: four connections, two to each member.
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await ask(vip, 6443));
    expect(answers.sort()).toEqual([...MEMBERS, ...MEMBERS].sort());
    expect(lbs.served().get(`${vip}:6443`)?.sort()).toEqual(both);

    // A member refusing connections (its server stopped) is skipped.
    const [first, second] = MEMBERS as [string, string];
    await new Promise((resolve) => members.get(second)?.close(resolve));
    members.delete(second);
    for (let i = 0; i < 3; i++) expect(await ask(vip, 6443)).toBe(first);

    // Out of the pool: the stand-in forwards only to what the pool lists.
    await octavia.deleteMember(pool.id, ids.get(first) ?? '');
    await until('the member gone', 10_000, async () =>
      lbs?.served().get(`${vip}:6443`)?.length === 1 ? true : undefined,
    );
    expect(lbs.served().get(`${vip}:6443`)).toEqual([`${second}:${MEMBER_PORT}`]);
    // Its only member refuses: the connection is closed, nothing answers.
    await expect(ask(vip, 6443)).resolves.toBe('');

    // Deleted: the VIP leaves the bridge, nothing listens.
    await octavia.deleteLoadBalancer(lb.id, { cascade: true });
    await until('the load balancer torn down', 10_000, async () =>
      lbs?.served().size === 0 ? true : undefined,
    );
    expect(await bridgeAddresses(bridge)).toEqual([`${gateway}/24`, ...MEMBERS.map((m) => `${m}/32`)].sort());
    await expect(ask(vip, 6443)).rejects.toThrow();
    await lbs.stop();
    lbs = undefined;
  });
});
