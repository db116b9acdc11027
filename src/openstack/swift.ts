import { createHash, createHmac } from 'node:crypto';
import type { Readable } from 'node:stream';
import { InputError } from '../errors.ts';
import type { Session } from './session.ts';

/** HMAC digests Swift's tempurl middleware accepts. */
export type TempUrlDigest = 'sha1' | 'sha256' | 'sha512';

/** Input of {@link tempUrl}. */
export interface TempUrlInput {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** Full object URL (`https://swift/v1/AUTH_x/c/o`) or just its path (`/v1/AUTH_x/c/o`). */
  url: string;
  /** Expiry as a Date or Unix seconds. */
  expires: Date | number;
  key: string;
  /** Default sha256 (sha1 is what old clusters accept; sha512 uses the `sha512:` base64 form). */
  digest?: TempUrlDigest;
}

/**
 * Signs a Swift TempURL: HMAC over `METHOD\nEXPIRES\nPATH` with the account or container key.
 * The signed path starts at `/v1/`, which is what Swift checks even behind a path-prefixed proxy.
 * sha1/sha256 signatures are hex; sha512 uses Swift's `sha512:<base64url>` form. Pure, so the
 * provisioner can mint node-join URLs without a round trip.
 */
export function tempUrl(input: TempUrlInput): string {
  const expires =
    typeof input.expires === 'number'
      ? Math.floor(input.expires)
      : Math.floor(input.expires.getTime() / 1000);
  if (!Number.isFinite(expires) || expires <= 0)
    throw new InputError('TempURL expiry must be a positive time');
  if (!input.key) throw new InputError('TempURL key must not be empty');
  const isAbsolute = /^https?:\/\//.test(input.url);
  const fullPath = isAbsolute ? new URL(input.url).pathname : input.url.replace(/\?.*$/, '');
  // Behind a path-prefixed proxy (https://cloud/object-store/v1/...) Swift sees and checks only /v1/...
  const at = fullPath.indexOf('/v1/');
  if (at < 0) {
    throw new InputError(`TempURL path must look like /v1/<account>/<container>/<object>, got ${fullPath}`);
  }
  const rawPath = fullPath.slice(at);
  const path = decodeURIComponent(rawPath);
  const digest = input.digest ?? 'sha256';
  const mac = createHmac(digest, input.key).update(`${input.method}\n${expires}\n${path}`);
  const sig = digest === 'sha512' ? `sha512:${mac.digest('base64url')}` : mac.digest('hex');
  const query = `temp_url_sig=${encodeURIComponent(sig)}&temp_url_expires=${expires}`;
  return `${input.url.replace(/\?.*$/, '')}?${query}`;
}

/** One entry of a container listing. */
export interface SwiftObjectInfo {
  name: string;
  bytes: number;
  hash: string;
  content_type: string;
  last_modified: string;
}

/** One entry of an account listing. */
export interface SwiftContainerInfo {
  name: string;
  count: number;
  bytes: number;
}

