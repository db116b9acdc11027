/**
 * Where a Kubernetes release comes from and how kaas gets a verified local copy of it. The only
 * source is the version catalogue: each release's dl.k8s.io URL and published digest. An operator
 * may point the whole catalogue at a mirror (an https base URL or a local directory laid out like
 * dl.k8s.io/release), never a cluster at a path or URL of its own. A download lands in a local cache
 * (named by the catalogue's digest) only once its digest matched, so a file in the cache is always
 * one the catalogue vouches for; it is hashed again whenever it is used.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InputError, UpstreamError } from '../errors.ts';
import { KUBERNETES_RELEASES, type KubernetesRelease } from '../versions/index.ts';

/** Where the catalogue's artifact URLs point; a mirror replaces this prefix. */
export const UPSTREAM_RELEASE_BASE = 'https://dl.k8s.io/release';

/** Default cache of verified releases: outside any checkout, private to the user running kaas. */
export const DEFAULT_RELEASE_CACHE_DIR = join(tmpdir(), 'kaas-releases');

/** How the provisioner reaches releases (ProvisionerDeps `releaseMirror`, `releaseCacheDir`). */
export interface ReleaseAccess {
  /** https base URL or absolute directory laid out like dl.k8s.io/release; absent = dl.k8s.io. */
  mirror?: string;
  cacheDir: string;
  /** The releases and digests kaas trusts: the version catalogue (tests stage stand-in tarballs). */
  catalogue: readonly KubernetesRelease[];
}

/** A verified local copy of a release. */
export interface LocalRelease {
  path: string;
  /** Object name in Swift and what nodes check the download against. */
  sha256: string;
  /** Swift's ETag of the object: it names and checks the staged copy's content. */
  md5: string;
  bytes: number;
  /** Where it was fetched from (credentials stripped), for the step output. */
  source: string;
}

/**
 * Checks KAAS_RELEASE_MIRROR: an https URL (no query, no fragment) or an absolute directory.
 * Plain http is refused: the digest would still catch tampering, but a mirror is configured once
 * for every cluster and should not invite it.
 */
export function parseReleaseMirror(value: string, field = 'KAAS_RELEASE_MIRROR'): string {
  const text = value.trim();
  if (isAbsolute(text)) return text.replace(/\/+$/, '') || '/';
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:' || url.search !== '' || url.hash !== '') {
    throw new InputError(
      `${field} must be an https base URL or an absolute directory laid out like ${UPSTREAM_RELEASE_BASE} (v<version>/kubernetes-server-linux-amd64.tar.gz), got "${value}"`,
      { code: 'invalid_config', field },
    );
  }
  return text.replace(/\/+$/, '');
}

/** The digest kaas checks a release against (SHA-256 preferred). */
export interface TrustedDigest {
  algorithm: 'sha256' | 'sha512';
  hex: string;
}

/**
 * The catalogue's release of `version` and its digest; `release_digest_unknown` when the catalogue
 * publishes none, because kaas never stages an unverified download.
 */
export function trustedRelease(
  catalogue: readonly KubernetesRelease[],
  version: string,
): { release: KubernetesRelease; digest: TrustedDigest } {
  const release = catalogue.find((r) => r.patch === version.replace(/^v/, ''));
  if (!release) {
    throw new InputError(`Kubernetes ${version} is not in the version catalogue`, {
      code: 'unsupported_version',
      field: 'kubernetesVersion',
    });
  }
  const { sha256, sha512 } = release.artifact;
  if (sha256 !== undefined) return { release, digest: { algorithm: 'sha256', hex: sha256 } };
  if (sha512 !== undefined) return { release, digest: { algorithm: 'sha512', hex: sha512 } };
  throw new InputError(
    `the version catalogue has no published digest for Kubernetes ${release.patch}, so kaas will not stage it unverified; add the digest to src/versions/catalogue.json or pick another version`,
    { code: 'release_digest_unknown', field: 'kubernetesVersion' },
  );
}

/** The release's URL or file path under `mirror` (the catalogue's own URL without one). */
export function releaseLocation(release: KubernetesRelease, mirror: string | undefined): string {
  if (mirror === undefined) return release.artifact.url;
  const relative = release.artifact.url.slice(UPSTREAM_RELEASE_BASE.length + 1);
  return isAbsolute(mirror) ? join(mirror, ...relative.split('/')) : `${mirror}/${relative}`;
}

