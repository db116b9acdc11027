/**
 * The hypervisor of nodelab's cloud: while a provisioner's jobs run, it boots each server of a
 * cluster as the cloud reports it ACTIVE (from exactly the user data kaas gave the cloud, on the
 * fixed IP the cloud gave its port) and tears down the node of each server deleted: given the
 * cloud's knobs, before the cloud stops listing it, as a real hypervisor does; else once it is
 * gone. Masters boot before workers and one server at a time (two cores: a kubeadm join beside a
 * kubeadm init only slows both).
 */
import type { Knobs } from '../../src/cloudsim/http.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import type { Server } from '../../src/openstack/nova.ts';
import { tagsFor } from '../../src/cluster/names.ts';
import type { LabNode, Nodelab } from './node.ts';

/** What the watch did to one server. */
export type ServerFate =
  { state: 'booted'; node: LabNode } | { state: 'failed'; error: Error } | { state: 'stopped' };

/** A running watch over one cluster's servers. */
export interface ServerWatch {
  /** Each server (by name) the watch has booted, failed to boot or stopped, as it is now. */
  readonly fates: ReadonlyMap<string, ServerFate>;
  /** Waits until server `name` has booted; rejects with its boot failure. */
  booted(name: string, timeoutMs: number): Promise<LabNode>;
  /** Waits until the node of server `name` was torn down (its server gone); rejects if that failed. */
  stopped(name: string, timeoutMs: number): Promise<void>;
  /** Stops watching (a boot in progress finishes first); rejects with what teardowns failed. */
  stop(): Promise<void>;
}

/** Boots the node of one server: its address on the cluster network and the user data kaas gave it. */
export async function bootServer(lab: Nodelab, cloud: Cloud, server: Server): Promise<LabNode> {
  const address = Object.values(server.addresses).flat()[0]?.addr;
  const userData = await cloud.nova.getServerUserData(server.id);
  if (!address || !userData) throw new Error(`${server.name} has no address or no user data`);
  return lab.boot({ name: server.name, address, userData });
}

/** Starts watching the servers tagged with cluster `clusterId`, looking every `pollMs`. */
export function watchServers(
  lab: Nodelab,
  cloud: Cloud,
  clusterId: string,
  knobs?: Pick<Knobs, 'serverDeletion'>,
  pollMs = 1000,
): ServerWatch {
  const fates = new Map<string, ServerFate>();
  const teardownErrors: unknown[] = [];
  const stopping = new Map<string, Promise<void>>();
  let watching = true;

  /** Tears down the node of server `name` (once, whoever asks first). */
  const teardown = (name: string): Promise<void> => {
    const fate = fates.get(name);
    if (fate?.state !== 'booted') return stopping.get(name) ?? Promise.resolve();
    let done = stopping.get(name);
    if (!done) {
      done = fate.node.stop().then(
        () => void fates.set(name, { state: 'stopped' }),
        (error: unknown) => {
          teardownErrors.push(error);
          fates.set(name, { state: 'failed', error: error as Error });
          throw error;
        },
      );
      stopping.set(name, done);
    }
    return done;
  };

  // As a real cloud does, the server stays listed (deleting) until its node is torn down: kaas's
  // wait for a deleted server then means its kubelet and containers are gone.
  const previous = knobs?.serverDeletion;
  if (knobs) {
    knobs.serverDeletion = (server) =>
      fates.has(server.name) ? teardown(server.name) : (previous?.(server) ?? Promise.resolve());
  }

  const pass = async () => {
    const servers = await cloud.nova.listServers({ tags: tagsFor(clusterId) });
    const listed = new Set(servers.map((s) => s.name));
    for (const name of fates.keys()) {
      if (!listed.has(name)) await teardown(name).catch(() => undefined);
    }
    const masterFirst = (s: Server) => (s.metadata['kaas-role'] === 'master' ? 0 : 1);
    const waiting = servers
      .filter((s) => s.status === 'ACTIVE' && !fates.has(s.name))
      .sort((a, b) => masterFirst(a) - masterFirst(b) || a.name.localeCompare(b.name));
    const next = waiting[0];
    if (!next) return;
    try {
      fates.set(next.name, { state: 'booted', node: await bootServer(lab, cloud, next) });
    } catch (error) {
      fates.set(next.name, { state: 'failed', error: error as Error });
    }
  };

  const loop = (async () => {
    while (watching) {
      // A cloud that does not answer now may answer on the next look.
      await pass().catch(() => undefined);
      if (watching) await new Promise((r) => setTimeout(r, pollMs));
    }
  })();

  const waitFor = async (name: string, timeoutMs: number, want: ServerFate['state']) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const fate = fates.get(name);
      if (fate?.state === 'failed') throw fate.error;
      if (fate?.state === want) return fate;
      if (!watching) throw new Error(`the watch stopped before ${name} was ${want}`);
      if (Date.now() > deadline) {
        throw new Error(`${name} was not ${want} within ${Math.round(timeoutMs / 1000)} s`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  return {
    fates,
    booted: async (name, timeoutMs) => ((await waitFor(name, timeoutMs, 'booted')) as { node: LabNode }).node,
    stopped: async (name, timeoutMs) => {
      await waitFor(name, timeoutMs, 'stopped');
    },
    stop: async () => {
      watching = false;
      await loop;
      if (knobs) knobs.serverDeletion = previous;
      if (teardownErrors.length > 0) {
        throw new AggregateError(teardownErrors, 'nodes of deleted servers were not torn down cleanly');
      }
    },
  };
}