/** What HEAD on an object says. */
export interface SwiftObjectHead {
  contentLength: number;
  etag: string | undefined;
  contentType: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Swift calls kaas makes: staging release artifacts and node bootstrap files behind TempURLs. */
export function createSwift(session: Session) {
  const enc = (s: string) => encodeURIComponent(s);
  const objPath = (container: string, name: string) =>
    `/${enc(container)}/${name.split('/').map(enc).join('/')}`;

  async function* listing<T>(path: string, prefix?: string): AsyncGenerator<T> {
    yield* session.paginate<T>('object-store', path, {
      markerField: 'name',
      query: { format: 'json', ...(prefix ? { prefix } : {}) },
    });
  }

  return {
    /** The account URL (storage URL) from the catalog. */
    accountUrl: () => session.endpoint('object-store'),
    /** Full URL of an object, for {@link tempUrl}. */
    async objectUrl(container: string, name: string): Promise<string> {
      return `${await session.endpoint('object-store')}${objPath(container, name)}`;
    },
    async createContainer(name: string, headers: Record<string, string> = {}): Promise<void> {
      await session.request('object-store', 'PUT', `/${enc(name)}`, { headers, responseType: 'text' });
    },
    async deleteContainer(name: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
      await session.request('object-store', 'DELETE', `/${enc(name)}`, {
        responseType: 'text',
        ...(options.ignoreMissing ? { okStatuses: [404] } : {}),
      });
    },
    async headContainer(name: string): Promise<Record<string, string | string[] | undefined>> {
      return (await session.request('object-store', 'HEAD', `/${enc(name)}`, { responseType: 'text' }))
        .headers;
    },
    async listContainers(options: { prefix?: string } = {}): Promise<SwiftContainerInfo[]> {
      const out: SwiftContainerInfo[] = [];
      for await (const c of listing<SwiftContainerInfo>('', options.prefix)) out.push(c);
      return out;
    },
    /** Lists every object (following markers past Swift's page limit). */
    async listObjects(container: string, options: { prefix?: string } = {}): Promise<SwiftObjectInfo[]> {
      const out: SwiftObjectInfo[] = [];
      for await (const o of listing<SwiftObjectInfo>(`/${enc(container)}`, options.prefix)) out.push(o);
      return out;
    },
    /**
     * Uploads an object. Buffers/strings are sent with Content-Length and, with `verifyMd5`, an ETag
     * Swift checks; a stream is sent chunked (or with `contentLength`), optionally with a known `etag`.
     * Streams are not retried (they cannot be replayed).
     */
    async putObject(
      container: string,
      name: string,
      body: string | Buffer | Readable,
      options: {
        contentType?: string;
        contentLength?: number;
        verifyMd5?: boolean;
        etag?: string;
        headers?: Record<string, string>;
      } = {},
    ): Promise<{ etag: string | undefined }> {
      const headers: Record<string, string> = {
        'content-type': options.contentType ?? 'application/octet-stream',
        ...options.headers,
      };
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
        headers['content-length'] = String(buf.length);
        if (options.verifyMd5) headers.etag = createHash('md5').update(buf).digest('hex');
        body = buf;
      } else if (options.contentLength !== undefined) {
        headers['content-length'] = String(options.contentLength);
      }
      if (options.etag) headers.etag = options.etag;
      const res = await session.request('object-store', 'PUT', objPath(container, name), {
        body,
        headers,
        responseType: 'text',
      });
      return { etag: header(res.headers, 'etag') };
    },
    async getObject(container: string, name: string): Promise<Buffer> {
      return (
        await session.request<Buffer>('object-store', 'GET', objPath(container, name), {
          responseType: 'buffer',
        })
      ).body;
    },
    /** Streams an object (for large artifacts); the caller must consume or destroy the stream. */
    async getObjectStream(container: string, name: string): Promise<Readable> {
      return (await session.request<Readable>('object-store', 'GET', objPath(container, name), { raw: true }))
        .body;
    },
    async headObject(container: string, name: string): Promise<SwiftObjectHead> {
      const res = await session.request('object-store', 'HEAD', objPath(container, name), {
        responseType: 'text',
      });
      return {
        contentLength: Number(header(res.headers, 'content-length') ?? 0),
        etag: header(res.headers, 'etag'),
        contentType: header(res.headers, 'content-type'),
        headers: res.headers,
      };
    },
    async deleteObject(
      container: string,
      name: string,
      options: { ignoreMissing?: boolean } = {},
    ): Promise<void> {
      await session.request('object-store', 'DELETE', objPath(container, name), {
        responseType: 'text',
        ...(options.ignoreMissing ? { okStatuses: [404] } : {}),
      });
    },
    /** Sets the account TempURL key (`secondary` for key rotation without breaking issued URLs). */
    async setAccountTempUrlKey(key: string, options: { secondary?: boolean } = {}): Promise<void> {
      const name = options.secondary ? 'x-account-meta-temp-url-key-2' : 'x-account-meta-temp-url-key';
      await session.request('object-store', 'POST', '', {
        headers: { [name]: key },
        responseType: 'text',
        idempotent: true,
      });
    },
    /** Sets a container's TempURL key, so a leaked URL only exposes that container. */
    async setContainerTempUrlKey(container: string, key: string, options: { secondary?: boolean } = {}) {
      const name = options.secondary ? 'x-container-meta-temp-url-key-2' : 'x-container-meta-temp-url-key';
      await session.request('object-store', 'POST', `/${enc(container)}`, {
        headers: { [name]: key },
        responseType: 'text',
        idempotent: true,
      });
    },
    /** Signs a TempURL for an object of this account. */
    async signedObjectUrl(
      container: string,
      name: string,
      options: {
        method?: TempUrlInput['method'];
        expires: Date | number;
        key: string;
        digest?: TempUrlDigest;
      },
    ): Promise<string> {
      const url = `${await session.endpoint('object-store')}${objPath(container, name)}`;
      return tempUrl({
        method: options.method ?? 'GET',
        url,
        expires: options.expires,
        key: options.key,
        digest: options.digest,
      });
    },
  };
}

/** The Swift client returned by {@link createSwift}. */
export type Swift = ReturnType<typeof createSwift>;
