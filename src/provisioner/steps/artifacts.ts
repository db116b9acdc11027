/**
 * Swift executors: the artifacts container with its TempURL key, and the Kubernetes server release
 * staged content-addressed (object name = SHA-256 of the tarball, so it is uploaded once and never
 * overwritten with different bytes), streamed from disk. Nodes download it through a TempURL whose
 * lifetime covers later joins; resize re-runs this step and so re-signs it. A download is checked
 * against the digest the version catalogue publishes for that release before anything is uploaded.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PlanResource } from '../../cluster/plan.ts';
import { InputError, UpstreamError } from '../../errors.ts';
import { isOpenStackError, tempUrl as signTempUrl } from '../../openstack/index.ts';
import { releaseForPatch } from '../../versions/index.ts';
import { withRetries, type ExecDeps } from './context.ts';

type Res<T extends PlanResource['type']> = Extract<PlanResource, { type: T }>;

const KEY_HEADER = 'x-container-meta-temp-url-key';

function headerValue(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The container, with a TempURL key of its own (generated once, then reused). */
export async function ensureContainer(deps: ExecDeps, r: Res<'container'>): Promise<{ container: string }> {
  await withRetries(deps, `container ${r.name}`, async () => {
    let headers: Record<string, string | string[] | undefined>;
    try {
      headers = await deps.cloud.swift.headContainer(r.name);
    } catch (error) {
      if (!isOpenStackError(error, 'openstack_not_found')) throw error;
      await deps.cloud.swift.createContainer(r.name, { 'x-container-meta-kaas-cluster': deps.clusterId });
      headers = {};
    }
    if (!headerValue(headers, KEY_HEADER)) {
      await deps.cloud.swift.setContainerTempUrlKey(r.name, randomBytes(32).toString('hex'));
    }
  });
  return { container: r.name };
}

async function digestOfFile(path: string, algorithm: 'sha256' | 'sha512'): Promise<string> {
  const hash = createHash(algorithm);
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** The digest the catalogue publishes for `version`'s server tarball (SHA-256 preferred). */
function publishedDigest(version: string): { algorithm: 'sha256' | 'sha512'; hex: string } | undefined {
  const artifact = releaseForPatch(version)?.artifact;
  if (artifact?.sha256 !== undefined) return { algorithm: 'sha256', hex: artifact.sha256 };
  if (artifact?.sha512 !== undefined) return { algorithm: 'sha512', hex: artifact.sha512 };
  return undefined;
}

/**
 * A local copy of the release: the path itself, or a download of the URL into a temp dir, checked
 * against the catalogue's digest for `version` when it has one. The catalogue's own URL is refused
 * when it has none: kaas never stages an unverified upstream download.
 */
async function localRelease(
  source: string,
  version: string,
  signal: AbortSignal,
): Promise<{ path: string; cleanup: () => Promise<void> }> {
  if (!/^https?:\/\//.test(source)) {
    try {
      await stat(source);
    } catch (error) {
      throw new InputError(`release tarball ${source} cannot be read`, {
        code: 'release_not_found',
        field: 'releaseSource',
        cause: error,
      });
    }
    return { path: source, cleanup: async () => undefined };
  }
  const digest = publishedDigest(version);
  if (digest === undefined && source === releaseForPatch(version)?.artifact.url) {
    throw new InputError(
      `the version catalogue has no published digest for Kubernetes ${version}, so kaas will not stage ${source} unverified; pass a verified local copy of the tarball instead`,
      { code: 'release_digest_unknown', field: 'releaseSource' },
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'kaas-release-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const path = join(dir, 'kubernetes-server-linux-amd64.tar.gz');
  try {
    const res = await fetch(source, { signal });
    if (!res.ok || !res.body) {
      throw new UpstreamError(`downloading ${source} failed with HTTP ${res.status}`, {
        code: 'release_download_failed',
      });
    }
    await pipeline(Readable.fromWeb(res.body as never), createWriteStream(path));
    if (digest !== undefined) {
      const actual = await digestOfFile(path, digest.algorithm);
      if (actual !== digest.hex) {
        throw new UpstreamError(
          `${source} is not the Kubernetes ${version} server tarball: its ${digest.algorithm} is ${actual}, the version catalogue publishes ${digest.hex}; nothing was staged`,
          { code: 'release_digest_mismatch' },
        );
      }
    }
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { path, cleanup };
}

/**
 * Signs a GET TempURL over the `/v1/…` part of the object URL, the path Swift's middleware sees,
 * so a storage URL behind a path prefix (a proxy, cloudsim's `/object-store`) still verifies.
 */
function signAt(objectUrl: string, expires: Date, key: string): string {
  const url = new URL(objectUrl);
  const at = url.pathname.indexOf('/v1/');
  if (at < 0)
    throw new UpstreamError(`object URL ${objectUrl} has no /v1/ path`, { code: 'tempurl_bad_url' });
  const signed = signTempUrl({ method: 'GET', url: url.pathname.slice(at), expires, key });
  return `${url.origin}${url.pathname.slice(0, at)}${signed}`;
}

/** Uploads the release once (by hash) and signs a long-lived GET TempURL for the nodes. */
export async function ensureReleaseTarball(
  deps: ExecDeps,
  r: Res<'release-tarball'>,
): Promise<{
  container: string;
  object: string;
  sha256: string;
  bytes: number;
  tempUrl: string;
  expiresAt: string;
}> {
  const { container } = r.params;
  const local = await localRelease(deps.options.releaseSource, r.params.version, deps.ctx.signal);
  try {
    const sha256 = await digestOfFile(local.path, 'sha256');
    const object = `sha256/${sha256}`;
    const { size } = await stat(local.path);
    let present = false;
    try {
      present = (await deps.cloud.swift.headObject(container, object)).contentLength === size;
    } catch (error) {
      if (!isOpenStackError(error, 'openstack_not_found')) throw error;
    }
    if (present) {
      await deps.ctx.event(`release ${sha256.slice(0, 12)} already staged`);
    } else {
      await withRetries(deps, `upload ${object}`, () =>
        deps.cloud.swift.putObject(container, object, createReadStream(local.path), {
          contentLength: size,
          contentType: 'application/gzip',
          headers: { 'x-object-meta-kubernetes-version': r.params.version },
        }),
      );
      await deps.ctx.event(`staged release ${sha256.slice(0, 12)} (${size} bytes)`);
    }
    const headers = await deps.cloud.swift.headContainer(container);
    const key = headerValue(headers, KEY_HEADER);
    if (!key)
      throw new UpstreamError(`container ${container} has no TempURL key`, { code: 'tempurl_key_missing' });
    const expires = new Date(deps.now().getTime() + deps.options.tempUrlTtlSeconds * 1000);
    const tempUrl = signAt(await deps.cloud.swift.objectUrl(container, object), expires, key);
    return { container, object, sha256, bytes: size, tempUrl, expiresAt: expires.toISOString() };
  } finally {
    await local.cleanup();
  }
}
