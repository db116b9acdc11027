/**
 * Releases come only from the version catalogue, on cloudsim: a per-cluster path or URL is refused
 * before anything is recorded, a release that cannot be fetched or does not match its digest fails
 * the job before any cloud resource exists (counted through the cloud's API), and no step output or
 * event of a create or resize carries a TempURL, while the nodes' user data does and it works.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { AuthError } from '../../src/errors.ts';
import { DEFAULT_ENROLLMENT_TTL_MS } from '../../src/provisioner/enrollment.ts';
import { errorHandler } from '../../src/server/errors.ts';
import { registerClusterRoutes } from '../../src/server/routes/clusters.ts';
import { cloudsimSuite, testProvisioner, testReleaseMirror, testSpec, TEST_VERSION } from './support.ts';

const suite = cloudsimSuite();

/** Every resource the project holds, counted through the cloud's API. */
async function cloudResources() {
  const { nova, neutron, octavia, swift } = suite.cloud;
  return {
    servers: (await nova.listServers()).length,
    serverGroups: (await nova.listServerGroups()).length,
    networks: (await neutron.networks.list()).length,
    subnets: (await neutron.subnets.list()).length,
    routers: (await neutron.routers.list()).length,
    securityGroups: (await neutron.securityGroups.list()).length,
    ports: (await neutron.ports.list()).length,
    floatingIps: (await neutron.floatingIps.list()).length,
    loadBalancers: (await octavia.listLoadBalancers()).length,
    containers: (await swift.listContainers()).length,
  };
}

/** The cloud holds exactly what it held `before`, and no keypair of cluster `name`. */
async function nothingMade(name: string, before: Awaited<ReturnType<typeof cloudResources>>) {
  expect(await cloudResources()).toEqual(before);
  await expect(suite.cloud.nova.getKeypair(`kaas-${name}-keypair`)).rejects.toMatchObject({
    code: 'openstack_not_found',
  });
}

