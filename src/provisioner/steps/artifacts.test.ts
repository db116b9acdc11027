import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanResource } from '../../cluster/plan.ts';
import { KUBERNETES_RELEASES } from '../../versions/index.ts';
import { ensureReleaseTarball } from './artifacts.ts';
import type { ExecDeps } from './context.ts';

/** Executor deps whose Swift refuses every call: these tests must fail before staging anything. */
function deps(releaseSource: string, swiftCalls: string[]): ExecDeps {
  const swift = new Proxy(
    {},
    {
      get: (_target, name) => () => {
        swiftCalls.push(String(name));
        throw new Error(`swift.${String(name)} must not be called`);
      },
    },
  );
  return {
    cloud: { swift },
    options: { releaseSource, tempUrlTtlSeconds: 3600 },
    now: () => new Date(0),
    sleep: async () => undefined,
    ctx: { signal: new AbortController().signal, event: async () => undefined },
  } as unknown as ExecDeps;
}

function tarballStep(version: string): Extract<PlanResource, { type: 'release-tarball' }> {
  return {
    type: 'release-tarball',
    name: `kubernetes/v${version}/kubernetes-server-linux-amd64.tar.gz`,
    tags: [],
    params: { container: 'kaas-t-artifacts', version, sourceUrl: 'unused', tempUrlTtlSeconds: 3600 },
  };
}

// A real HTTP server: the download goes through the same fetch the provisioner uses.
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((_req, res) => res.end(randomBytes(4096)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('staging the release from a URL', () => {
  it('refuses the catalogue URL of a release whose digest is unknown, before downloading', async () => {
    const unknown = KUBERNETES_RELEASES.find((r) => !r.artifact.sha256 && !r.artifact.sha512);
    if (!unknown) return; // every release has a published digest
    const calls: string[] = [];
    await expect(
      ensureReleaseTarball(deps(unknown.artifact.url, calls), tarballStep(unknown.patch)),
    ).rejects.toMatchObject({
      name: 'InputError',
      code: 'release_digest_unknown',
      field: 'releaseSource',
      message: expect.stringContaining(`no published digest for Kubernetes ${unknown.patch}`),
    });
    expect(calls).toEqual([]);
  });

  it('checks a download against the catalogue digest and uploads nothing on a mismatch', async () => {
    const known = KUBERNETES_RELEASES.find((r) => r.artifact.sha256 ?? r.artifact.sha512);
    expect(known, 'the catalogue publishes at least one digest').toBeDefined();
    const calls: string[] = [];
    const source = `${base}/mirror/kubernetes-server-linux-amd64.tar.gz`;
    await expect(ensureReleaseTarball(deps(source, calls), tarballStep(known!.patch))).rejects.toMatchObject({
      name: 'UpstreamError',
      code: 'release_digest_mismatch',
      message: expect.stringMatching(
        new RegExp(
          `is not the Kubernetes ${known!.patch.replace(/\./g, '\\.')} server tarball.*nothing was staged`,
        ),
      ),
    });
    expect(calls).toEqual([]);
  });
});
