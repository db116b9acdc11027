import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KUBERNETES_RELEASES, type KubernetesRelease } from '../versions/index.ts';
import {
  fetchRelease,
  parseReleaseMirror,
  releaseLocation,
  trustedRelease,
  type ReleaseAccess,
} from './release.ts';

const RELEASE = KUBERNETES_RELEASES[0]!;
const signal = new AbortController().signal;

/** A directory mirror holding `bytes` as RELEASE's tarball, and a catalogue trusting `trusted`. */
function mirrorWith(bytes: Buffer, trusted: Buffer = bytes): ReleaseAccess {
  const root = mkdtempSync(join(tmpdir(), 'kaas-release-test-'));
  const dir = join(root, 'release', `v${RELEASE.patch}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'kubernetes-server-linux-amd64.tar.gz'), bytes);
  const sha256 = createHash('sha256').update(trusted).digest('hex');
  const catalogue: KubernetesRelease[] = [{ ...RELEASE, artifact: { url: RELEASE.artifact.url, sha256 } }];
  return { mirror: join(root, 'release'), cacheDir: join(root, 'cache'), catalogue };
}

describe('parseReleaseMirror', () => {
  it('takes an https base URL or an absolute directory', () => {
    expect(parseReleaseMirror('https://mirror.example/k8s/release/')).toBe(
      'https://mirror.example/k8s/release',
    );
    expect(parseReleaseMirror('/srv/k8s/release/')).toBe('/srv/k8s/release');
  });
  it.each(['http://mirror.example/release', 'relative/dir', 'ftp://m/r', 'https://m.example/r?token=x', ''])(
    'refuses %j',
    (value) => {
      expect(() => parseReleaseMirror(value)).toThrow(
        expect.objectContaining({ code: 'invalid_config', field: 'KAAS_RELEASE_MIRROR' }),
      );
    },
  );
});

describe('releaseLocation', () => {
  it('is the catalogue URL without a mirror, and the same layout under one', () => {
    expect(releaseLocation(RELEASE, undefined)).toBe(RELEASE.artifact.url);
    expect(releaseLocation(RELEASE, 'https://m.example/k8s')).toBe(
      `https://m.example/k8s/v${RELEASE.patch}/kubernetes-server-linux-amd64.tar.gz`,
    );
    expect(releaseLocation(RELEASE, '/srv/k8s')).toBe(
      `/srv/k8s/v${RELEASE.patch}/kubernetes-server-linux-amd64.tar.gz`,
    );
  });
});

describe('trustedRelease', () => {
  it('refuses a release whose digest the catalogue does not publish', () => {
    const unknown = { ...RELEASE, artifact: { url: RELEASE.artifact.url } };
    expect(() => trustedRelease([unknown], RELEASE.patch)).toThrow(
      expect.objectContaining({ name: 'InputError', code: 'release_digest_unknown' }),
    );
    expect(() => trustedRelease(KUBERNETES_RELEASES, '1.2.3')).toThrow(
      expect.objectContaining({ code: 'unsupported_version' }),
    );
  });
  it('prefers SHA-256 and falls back to the SHA-512 upstream publishes', () => {
    const published = KUBERNETES_RELEASES.find((r) => r.artifact.sha512 !== undefined);
    expect(published, 'the catalogue publishes at least one digest').toBeDefined();
    expect(trustedRelease(KUBERNETES_RELEASES, published!.patch).digest).toEqual({
      algorithm: 'sha512',
      hex: published!.artifact.sha512,
    });
  });
});

describe('fetchRelease', () => {
  it('copies a verified release into the cache and reuses the cached copy', async () => {
    const bytes = randomBytes(32 * 1024);
    const access = mirrorWith(bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const first = await fetchRelease(access, RELEASE.patch, signal);
    expect(first).toMatchObject({
      sha256,
      bytes: bytes.length,
      path: join(access.cacheDir, `sha256-${sha256}.tar.gz`),
    });
    // Gone from the mirror: the cache answers.
    writeFileSync(releaseLocation(access.catalogue[0]!, access.mirror), 'changed upstream');
    expect((await fetchRelease(access, RELEASE.patch, signal)).sha256).toBe(sha256);
  });

  it('fetches again when the cached copy no longer matches the catalogue', async () => {
    const bytes = randomBytes(1024);
    const access = mirrorWith(bytes);
    const { path } = await fetchRelease(access, RELEASE.patch, signal);
    writeFileSync(path, 'tampered');
    const again = await fetchRelease(access, RELEASE.patch, signal);
    expect(again.bytes).toBe(bytes.length);
  });

  it('refuses bytes that are not the catalogue release, and keeps nothing of them', async () => {
    const access = mirrorWith(randomBytes(1024), randomBytes(1024));
    await expect(fetchRelease(access, RELEASE.patch, signal)).rejects.toMatchObject({
      name: 'UpstreamError',
      code: 'release_digest_mismatch',
      message: expect.stringMatching(/is not the Kubernetes .* server tarball.*nothing was staged/),
    });
    expect(readdirSync(access.cacheDir)).toEqual([]);
  });

  it('says what is missing when the mirror lacks the release', async () => {
    const access = { ...mirrorWith(randomBytes(16)), mirror: join(tmpdir(), 'kaas-no-such-mirror') };
    await expect(fetchRelease(access, RELEASE.patch, signal)).rejects.toMatchObject({
      code: 'release_not_found',
    });
  });

  it('fails clearly when an https mirror cannot be reached', async () => {
    const access = { ...mirrorWith(randomBytes(16)), mirror: 'https://127.0.0.1:1/release' };
    await expect(fetchRelease(access, RELEASE.patch, signal)).rejects.toMatchObject({
      name: 'UpstreamError',
      code: 'release_download_failed',
      message: expect.stringContaining(`https://127.0.0.1:1/release/v${RELEASE.patch}/`),
    });
  });

  it('refuses, before any download, a release without a published digest', async () => {
    const access = mirrorWith(randomBytes(16));
    const unknown = {
      ...access,
      catalogue: [{ ...RELEASE, artifact: { url: RELEASE.artifact.url } }],
      mirror: 'https://127.0.0.1:1/x',
    };
    await expect(fetchRelease(unknown, RELEASE.patch, signal)).rejects.toMatchObject({
      code: 'release_digest_unknown',
    });
  });
});
