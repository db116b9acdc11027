import { createHash, randomBytes } from 'node:crypto';
import type { Ctx, Env, Reply, Route, Service } from './http.ts';
import { discoveryRoute, HttpError } from './http.ts';
import type { SwiftAccount, SwiftContainer, SwiftObject } from './state.ts';
import { verifyTempUrl } from './tempurl.ts';

const PAGES: Record<number, [string, string]> = {
  401: [
    'Unauthorized',
    'This server could not verify that you are authorized to access the document you requested.',
  ],
  403: ['Forbidden', 'Access was denied to this resource.'],
  404: ['Not Found', 'The resource could not be found.'],
  405: ['Method Not Allowed', 'The method is not allowed for this resource.'],
  409: ['Conflict', 'There was a conflict when trying to complete your request.'],
  411: ['Length Required', 'Length Required'],
  412: ['Precondition Failed', 'A precondition for this request was not met.'],
  422: ['Unprocessable Entity', 'Unable to process the contained instructions'],
};

function swiftError(err: HttpError, ctx: { env: Env }): Reply {
  if (err.message === 'Temp URL invalid') {
    return {
      status: 401,
      headers: { 'content-type': 'text/plain' },
      text: '401 Unauthorized: Temp URL invalid\n',
    };
  }
  const [title, text] = PAGES[err.status] ?? ['Error', err.message];
  const headers: Record<string, string> = html();
  if (err.status === 401) headers['www-authenticate'] = `Keystone uri="${ctx.env.url}/v3"`;
  return { status: err.status, headers, text: `<html><h1>${title}</h1><p>${text}</p></html>` };
}

/** The headers of Swift's HTML replies: a new object each time, as the caller may add to it. */
const html = (): Record<string, string> => ({ 'content-type': 'text/html; charset=UTF-8' });

const OPERATOR_ROLES = ['admin', 'member', 'swiftoperator'];

/** Token access to the account: its own project with an operator role, as keystoneauth allows. */
function tokenAllowed(ctx: Ctx): boolean {
  const caller = ctx.caller;
  if (!caller) return false;
  const account = ctx.params.account as string;
  if (
    caller.project &&
    account === `AUTH_${caller.project.id}` &&
    caller.roleNames.some((r) => OPERATOR_ROLES.includes(r))
  )
    return true;
  throw new HttpError(403, 'Forbidden');
}

function requireToken(ctx: Ctx): void {
  if (!tokenAllowed(ctx)) throw new HttpError(401, 'Unauthorized');
}

function account(ctx: Ctx): SwiftAccount {
  const name = ctx.params.account as string;
  const { swift } = ctx.env.state;
  let acc = swift.get(name);
  if (!acc) {
    acc = { name, createdAt: ctx.env.now(), meta: {}, containers: new Map() };
    swift.set(name, acc);
  }
  return acc;
}

function container(ctx: Ctx): SwiftContainer {
  const c = account(ctx).containers.get(ctx.params.container as string);
  if (!c) throw new HttpError(404, 'Not Found');
  return c;
}

function ts(ms: number): string {
  return (ms / 1000).toFixed(5);
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** Applies `X-<kind>-Meta-*` and `X-Remove-<kind>-Meta-*` headers. */
function applyMeta(ctx: Ctx, kind: 'account' | 'container' | 'object', meta: Record<string, string>): void {
  for (const [name, value] of Object.entries(ctx.headers)) {
    if (typeof value !== 'string') continue;
    const set = `x-${kind}-meta-`;
    const remove = `x-remove-${kind}-meta-`;
    if (name.startsWith(set)) {
      if (value === '') delete meta[name.slice(set.length)];
      else meta[name.slice(set.length)] = value;
    } else if (name.startsWith(remove)) {
      delete meta[name.slice(remove.length)];
    }
  }
}

function metaHeaders(kind: string, meta: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(meta).map(([k, v]) => [`x-${kind}-meta-${k}`, v]));
}

function totals(c: SwiftContainer): { count: number; bytes: number } {
  let bytes = 0;
  for (const o of c.objects.values()) bytes += o.data.length;
  return { count: c.objects.size, bytes };
}

function accountHeaders(acc: SwiftAccount): Record<string, string | number> {
  let objects = 0;
  let bytes = 0;
  for (const c of acc.containers.values()) {
    const t = totals(c);
    objects += t.count;
    bytes += t.bytes;
  }
  return {
    'x-account-container-count': acc.containers.size,
    'x-account-object-count': objects,
    'x-account-bytes-used': bytes,
    'x-timestamp': ts(acc.createdAt),
    'x-put-timestamp': ts(acc.createdAt),
    ...metaHeaders('account', acc.meta),
  };
}

function containerHeaders(c: SwiftContainer): Record<string, string | number> {
  const t = totals(c);
  return {
    'x-container-object-count': t.count,
    'x-container-bytes-used': t.bytes,
    'x-timestamp': ts(c.createdAt),
    'x-storage-policy': 'Policy-0',
    'accept-ranges': 'bytes',
    ...metaHeaders('container', c.meta),
  };
}

