import { afterEach, describe, expect, it } from 'vitest';
import { ADDON_NAMES } from '../../src/addons/index.ts';
import { WILDCARD_TLS_SECRET } from '../../src/addons/objects.ts';
import { CLOUD_CONFIG_SECRET } from '../../src/addons/storage.ts';
import type { KubeAccess } from '../../src/provisioner/kubeclient.ts';
import { ADDONS_UNREACHABLE, SWIFT_CREDENTIALS_SECRET } from '../../src/provisioner/steps/addons.ts';
import type { Store } from '../../src/store/db.ts';
import { listAddonStatus } from '../../src/store/listAddonStatus.ts';
import { startKubeApi, type KubeApi } from '../addons/kubeapi.ts';
import { clientFor } from '../addons/support.ts';
import { cloudsimSuite, testProvisioner, testSpec } from './support.ts';

const suite = cloudsimSuite();
let api: KubeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

/** What an operator puts into the cluster before kaas can run storage, ingress, registry and backups. */
function seedOperatorSecrets(kube: KubeApi): void {
  kube.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } });
  const secret = (namespace: string, name: string, keys: string[]) =>
    kube.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace },
      stringData: Object.fromEntries(keys.map((k) => [k, `operator-${k}`])),
    });
  secret('kube-system', CLOUD_CONFIG_SECRET, ['cloud.conf']);
  secret('kaas-system', WILDCARD_TLS_SECRET, ['tls.crt', 'tls.key']);
  secret('kaas-system', SWIFT_CREDENTIALS_SECRET, [
    'OS_APPLICATION_CREDENTIAL_ID',
    'OS_APPLICATION_CREDENTIAL_SECRET',
    'OS_STORAGE_URL',
  ]);
}

/** A provisioner whose cluster API is the double (every /healthz answers 200). */
async function provisioner(store: Store, kube: KubeApi) {
  const servers: string[] = [];
  const p = testProvisioner(store, suite.cloud, suite.webhook, {
    fetchApi: async () => 200,
    clusterApi: (access: KubeAccess) => {
      servers.push(access.server);
      expect(access.certPem).toContain('BEGIN CERTIFICATE');
      return clientFor(kube);
    },
    addonWait: { readinessMs: 2_000, crdMs: 2_000, pollMs: 5 },
  });
  return { p, servers };
}

/** A Secret's values as the API server stores them (base64 under data), decoded. */
function secretValues(kube: KubeApi, name: string): Record<string, string> {
  const data = (kube.get('v1', 'Secret', name, 'kaas-system')?.['data'] ?? {}) as Record<string, string>;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
}

