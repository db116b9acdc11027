import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.ts';
import { defaultCatalog } from './catalog.ts';
import { cinder } from './cinder.ts';
import { glance } from './glance.ts';
import type { Env, Knobs } from './http.ts';
import { keystone } from './keystone.ts';
import { neutron } from './neutron.ts';
import { nova } from './nova.ts';
import { octavia } from './octavia.ts';
import { loadCloud, saveCloud } from './persist.ts';
import { assignRole, bootstrapState, seedGroup, seedProject, seedRole, seedUser } from './seed.ts';
import { createCloudServer } from './server.ts';
import { defaultQuotas, type CloudState, type Quotas } from './state.ts';
import { createStats, type CloudsimStats } from './stats.ts';
import { swift } from './swift.ts';

export type { Fault } from './faults.ts';
export type { Knobs } from './http.ts';
export type { CloudState, Quotas } from './state.ts';
export type { CloudsimStats } from './stats.ts';

export interface CloudsimOptions {
  /** 0 = OS-picked (default). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Added to every request before it is answered. */
  latencyMs?: number;
  /** BUILD → ACTIVE delay of servers; default 0. */
  bootTimeMs?: number;
  /** PENDING_* → ACTIVE delay of load-balancer objects and creating → available of volumes; default 0. */
  provisionDelayMs?: number;
  /** Keystone token lifetime; default one hour. */
  tokenTtlMs?: number;
  /** Default quotas of every project. */
  quotas?: Partial<Quotas>;
  logger?: Logger;
  /** Clock in epoch milliseconds; injectable so tests can move time (token expiry, TempURL expiry). */
  now?: () => number;
  /**
   * Keeps the state in this directory (src/cloudsim/persist.ts): loaded at start when saved there
   * (on the port it had, when that is free), saved after each request that may change it, before
   * its answer.
   */
  stateDir?: string;
}

/** A running simulated cloud. */
export interface Cloudsim {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `url + '/v3'` */
  authUrl: string;
  knobs: Knobs;
  stats: CloudsimStats;
  /** Direct access to every object, for tests and seeding. */
  state: CloudState;
  /** The state was loaded from `stateDir` (not a fresh bootstrap). */
  restored: boolean;
  /**
   * Saves the state to `stateDir` now (after seeding it directly); nothing without one. Requests
   * that may change the state save it on their own.
   */
  save(): void;
  seedUser: (input: Parameters<typeof seedUser>[1]) => ReturnType<typeof seedUser>;
  seedProject: (input: Parameters<typeof seedProject>[1]) => ReturnType<typeof seedProject>;
  seedRole: (name: string) => ReturnType<typeof seedRole>;
  seedGroup: (input: Parameters<typeof seedGroup>[1]) => ReturnType<typeof seedGroup>;
  assignRole: (input: Parameters<typeof assignRole>[1]) => void;
  close(): Promise<void>;
}

/**
 * Starts an OpenStack-compatible cloud in this process: Keystone, Nova, Neutron, Glance, Swift, Octavia
 * and Cinder under one HTTP server, with the lab's bootstrap state. It is kaas' embedded default cloud
 * and the target of benchmarks and fault injection.
 */
export async function startCloudsim(options: CloudsimOptions = {}): Promise<Cloudsim> {
  const now = options.now ?? Date.now;
  const saved = options.stateDir ? loadCloud(options.stateDir) : undefined;
  const state = saved?.state ?? bootstrapState(now());
  const knobs: Knobs = {
    latencyMs: options.latencyMs ?? 0,
    bootTimeMs: options.bootTimeMs ?? 0,
    provisionDelayMs: options.provisionDelayMs ?? 0,
    tokenTtlMs: options.tokenTtlMs ?? 3_600_000,
    faults: [],
    quotas: { defaults: { ...defaultQuotas, ...options.quotas }, projects: saved?.quotas ?? {} },
  };
  const stats = createStats();
  const env: Env = { state, knobs, now, url: '', catalog: defaultCatalog() };
  const { stateDir } = options;
  const save = () => {
    if (stateDir !== undefined) saveCloud(stateDir, { state, quotas: knobs.quotas.projects, port });
  };
  const server = createCloudServer({
    env,
    stats,
    logger: options.logger,
    services: [keystone, nova, glance, neutron, swift, octavia, cinder],
    // Saved before the answer leaves: whatever a client saw done (and recorded) survives a crash.
    onChange: stateDir === undefined ? undefined : save,
  });
  const host = options.host ?? '127.0.0.1';
  const listen = (wanted: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(wanted, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  if (options.port === undefined && saved) {
    await listen(saved.port).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') throw error;
      options.logger?.warn(`cloudsim's earlier port ${saved.port} is in use; it listens on another one`);
      await listen(0);
    });
  } else {
    await listen(options.port ?? 0);
  }
  const { port } = server.address() as AddressInfo;
  env.url = `http://${host}:${port}`;
  return {
    url: env.url,
    authUrl: `${env.url}/v3`,
    knobs,
    stats,
    state,
    restored: saved !== undefined,
    save,
    seedUser: (input) => seedUser(state, input),
    seedProject: (input) => seedProject(state, input),
    seedRole: (name) => seedRole(state, name),
    seedGroup: (input) => seedGroup(state, input),
    assignRole: (input) => assignRole(state, input),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

export { assignRole, seedGroup, seedProject, seedRole, seedUser };