/** A listing's `last_modified`: ISO 8601 to the microsecond, without a zone. */
function listedTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000').slice(0, 26);
}

/**
 * The listing of an account's containers or a container's objects: marker/end_marker/prefix/
 * delimiter/limit over the sorted names, as JSON (`entry` of each) or text, with `headers` added.
 */
function listing<T>(
  ctx: Ctx,
  byName: Map<string, T>,
  entry: (name: string, item: T) => unknown,
  headers: Record<string, string | number>,
): Reply {
  const q = ctx.query;
  const marker = q.get('marker') ?? '';
  const endMarker = q.get('end_marker');
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter');
  const limit = Math.min(Number(q.get('limit') ?? 10000) || 10000, 10000);
  const items: unknown[] = [];
  const seenDirs = new Set<string>();
  const textNames: string[] = [];
  for (const name of [...byName.keys()].sort()) {
    if (items.length >= limit) break;
    if (name <= marker || (endMarker !== null && name >= endMarker) || !name.startsWith(prefix)) continue;
    if (delimiter) {
      const idx = name.indexOf(delimiter, prefix.length);
      if (idx >= 0) {
        const dir = name.slice(0, idx + delimiter.length);
        if (!seenDirs.has(dir)) {
          seenDirs.add(dir);
          items.push({ subdir: dir });
          textNames.push(dir);
        }
        continue;
      }
    }
    items.push(entry(name, byName.get(name) as T));
    textNames.push(name);
  }
  const json = q.get('format') === 'json' || (ctx.headers.accept ?? '').includes('application/json');
  if (json)
    return {
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
      json: items,
    };
  if (textNames.length === 0)
    return { status: 204, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers } };
  return {
    status: 200,
    headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
    text: textNames.map((n) => `${n}\n`).join(''),
  };
}

function objectHeaders(o: SwiftObject): Record<string, string | number> {
  return {
    'content-type': o.contentType,
    etag: o.etag,
    'last-modified': httpDate(o.lastModified),
    'x-timestamp': ts(o.lastModified),
    'accept-ranges': 'bytes',
    'content-length': o.data.length,
    ...metaHeaders('object', o.meta),
  };
}

/** Object access: a valid token, or else a valid TempURL (anonymous). */
function objectAccess(ctx: Ctx): 'token' | 'tempurl' {
  if (ctx.caller && tokenAllowed(ctx)) return 'token';
  if (ctx.query.has('temp_url_sig')) {
    const acc = ctx.env.state.swift.get(ctx.params.account as string);
    const c = acc?.containers.get(ctx.params.container as string);
    const keys = (m: Record<string, string> | undefined) =>
      [m?.['temp-url-key'], m?.['temp-url-key-2']].filter((k): k is string => Boolean(k));
    const ok = verifyTempUrl({
      method: ctx.method,
      path: `/v1/${ctx.params.account}/${ctx.params.container}/${ctx.params.object}`,
      query: ctx.query,
      accountKeys: keys(acc?.meta),
      containerKeys: keys(c?.meta),
      now: ctx.env.now(),
      clientIp: ctx.req.socket.remoteAddress,
    });
    if (ok) return 'tempurl';
    throw new HttpError(401, 'Temp URL invalid');
  }
  throw new HttpError(401, 'Unauthorized');
}