describe('the addons step of create, resize and delete', () => {
  it('ends a create job with every managed service ready, generating the passwords once', async () => {
    api = await startKubeApi();
    seedOperatorSecrets(api);
    const store = await suite.store();
    const { p, servers } = await provisioner(store, api);
    const { cluster, job } = await p.createCluster(testSpec('ad1', 1), {
      releaseSource: suite.release,
      waitForApi: true,
    });
    await p.runUntilIdle();
    const view = await p.getJob(job.id);
    expect(view.job.state, JSON.stringify(view.events.slice(-3))).toBe('succeeded');
    expect(servers[0]).toMatch(/^https:\/\/.+:6443$/);
    const statuses = await listAddonStatus({ db: store.db, clusterId: cluster.id });
    expect(statuses.map((s) => [s.addon, s.state]).sort()).toEqual(
      [...ADDON_NAMES].map((a) => [a, 'ready']).sort(),
    );
    // Velero's CRDs came with the backups addon, so its custom resources were accepted.
    expect(api.get('velero.io/v1', 'Schedule', 'daily', 'kaas-system')).toBeDefined();
    const step = view.steps.find((s) => s.stepId === 'addons');
    expect(step?.output).toMatchObject({ applied: true, skipped: [] });
    const grafana = secretValues(api, 'kaas-grafana-admin')['password'];
    const registry = secretValues(api, 'kaas-registry-secrets');
    expect(grafana).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(registry['csrfKey']).toHaveLength(32);
    expect(registry['tokenCert']).toContain('BEGIN CERTIFICATE');
    expect(secretValues(api, 'kaas-ingress-auth')['auth']).toMatch(/^admin:\{SHA\}/);

    // A resize re-applies the services and keeps the generated credentials.
    const resize = await p.resizeCluster('ad1', 'default', 2);
    await p.runUntilIdle();
    const resized = await p.getJob(resize.id);
    expect(resized.job.state, JSON.stringify(resized.events.slice(-4))).toBe('succeeded');
    expect(secretValues(api, 'kaas-grafana-admin')['password']).toBe(grafana);
    expect(secretValues(api, 'kaas-registry-secrets')['tokenKey']).toBe(registry['tokenKey']);

    // Deleting the cluster forgets the services' status.
    const del = await p.deleteCluster('ad1');
    await p.runUntilIdle();
    expect((await p.getJob(del.id)).job.state).toBe('succeeded');
    expect(await listAddonStatus({ db: store.db, clusterId: cluster.id })).toEqual([]);
  });

  it('skips, with a warning each, the services whose operator Secrets are missing', async () => {
    api = await startKubeApi();
    const store = await suite.store();
    const { p } = await provisioner(store, api);
    const { cluster, job } = await p.createCluster(testSpec('ad2', 1), {
      releaseSource: suite.release,
      waitForApi: true,
    });
    await p.runUntilIdle();
    const view = await p.getJob(job.id);
    expect(view.job.state).toBe('succeeded');
    const statuses = await listAddonStatus({ db: store.db, clusterId: cluster.id });
    expect(statuses.map((s) => [s.addon, s.state]).sort()).toEqual([
      ['namespaces', 'ready'],
      ['networking', 'ready'],
      ['rbac', 'ready'],
    ]);
    const warnings = view.events.filter((e) => e.level === 'warn').map((e) => e.message);
    expect(warnings).toContain(
      'managed service "storage" skipped: an operator must first create Secret kube-system/kaas-cloud-config (keys cloud.conf) in the cluster',
    );
    expect(warnings).toContain(
      'managed service "ingress" skipped: an operator must first create Secret kaas-system/kaas-wildcard-tls (keys tls.crt, tls.key) in the cluster',
    );
    expect(warnings).toContain('managed service "backups" skipped: it needs storage, which was not applied');
  });

  it('succeeds with a warning when the cluster API is not waited for', async () => {
    api = await startKubeApi();
    const store = await suite.store();
    const { p, servers } = await provisioner(store, api);
    const { cluster, job } = await p.createCluster(testSpec('ad3', 1), {
      releaseSource: suite.release,
      waitForApi: false,
    });
    await p.runUntilIdle();
    const view = await p.getJob(job.id);
    expect(view.job.state).toBe('succeeded');
    expect(view.events.some((e) => e.level === 'warn' && e.message === ADDONS_UNREACHABLE)).toBe(true);
    expect(servers).toEqual([]);
    expect(await listAddonStatus({ db: store.db, clusterId: cluster.id })).toEqual([]);
  });

  it('fails the job when a service does not become ready, naming it', async () => {
    api = await startKubeApi();
    seedOperatorSecrets(api);
    api.stuck.add('Deployment kaas-system/grafana');
    const store = await suite.store();
    const { p } = await provisioner(store, api);
    const { cluster, job } = await p.createCluster(testSpec('ad4', 1), {
      releaseSource: suite.release,
      waitForApi: true,
    });
    await p.runUntilIdle();
    const view = await p.getJob(job.id);
    expect(view.job.state).toBe('failed');
    const monitoring = (await listAddonStatus({ db: store.db, clusterId: cluster.id })).find(
      (s) => s.addon === 'monitoring',
    );
    expect(monitoring?.state).toBe('failed');
    expect(monitoring?.message).toContain('grafana');
  });
});
