import { readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { createCloud, resolveCloudConfig, type Cloud, type CloudConfig } from '../../src/openstack/index.ts';
import { adminEnv } from '../support/openstack.ts';

/** Catalog service types a target offers. */
export type ServiceType =
  'identity' | 'compute' | 'image' | 'network' | 'object-store' | 'load-balancer' | 'volumev3';

/** A cloud the contract suite runs against. */
export interface ContractTarget {
  name: 'lab' | 'cloudsim';
  services: ServiceType[];
  /** Starts the target if needed; returns admin credentials as OS_* variables and a stop function. */
  start(): Promise<{ env: Record<string, string>; stop(): Promise<void> }>;
}

/** Reads `export KEY=value` lines of an openrc file. */
export function parseOpenrc(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?(OS_[A-Z0-9_]+)=(.*)$/.exec(line);
    if (m?.[1] && m[2] !== undefined) env[m[1]] = m[2].trim().replace(/^(['"])(.*)\1$/, '$2');
  }
  return env;
}

const LAB_OPENRC = '/var/lib/oslab/admin-openrc.sh';

/** The real OpenStack lab on this machine (test/lab/up-all.sh). */
export const labTarget: ContractTarget = {
  name: 'lab',
  services: ['identity', 'compute', 'image', 'network', 'object-store', 'load-balancer', 'volumev3'],
  async start() {
    const fromEnv = Object.fromEntries(
      Object.entries(process.env).filter(
        (e): e is [string, string] => e[0].startsWith('OS_') && e[1] !== undefined,
      ),
    );
    const env = process.env.OS_AUTH_URL ? fromEnv : parseOpenrc(readFileSync(LAB_OPENRC, 'utf8'));
    return { env, stop: async () => undefined };
  },
};

/** cloudsim, started in-process; imported lazily so the lab runs do not depend on it. */
export const cloudsimTarget: ContractTarget = {
  name: 'cloudsim',
  services: ['identity', 'compute', 'image', 'network', 'object-store', 'load-balancer', 'volumev3'],
  async start() {
    const modulePath = '../../src/cloudsim/index.ts';
    const mod = (await import(modulePath)) as {
      startCloudsim(options?: {
        port?: number;
        latencyMs?: number;
        bootTimeMs?: number;
        provisionDelayMs?: number;
      }): Promise<{
        authUrl: string;
        close(): Promise<void>;
      }>;
    };
    // Octavia and Cinder objects stay PENDING_*/creating a while, as on the lab, so waits are exercised.
    const sim = await mod.startCloudsim({ bootTimeMs: 200, provisionDelayMs: 200 });
    return {
      env: { ...adminEnv(sim.authUrl), OS_INTERFACE: 'public' },
      stop: () => sim.close(),
    };
  },
};

/**
 * Targets to run. All by default; `KAAS_CONTRACT_TARGETS=lab` (comma list) narrows the run when
 * iterating on one of them. Never silently skipped: a target that cannot start fails its tests.
 */
export const targets: ContractTarget[] = [labTarget, cloudsimTarget].filter(
  (t) => !process.env.KAAS_CONTRACT_TARGETS || process.env.KAAS_CONTRACT_TARGETS.split(',').includes(t.name),
);

/** A started target with an admin cloud client and a cleanup stack run in afterAll. */
export interface Harness {
  cloud: Cloud;
  config: CloudConfig;
  env: Record<string, string>;
  /** Unique, DNS-safe prefix for this run's resources. */
  prefix: string;
  /** Registers an undo step; run in reverse order even when tests failed. */
  defer(step: () => Promise<unknown>): void;
  /** A client for other credentials against the same target. */
  cloudFor(env: Record<string, string>): Cloud;
  close(): Promise<void>;
}

/** Starts a target for one test file. */
export async function startHarness(target: ContractTarget, area: string): Promise<Harness> {
  const { env, stop } = await target.start();
  const logger = createLogger({ level: process.env.KAAS_CONTRACT_LOG ?? 'silent' });
  const cloudFor = (e: Record<string, string>) =>
    createCloud({
      config: resolveCloudConfig({ env: e }),
      logger,
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 500))),
    });
  const cloud = cloudFor(env);
  const steps: (() => Promise<unknown>)[] = [];
  const prefix = `kc-${area}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  return {
    cloud,
    config: cloud.session.config,
    env,
    prefix,
    defer: (step) => steps.push(step),
    cloudFor,
    async close() {
      const errors: unknown[] = [];
      for (const step of steps.reverse()) {
        try {
          await step();
        } catch (e) {
          errors.push(e);
        }
      }
      await stop();
      if (errors.length > 0)
        throw new AggregateError(errors, `contract cleanup failed (${errors.length} steps)`);
    },
  };
}

/**
 * The harness of `target` for the calling describe block, as `startHarness` makes it: filled in by
 * the block's beforeAll, closed (undo steps and all, even when tests failed) by its afterAll.
 */
export function useHarness(target: ContractTarget, area: string): Harness {
  const harness = {} as Harness;
  beforeAll(async () => {
    Object.assign(harness, await startHarness(target, area));
  });
  afterAll(async () => {
    await harness.close?.();
  });
  return harness;
}

/** A flavor to boot with: cloudsim's smallest fixed one, or one made for this run (the lab starts with none). */
export async function testFlavor(h: Harness): Promise<string> {
  const { nova } = h.cloud;
  const existing = (await nova.listFlavors()).sort((a, b) => a.ram - b.ram)[0];
  if (existing) return existing.id;
  const flavor = await nova.createFlavor({ name: `${h.prefix}-flavor`, ram: 512, vcpus: 1, disk: 1 });
  h.defer(() => nova.deleteFlavor(flavor.id));
  return flavor.id;
}

/** An active 64 KiB raw image `<prefix>-img` for this run, deleted in close. */
export async function testImage(h: Harness, tags: string[] = []): Promise<string> {
  const { glance } = h.cloud;
  const image = await glance.createImage({ name: `${h.prefix}-img`, tags });
  h.defer(() => glance.deleteImage(image.id, { ignoreMissing: true }));
  await glance.uploadImage(image.id, Buffer.alloc(64 * 1024));
  return image.id;
}
