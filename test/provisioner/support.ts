import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { createCa } from '../../src/auth/pki.ts';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import { createLogger } from '../../src/log.ts';
import { createCloud, type Cloud, type CloudConfig } from '../../src/openstack/index.ts';
import type { WebhookTarget } from '../../src/provisioner/material.ts';
import { createProvisioner, type ProvisionerDeps } from '../../src/provisioner/provisioner.ts';
import type { Store } from '../../src/store/db.ts';
import { KUBERNETES_RELEASES } from '../../src/versions/index.ts';
import { freshStore, type Engine } from '../support/databases.ts';
import { adminConfig, labAdminConfig } from '../support/openstack.ts';

/** Silent logger for the suites. */
export const logger = createLogger({ level: 'silent' });

/** A cloud client with fast retries, for tests: as the admin of `sim` or of the real lab, or from `config`. */
export function testCloud(target: Cloudsim | 'lab' | CloudConfig): Cloud {
  const config =
    target === 'lab' ? labAdminConfig() : 'authUrl' in target ? adminConfig(target.authUrl) : target;
  return createCloud({ config, logger, retry: { baseDelayMs: 20, maxDelayMs: 200, maxRetryAfterMs: 2_000 } });
}

import { testReleaseDeps } from './releases.ts';
import { CLUSTER_DEFAULTS } from '../../src/cluster/defaults.ts';

export {
  queueWorkerRollout,
  testReleaseDeps,
  testReleaseMirror,
  type TestReleaseMirror,
} from './releases.ts';

/** The secret key the suites seal cluster secrets with (fixed per run). */
export const TEST_SECRET_KEY = randomBytes(32);

/** A TokenReview webhook target with a real CA, as kaas' own server would have. */
export async function testWebhook(): Promise<WebhookTarget> {
  const ca = await createCa({ commonName: 'kaas-test' });
  return { kaasUrl: 'https://kaas.example.com', caPem: ca.certPem };
}

/** A provisioner on `store` and `cloud` with short polls; `over` replaces any dependency. */
export function testProvisioner(
  store: Store,
  cloud: Cloud,
  webhook: WebhookTarget,
  over: Partial<ProvisionerDeps> = {},
) {
  return createProvisioner({
    store,
    logger,
    now: () => new Date(),
    cloud,
    secretKey: TEST_SECRET_KEY,
    webhook,
    pollIntervalMs: 50,
    waitTimeoutMs: 60_000,
    leaseMs: 2_000,
    ...testReleaseDeps(),
    ...over,
  });
}

/** The catalogue's oldest release, so the suites can upgrade to the next. */
export const TEST_VERSION = KUBERNETES_RELEASES[0]!.patch;

/** A cluster spec for the suites. */
export function testSpec(
  name: string,
  workers: number,
  over: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    kubernetesVersion: TEST_VERSION,
    masters: 1,
    masterFlavor: 'm1.small',
    image: 'debian-12',
    os: 'debian',
    nodeGroups: [{ name: 'default', count: workers, flavor: 'm1.small' }],
    network: { ...CLUSTER_DEFAULTS.network, nodeCidr: '10.240.0.0/24' },
    externalNetwork: 'public',
    dnsDomain: 'apps.example.com',
    adminRoleId: '9fe2ff9ee4384b1894a90878d3e92bab',
    ...over,
  };
}

/** A fresh migrated store (the control-panel tables the provisioner reports to among them). */
export async function provisionerStore(engine: Engine = 'sqlite'): Promise<Store> {
  return freshStore(engine);
}

/** What {@link cloudsimSuite} provides once its beforeAll ran. */
export interface CloudsimSuite {
  sim: Cloudsim;
  cloud: Cloud;
  webhook: WebhookTarget;
  /** A fresh provisioner store, closed after the suite. */
  store(): Promise<Store>;
}

/** Starts cloudsim (20 ms boots) and the shared fixtures for the suite; closes them afterwards. */
export function cloudsimSuite(): CloudsimSuite {
  const stores: Store[] = [];
  const suite = {
    store: async () => {
      const s = await provisionerStore();
      stores.push(s);
      return s;
    },
  } as CloudsimSuite;
  beforeAll(async () => {
    suite.sim = await startCloudsim({ port: 0, bootTimeMs: 20 });
    suite.cloud = testCloud(suite.sim);
    suite.webhook = await testWebhook();
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await suite.sim.close();
  });
  return suite;
}

/** How many of each tagged compute and network resource cluster `clusterId` has, through the APIs. */
export async function taggedCounts(cloud: Cloud, clusterId: string) {
  const tags = [`kaas-cluster=${clusterId}`];
  return {
    servers: (await cloud.nova.listServers({ tags })).length,
    networks: (await cloud.neutron.networks.list({ tags })).length,
    subnets: (await cloud.neutron.subnets.list({ tags })).length,
    routers: (await cloud.neutron.routers.list({ tags })).length,
    securityGroups: (await cloud.neutron.securityGroups.list({ tags })).length,
    ports: (await cloud.neutron.ports.list({ tags })).length,
  };
}

/** What {@link taggedCounts} finds once a cluster is deleted. */
export const NONE_TAGGED = { servers: 0, networks: 0, subnets: 0, routers: 0, securityGroups: 0, ports: 0 };
