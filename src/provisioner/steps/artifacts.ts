/**
 * Release executors: the release fetched from the version catalogue (or its mirror) and checked
 * against the catalogue's digest before anything else of the job runs; the artifacts container
 * with its TempURL key; and the release staged content-addressed (object name = SHA-256 of the
 * tarball, so it is uploaded once and never overwritten with different bytes), streamed from the
 * verified local copy. Nodes download it through a TempURL signed when their user data is rendered
 * and valid for that node's first boot only (as long as its enrollment credential), so the URL a
 * node's metadata still shows later is useless.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { PlanResource } from '../../cluster/plan.ts';
import { UpstreamError } from '../../errors.ts';
import { isOpenStackError, tempUrl as signTempUrl } from '../../openstack/index.ts';
import { DEFAULT_ENROLLMENT_TTL_MS } from '../enrollment.ts';
import { fetchRelease } from '../release.ts';
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

/** What the release step records: which release was verified, never where it sat. */
export interface VerifiedRelease {
  version: string;
  sha256: string;
  bytes: number;
  source: string;
}

/**
 * Fetches the cluster's release from the catalogue (or its mirror) into the local cache and checks
 * its digest. Every step that makes a cloud resource comes after this one, so a bad or unreachable
 * release fails the job before anything exists in the cloud.
 */
export async function verifyRelease(deps: ExecDeps, r: Res<'release'>): Promise<VerifiedRelease> {
  const local = await fetchRelease(deps.release, r.params.version, deps.ctx.signal);
  await deps.ctx.event(`release ${r.params.version} verified (sha256 ${local.sha256.slice(0, 12)})`);
  return { version: r.params.version, sha256: local.sha256, bytes: local.bytes, source: local.source };
}

/** What the staging step records: the object, its digest and until when nodes may fetch it. */
export interface StagedRelease {
  container: string;
  object: string;
  sha256: string;
  bytes: number;
  expiresAt: string;
}

/**
 * Uploads the verified release once (by hash). The output holds no TempURL: whoever renders user
 * data signs one from it ({@link releaseTempUrl}), so no job record can be used to fetch the object.
 */
export async function ensureReleaseTarball(
  deps: ExecDeps,
  r: Res<'release-tarball'>,
): Promise<StagedRelease> {
  const { container } = r.params;
  // From this replica's cache; fetched again (and checked again) when the job moved replicas.
  const local = await fetchRelease(deps.release, r.params.version, deps.ctx.signal);
  const { sha256, md5, bytes: size } = local;
  const object = `sha256/${sha256}`;
  let present = false;
  try {
    // The name promises the content: a same-named object with other bytes (written by anyone who
    // can write the container) is replaced, not signed for the nodes.
    const head = await deps.cloud.swift.headObject(container, object);
    present = head.contentLength === size && head.etag?.replace(/"/g, '') === md5;
  } catch (error) {
    if (!isOpenStackError(error, 'openstack_not_found')) throw error;
  }
  if (present) {
    await deps.ctx.event(`release ${sha256.slice(0, 12)} already staged`);
  } else {
    await withRetries(deps, `upload ${object}`, () =>
      deps.cloud.swift.putObject(container, object, createReadStream(local.path), {
        contentLength: size,
        // Swift refuses (422) an upload whose bytes arrive other than they were read.
        etag: md5,
        contentType: 'application/gzip',
        headers: { 'x-object-meta-kubernetes-version': r.params.version },
      }),
    );
    await deps.ctx.event(`staged release ${sha256.slice(0, 12)} (${size} bytes)`);
  }
  const expires = new Date(deps.now().getTime() + deps.options.tempUrlTtlSeconds * 1000);
  return { container, object, sha256, bytes: size, expiresAt: expires.toISOString() };
}

/**
 * The GET TempURL a node downloads the staged release through: valid for as long as the node's
 * enrollment credential (its first boot), never past the staging step's expiry.
 */
export async function releaseTempUrl(deps: ExecDeps, staged: StagedRelease): Promise<string> {
  const headers = await deps.cloud.swift.headContainer(staged.container);
  const key = headerValue(headers, KEY_HEADER);
  if (!key) {
    throw new UpstreamError(`container ${staged.container} has no TempURL key`, {
      code: 'tempurl_key_missing',
    });
  }
  const objectUrl = await deps.cloud.swift.objectUrl(staged.container, staged.object);
  const expires = Math.min(Date.parse(staged.expiresAt), deps.now().getTime() + DEFAULT_ENROLLMENT_TTL_MS);
  return signAt(objectUrl, new Date(expires), key);
}
