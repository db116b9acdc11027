/**
 * nodelab's stand-in for Octavia's data plane: cloudsim keeps load balancers, listeners, pools and
 * members as objects and forwards nothing, so while a cluster's load balancers exist in the cloud
 * the harness serves each one's VIP on the lab's bridge (the address on the host side, as /32) and
 * forwards every TCP connection to a listener's port to the members of its default pool, round
 * robin, as the pool lists them now. A member that refuses the connection (or does not answer) is
 * skipped for the next one and tried last for a while (what haproxy's retries and redispatch do,
 * roughly); there is no health monitor probing (Octavia's
 * amphora would also take a member whose /readyz fails out of rotation). A load balancer gone from
 * the cloud is torn down: its listeners closed, their connections cut, the VIP removed.
 */
import { execFile } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { tagsFor } from '../../src/cluster/names.ts';
import type { Cloud } from '../../src/openstack/index.ts';

const run = promisify(execFile);

/** One served listener: the VIP's port and the members it forwards to now. */
interface Served {
  readonly server: Server;
  readonly sockets: Set<Socket>;
  members: { address: string; port: number }[];
  next: number;
  /** `address:port` → until when a member that refused or did not answer is tried last. */
  failed: Map<string, number>;
}

/** How long a member that failed a connection is tried after the others. */
const FAILED_MS = 10_000;
const key = (m: { address: string; port: number }) => `${m.address}:${m.port}`;

/** The load balancers of one cluster, served on a lab bridge. */
export interface LbStandIn {
  /** `vip:port` → the `address:port` members forwarded to, as the stand-in serves them now. */
  served(): Map<string, string[]>;
  /** Stops watching and tears every load balancer down (VIPs removed, listeners closed). */
  stop(): Promise<void>;
}

/** Starts serving the load balancers tagged with cluster `clusterId` on `bridge`, looking every `pollMs`. */
export function serveLoadBalancers(
  cloud: Cloud,
  clusterId: string,
  bridge: string,
  pollMs = 1000,
): LbStandIn {
  // VIP → its listeners by port.
  const vips = new Map<string, Map<number, Served>>();
  let watching = true;

  const listen = async (vip: string, port: number): Promise<Served> => {
    const served: Served = {
      server: createServer(),
      sockets: new Set(),
      members: [],
      next: 0,
      failed: new Map(),
    };
    served.server.on('connection', (client) => forward(served, client));
    await new Promise<void>((resolve, reject) => {
      served.server.once('error', reject);
      served.server.listen({ host: vip, port }, () => resolve());
    });
    return served;
  };

  const forward = (served: Served, client: Socket) => {
    served.sockets.add(client);
    client.on('close', () => served.sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    // Each member once, from this connection's turn on; the ones that failed lately last.
    const start = served.next++;
    const now = Date.now();
    const turns = served.members.map((_, k) => served.members[(start + k) % served.members.length]!);
    const candidates = [
      ...turns.filter((m) => (served.failed.get(key(m)) ?? 0) < now),
      ...turns.filter((m) => (served.failed.get(key(m)) ?? 0) >= now),
    ];
    const attempt = (k: number) => {
      const member = candidates[k];
      if (!member || client.destroyed) {
        client.destroy();
        return;
      }
      const upstream = connect({ host: member.address, port: member.port });
      upstream.once('error', () => {
        served.failed.set(key(member), Date.now() + FAILED_MS);
        attempt(k + 1);
      });
      upstream.once('connect', () => {
        served.sockets.add(upstream);
        upstream.on('close', () => served.sockets.delete(upstream));
        upstream.removeAllListeners('error');
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  };

  const close = async (listeners: Map<number, Served>) => {
    for (const served of listeners.values()) {
      for (const socket of served.sockets) socket.destroy();
      await new Promise<void>((resolve) => served.server.close(() => resolve()));
    }
  };

  const removeVip = async (vip: string) => {
    const listeners = vips.get(vip);
    vips.delete(vip);
    if (listeners) await close(listeners);
    await run('ip', ['addr', 'del', `${vip}/32`, 'dev', bridge]);
  };

  const pass = async () => {
    const { octavia } = cloud;
    const wanted = new Map<string, Map<number, { address: string; port: number }[]>>();
    for (const lb of await octavia.listLoadBalancers({ tags: tagsFor(clusterId) })) {
      const ports = new Map<number, { address: string; port: number }[]>();
      for (const { id } of lb.listeners) {
        const listener = await octavia.getListener(id);
        const members = listener.default_pool_id
          ? (await octavia.listMembers(listener.default_pool_id)).map((m) => ({
              address: m.address,
              port: m.protocol_port,
            }))
          : [];
        ports.set(listener.protocol_port, members);
      }
      wanted.set(lb.vip_address, ports);
    }
    for (const vip of [...vips.keys()]) if (!wanted.has(vip)) await removeVip(vip);
    for (const [vip, ports] of wanted) {
      let listeners = vips.get(vip);
      if (!listeners) {
        await run('ip', ['addr', 'add', `${vip}/32`, 'dev', bridge]);
        listeners = new Map();
        vips.set(vip, listeners);
      }
      for (const [port, served] of [...listeners]) {
        if (!ports.has(port)) {
          listeners.delete(port);
          await close(new Map([[port, served]]));
        }
      }
      for (const [port, members] of ports) {
        let served = listeners.get(port);
        if (!served) {
          served = await listen(vip, port);
          listeners.set(port, served);
        }
        served.members = members;
      }
    }
  };

  const loop = (async () => {
    while (watching) {
      // A cloud that does not answer now may answer on the next look.
      await pass().catch(() => undefined);
      if (watching) await new Promise((r) => setTimeout(r, pollMs));
    }
  })();

  return {
    served: () => {
      const out = new Map<string, string[]>();
      for (const [vip, listeners] of vips) {
        for (const [port, served] of listeners) {
          out.set(
            `${vip}:${port}`,
            served.members.map((m) => `${m.address}:${m.port}`),
          );
        }
      }
      return out;
    },
    stop: async () => {
      watching = false;
      await loop;
      for (const vip of [...vips.keys()]) await removeVip(vip);
    },
  };
}
