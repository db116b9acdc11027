/**
 * Swift executors: the artifacts container with its TempURL key, and the Kubernetes server release
 * staged content-addressed (object name = SHA-256 of the tarball, so it is uploaded once and never
 * overwritten with different bytes), streamed from disk. Nodes download it through a TempURL whose
 * lifetime covers later joins; resize re-runs this step and so re-signs it.
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

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** A local copy of the release: the path itself, or a download of the URL into a temp dir. */
async function localRelease(
  source: string,
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
  const dir = await mkdtemp(join(tmpdir(), 'kaas-release-'));
  const path = join(dir, 'kubernetes-server-linux-amd64.tar.gz');
  const res = await fetch(source, { signal });
  if (!res.ok || !res.body) {
    await rm(dir, { recursive: true, force: true });
    throw new UpstreamError(`downloading ${source} failed with HTTP ${res.status}`, {
      code: 'release_download_failed',
    });
  }
  await pipeline(Readable.fromWeb(res.body as never), createWriteStream(path));
  return { path, cleanup: () => rm(dir, { recursive: true, force: true }) };
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
  const local = await localRelease(deps.options.releaseSource, deps.ctx.signal);
  try {
    const sha256 = await sha256OfFile(local.path);
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