describe('release source', () => {
  it('refuses a per-cluster release path or URL before recording or creating anything', async () => {
    const store = await suite.store();
    const p = testProvisioner(store, suite.cloud, suite.webhook);
    const before = await cloudResources();
    for (const options of [
      { releaseSource: '/etc/openstack/clouds.yaml', waitForApi: false },
      { releaseSource: '/etc/passwd' },
      { releaseSource: 'https://attacker.example/kubernetes-server-linux-amd64.tar.gz' },
      { release: '/etc/passwd' },
      { releaseMirror: 'https://attacker.example/release' },
    ]) {
      await expect(p.createCluster(testSpec('rel0', 1), options)).rejects.toMatchObject({
        name: 'InputError',
        code: 'release_source_not_allowed',
      });
    }
    expect(await p.listClusters()).toEqual([]);
    expect(await store.db.selectFrom('jobs').selectAll().execute()).toEqual([]);
    await nothingMade('rel0', before);

    // The HTTP API answers the same, with 400.
    const app = Fastify();
    app.setErrorHandler(errorHandler);
    registerClusterRoutes(app, {
      provisioner: p,
      authorize: (request) => {
        if (request.headers.authorization !== 'Bearer ok') throw new AuthError('sign in first');
      },
    });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/clusters',
        headers: { authorization: 'Bearer ok' },
        payload: {
          spec: testSpec('rel0', 1),
          options: { releaseSource: '/etc/passwd' },
          defaultProject: 'kaas',
        },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'release_source_not_allowed', field: 'releaseSource' });
    } finally {
      await app.close();
    }
    expect(await p.listClusters()).toEqual([]);
  });

  it('refuses a version whose digest the catalogue does not publish before recording anything', async () => {
    const store = await suite.store();
    const catalogue = testReleaseMirror().catalogue.map((r) =>
      r.patch === TEST_VERSION ? { ...r, artifact: { url: r.artifact.url } } : r,
    );
    const p = testProvisioner(store, suite.cloud, suite.webhook, { releaseCatalogue: catalogue });
    await expect(p.createCluster(testSpec('rel1', 1), { waitForApi: false })).rejects.toMatchObject({
      code: 'release_digest_unknown',
    });
    expect(await p.listClusters()).toEqual([]);
  });

  it('refuses to grow or upgrade onto a release without a digest, but still shrinks', async () => {
    const store = await suite.store();
    const p = testProvisioner(store, suite.cloud, suite.webhook);
    const { cluster } = await p.createCluster(testSpec('rel3', 2), { waitForApi: false });
    await p.runUntilIdle();
    const unknown = (patch: string) =>
      testReleaseMirror().catalogue.map((r) =>
        r.patch === patch ? { ...r, artifact: { url: r.artifact.url } } : r,
      );
    const strict = testProvisioner(store, suite.cloud, suite.webhook, {
      releaseCatalogue: unknown(TEST_VERSION),
    });
    await expect(strict.resizeCluster(cluster.id, 'default', 3)).rejects.toMatchObject({
      code: 'release_digest_unknown',
    });
    const next = testReleaseMirror().catalogue[1]!.patch;
    const noNext = testProvisioner(store, suite.cloud, suite.webhook, { releaseCatalogue: unknown(next) });
    await expect(noNext.upgradeCluster(cluster.id, next)).rejects.toMatchObject({
      code: 'release_digest_unknown',
    });
    expect(await p.listJobs(cluster.id)).toHaveLength(1);
    const shrink = await strict.resizeCluster(cluster.id, 'default', 1);
    await strict.runUntilIdle();
    expect((await strict.getJob(shrink.id)).job.state).toBe('succeeded');
  });

  it.each([
    ['unreachable', 'release_download_failed', () => 'https://127.0.0.1:1/release'],
    ['missing the release', 'release_not_found', () => mkdtempSync(join(tmpdir(), 'kaas-empty-mirror-'))],
    [
      'serving other bytes',
      'release_digest_mismatch',
      () => {
        const dir = mkdtempSync(join(tmpdir(), 'kaas-bad-mirror-'));
        cpSync(testReleaseMirror().dir, dir, { recursive: true });
        writeFileSync(
          join(dir, `v${TEST_VERSION}`, 'kubernetes-server-linux-amd64.tar.gz'),
          randomBytes(4096),
        );
        return dir;
      },
    ],
  ])(
    'fails a create whose mirror is %s at the release step, leaving zero cloud resources',
    async (_what, code, mirror) => {
      const store = await suite.store();
      const p = testProvisioner(store, suite.cloud, suite.webhook, {
        releaseMirror: mirror(),
        // A cache of its own: the suite's cache already holds the good release.
        releaseCacheDir: mkdtempSync(join(tmpdir(), 'kaas-cache-')),
      });
      const before = await cloudResources();
      const name = `rel-${code.length}`;
      const { job } = await p.createCluster(testSpec(name, 2), { waitForApi: false });
      await p.runUntilIdle();
      const view = await p.getJob(job.id);
      expect(view.job.state).toBe('failed');
      expect(view.job.error).toMatchObject({ code, stepId: 'release' });
      expect(view.steps.filter((s) => s.state !== 'pending').map((s) => s.stepId)).toEqual(['release']);
      await nothingMade(name, before);
      expect((await p.getCluster(name)).status).toBe('failed');
    },
  );

  it('keeps TempURLs out of step outputs and events, and puts a working one in user data', async () => {
    const store = await suite.store();
    const p = testProvisioner(store, suite.cloud, suite.webhook);
    const { cluster, job } = await p.createCluster(testSpec('rel2', 1), { waitForApi: false });
    await p.runUntilIdle();
    const created = await p.getJob(job.id);
    expect(created.job.state).toBe('succeeded');
    const resize = await p.resizeCluster(cluster.id, 'default', 2);
    await p.runUntilIdle();
    const resized = await p.getJob(resize.id);
    expect(resized.job.state).toBe('succeeded');
    for (const view of [created, resized]) {
      const text = JSON.stringify({ steps: view.steps, events: view.events });
      expect(text).not.toContain('temp_url_sig');
      expect(text).not.toContain('temp_url_expires');
      const staged = view.steps.find((s) => s.stepId === 'release-tarball')!.output as Record<
        string,
        unknown
      >;
      expect(Object.keys(staged).sort()).toEqual(['bytes', 'container', 'expiresAt', 'object', 'sha256']);
      expect(view.steps.find((s) => s.stepId === 'release')!.output).toMatchObject({
        version: TEST_VERSION,
        sha256: staged.sha256,
      });
    }
    // The nodes get a TempURL in their user data, signed from the staged object, and it downloads it.
    const [worker] = await suite.cloud.nova.listServers({ name: '^kaas-rel2-default-1$' });
    const userData = (await suite.cloud.nova.getServerUserData(worker!.id)) ?? '';
    const url = /https?:\/\/[^\s"']*temp_url_sig=[^\s"']*/.exec(userData)?.[0];
    expect(url, 'user data carries the release TempURL').toBeDefined();
    const res = await fetch(url!.replace(/&amp;/g, '&'));
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    const staged = resized.steps.find((s) => s.stepId === 'release-tarball')!.output as { sha256: string };
    expect(createHash('sha256').update(body).digest('hex')).toBe(staged.sha256);
    // It works for the node's first boot only: it expires with the node's enrollment, within the hour.
    const expires = Number(new URL(url!.replace(/&amp;/g, '&')).searchParams.get('temp_url_expires'));
    expect(expires * 1000).toBeGreaterThan(Date.now());
    expect(expires * 1000).toBeLessThanOrEqual(Date.now() + DEFAULT_ENROLLMENT_TTL_MS);
  });

  it('replaces a staged release whose bytes are not the verified ones, however it is named', async () => {
    const store = await suite.store();
    const p = testProvisioner(store, suite.cloud, suite.webhook);
    const { cluster } = await p.createCluster(testSpec('rel3', 1), { waitForApi: false });
    await p.runUntilIdle();
    const view = async (id: string) =>
      (await p.getJob(id)).steps.find((s) => s.stepId === 'release-tarball')!;
    const { container, object, bytes } = (await view((await p.listJobs(cluster.id))[0]!.id)).output as {
      container: string;
      object: string;
      bytes: number;
    };
    // Someone who can write the container swaps the bytes under the same name and size.
    await suite.cloud.swift.putObject(container, object, randomBytes(bytes));
    const resize = await p.resizeCluster(cluster.id, 'default', 2);
    await p.runUntilIdle();
    expect((await p.getJob(resize.id)).events.map((e) => e.message)).toContainEqual(
      expect.stringMatching(/^staged release [0-9a-f]{12} \(\d+ bytes\)$/),
    );
    const body = await suite.cloud.swift.getObject(container, object);
    expect(`sha256/${createHash('sha256').update(body).digest('hex')}`).toBe(object);
  });
});