/** A URL as it may appear in outputs: no user name, password, query or fragment. */
function shown(location: string): string {
  if (isAbsolute(location)) return location;
  const url = new URL(location);
  return `${url.origin}${url.pathname}`;
}

async function open(location: string, signal: AbortSignal): Promise<Readable> {
  if (isAbsolute(location)) {
    try {
      await stat(location);
    } catch (error) {
      throw new UpstreamError(`the release mirror has no ${location}`, {
        code: 'release_not_found',
        cause: error,
      });
    }
    return createReadStream(location);
  }
  let res: Awaited<ReturnType<typeof fetch>>;
  try {
    res = await fetch(location, { signal });
  } catch (error) {
    throw new UpstreamError(`downloading ${shown(location)} failed: ${(error as Error).message}`, {
      code: 'release_download_failed',
      cause: error,
    });
  }
  if (!res.ok || !res.body) {
    throw new UpstreamError(`downloading ${shown(location)} failed with HTTP ${res.status}`, {
      code: 'release_download_failed',
    });
  }
  return Readable.fromWeb(res.body as never);
}

/** Counts bytes and hashes them with SHA-256, MD5 (Swift's ETag) and `also` at once. */
function hashing(also: TrustedDigest['algorithm']) {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  const other = createHash(also);
  let bytes = 0;
  return {
    update(chunk: Buffer) {
      sha256.update(chunk);
      md5.update(chunk);
      other.update(chunk);
      bytes += chunk.length;
    },
    result: () => ({
      sha256: sha256.digest('hex'),
      md5: md5.digest('hex'),
      other: other.digest('hex'),
      bytes,
    }),
  };
}

/** Copies `from` to `to` and returns the SHA-256 and `also` digests of what was written. */
async function copyHashing(from: Readable, to: string, also: TrustedDigest['algorithm']) {
  const hash = hashing(also);
  await pipeline(
    from,
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        yield chunk;
      }
    },
    createWriteStream(to, { mode: 0o600 }),
  );
  return hash.result();
}

async function hashFile(path: string, also: TrustedDigest['algorithm']) {
  const hash = hashing(also);
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.result();
}

/**
 * A verified local copy of `version`'s server tarball: from the cache when a copy there still
 * matches the catalogue's digest, else fetched from the catalogue (or its mirror) into the cache.
 * `release_digest_mismatch` when the fetched bytes are not the catalogue's; nothing is kept then.
 */
export async function fetchRelease(
  access: ReleaseAccess,
  version: string,
  signal: AbortSignal,
): Promise<LocalRelease> {
  const { release, digest } = trustedRelease(access.catalogue, version);
  const location = releaseLocation(release, access.mirror);
  const source = shown(location);
  await mkdir(access.cacheDir, { recursive: true, mode: 0o700 });
  const cached = join(access.cacheDir, `${digest.algorithm}-${digest.hex}.tar.gz`);
  const hit = await hashFile(cached, digest.algorithm).catch(() => undefined);
  if (hit?.other === digest.hex) {
    return { path: cached, sha256: hit.sha256, md5: hit.md5, bytes: hit.bytes, source };
  }
  // A private name per download, so two jobs fetching the same release never share a partial file.
  const partial = join(access.cacheDir, `.partial-${randomBytes(8).toString('hex')}`);
  try {
    const got = await copyHashing(await open(location, signal), partial, digest.algorithm);
    if (got.other !== digest.hex) {
      throw new UpstreamError(
        `${source} is not the Kubernetes ${release.patch} server tarball: its ${digest.algorithm} is ${got.other}, the version catalogue publishes ${digest.hex}; nothing was staged`,
        { code: 'release_digest_mismatch' },
      );
    }
    await rename(partial, cached);
    return { path: cached, sha256: got.sha256, md5: got.md5, bytes: got.bytes, source };
  } finally {
    await rm(partial, { force: true });
  }
}

/** The production ReleaseAccess: the real catalogue, an optional mirror, the default cache. */
export function releaseAccess(over: {
  mirror?: string;
  cacheDir?: string;
  catalogue?: readonly KubernetesRelease[];
}): ReleaseAccess {
  return {
    ...(over.mirror === undefined ? {} : { mirror: parseReleaseMirror(over.mirror) }),
    cacheDir: over.cacheDir ?? DEFAULT_RELEASE_CACHE_DIR,
    catalogue: over.catalogue ?? KUBERNETES_RELEASES,
  };
}