function getObject(ctx: Ctx): Reply {
  const access = objectAccess(ctx);
  const o = container(ctx).objects.get(ctx.params.object as string);
  if (!o) throw new HttpError(404, 'Not Found');
  const headers = objectHeaders(o);
  if (access === 'tempurl' && !ctx.query.has('inline')) {
    const filename = ctx.query.get('filename') ?? (ctx.params.object as string).split('/').pop() ?? '';
    headers['content-disposition'] =
      `attachment; filename="${filename.replace(/"/g, '\\"')}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
  }
  return { status: 200, headers, text: ctx.method === 'HEAD' ? undefined : o.data };
}

async function putObject(ctx: Ctx): Promise<Reply> {
  objectAccess(ctx);
  const c = container(ctx);
  const md5 = createHash('md5');
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.req) {
    md5.update(chunk as Buffer);
    chunks.push(chunk as Buffer);
  }
  const etag = md5.digest('hex');
  const wanted = ctx.headers.etag;
  if (typeof wanted === 'string' && wanted.replace(/"/g, '').toLowerCase() !== etag)
    throw new HttpError(422, 'Unprocessable Entity');
  const now = ctx.env.now();
  const meta: Record<string, string> = {};
  applyMeta(ctx, 'object', meta);
  const type = ctx.headers['content-type'];
  c.objects.set(ctx.params.object as string, {
    data: Buffer.concat(chunks),
    etag,
    contentType: typeof type === 'string' && type ? type : 'application/octet-stream',
    lastModified: now,
    meta,
  });
  return {
    status: 201,
    headers: { etag, 'last-modified': httpDate(now), 'content-type': 'text/html; charset=UTF-8' },
  };
}

/**
 * Swift's capabilities document at the proxy root (`/object-store/info`, no token): the limits and
 * middleware cloudsim enforces, under the names Swift 2.30 (Zed) uses.
 */
function info() {
  return {
    swift: {
      version: '2.30.0',
      account_listing_limit: 10000,
      container_listing_limit: 10000,
      max_container_name_length: 256,
      policies: [{ name: 'Policy-0', aliases: 'Policy-0', default: true }],
      allow_account_management: true,
      account_autocreate: true,
    },
    tempurl: {
      methods: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'],
      allowed_digests: ['sha1', 'sha256', 'sha512'],
    },
  };
}

/**
 * A route that needs a token for the account (401/403 otherwise); `auth: 'optional'` lets the request
 * reach Swift, which answers in its own error format rather than the gateway's.
 */
function tokenRoute(method: string, path: string, handler: (ctx: Ctx) => Reply): Route {
  return {
    method,
    path,
    auth: 'optional',
    handler: (ctx) => {
      requireToken(ctx);
      return handler(ctx);
    },
  };
}

const routes: Route[] = [
  discoveryRoute('/object-store/info', info, { absolute: true }),
  tokenRoute('GET', '', (ctx) => {
    const acc = account(ctx);
    return listing(
      ctx,
      acc.containers,
      (name, c) => ({ name, ...totals(c), last_modified: listedTime(c.createdAt) }),
      accountHeaders(acc),
    );
  }),
  tokenRoute('HEAD', '', (ctx) => ({
    status: 204,
    headers: { ...accountHeaders(account(ctx)), 'content-type': 'text/plain; charset=utf-8' },
  })),
  tokenRoute('POST', '', (ctx) => {
    applyMeta(ctx, 'account', account(ctx).meta);
    return { status: 204, headers: html() };
  }),
  tokenRoute('PUT', '/{container}', (ctx) => {
    const acc = account(ctx);
    const name = ctx.params.container as string;
    if (name.length > 256) throw new HttpError(400, 'Container name length of 257 longer than 256');
    let c = acc.containers.get(name);
    const created = !c;
    if (!c) {
      c = { name, createdAt: ctx.env.now(), meta: {}, objects: new Map() };
      acc.containers.set(name, c);
    }
    applyMeta(ctx, 'container', c.meta);
    return { status: created ? 201 : 202, headers: html() };
  }),
  tokenRoute('POST', '/{container}', (ctx) => {
    applyMeta(ctx, 'container', container(ctx).meta);
    return { status: 204, headers: html() };
  }),
  tokenRoute('HEAD', '/{container}', (ctx) => ({
    status: 204,
    headers: { ...containerHeaders(container(ctx)), 'content-type': 'text/plain; charset=utf-8' },
  })),
  tokenRoute('GET', '/{container}', (ctx) => {
    const c = container(ctx);
    return listing(
      ctx,
      c.objects,
      (name, o) => ({
        bytes: o.data.length,
        hash: o.etag,
        name,
        content_type: o.contentType,
        last_modified: listedTime(o.lastModified),
      }),
      containerHeaders(c),
    );
  }),
  tokenRoute('DELETE', '/{container}', (ctx) => {
    const c = container(ctx);
    if (c.objects.size > 0) throw new HttpError(409, 'Conflict');
    account(ctx).containers.delete(c.name);
    return { status: 204, headers: html() };
  }),
  { method: 'PUT', path: '/{container}/{object+}', auth: 'optional', raw: true, handler: putObject },
  { method: 'GET', path: '/{container}/{object+}', auth: 'optional', handler: getObject },
  { method: 'HEAD', path: '/{container}/{object+}', auth: 'optional', handler: getObject },
  tokenRoute('POST', '/{container}/{object+}', (ctx) => {
    const o = container(ctx).objects.get(ctx.params.object as string);
    if (!o) throw new HttpError(404, 'Not Found');
    o.meta = {};
    applyMeta(ctx, 'object', o.meta);
    return {
      status: 202,
      headers: html(),
      text: '<html><h1>Accepted</h1><p>The request is accepted for processing.</p></html>',
    };
  }),
  {
    method: 'DELETE',
    path: '/{container}/{object+}',
    auth: 'optional',
    handler: (ctx) => {
      objectAccess(ctx);
      const c = container(ctx);
      if (!c.objects.delete(ctx.params.object as string)) throw new HttpError(404, 'Not Found');
      return { status: 204, headers: html() };
    },
  },
];

/** Swift under `/object-store/v1/AUTH_<project>`: accounts, containers, objects, metadata and TempURL. */
export const swift: Service = {
  name: 'object-store',
  prefix: '/object-store/v1/{account}',
  routes,
  errorReply: swiftError,
  requestId: (now) =>
    `tx${randomBytes(11).toString('hex').slice(0, 21)}-${Math.floor(now / 1000)
      .toString(16)
      .padStart(10, '0')}`,
  decorate: (reply, { requestId }) => {
    reply.headers = { 'x-trans-id': requestId, ...reply.headers };
  },
};
