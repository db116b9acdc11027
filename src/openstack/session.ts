import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import { NotFoundError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { AuthOptions, CloudConfig } from './config.ts';
import { errorFromResponse, OpenStackError, redactUrl, requestIdFromHeaders } from './errors.ts';
import { defaultRetryPolicy, retryDecision, type AttemptErrorKind, type RetryPolicy } from './retry.ts';

/** One endpoint of a catalog entry. */
export interface CatalogEndpoint {
  id?: string;
  interface: string;
  region?: string;
  region_id?: string;
  url: string;
}

/** One service of the Keystone catalog. */
export interface CatalogService {
  type: string;
  name?: string;
  id?: string;
  endpoints: CatalogEndpoint[];
}

/** A named Keystone reference (user, project, domain, role). */
export interface NamedRef {
  id: string;
  name: string;
}

/** What a Keystone token says about its holder; the shape kaas works with after auth or validation. */
export interface KeystoneToken {
  /** The token itself (X-Subject-Token). Secret: never log it. */
  value: string;
  expiresAt: Date;
  methods: string[];
  user: NamedRef & { domain: NamedRef };
  project?: NamedRef & { domain: NamedRef };
  domain?: NamedRef;
  roles: NamedRef[];
  catalog: CatalogService[];
  applicationCredentialId?: string;
}

/** Scope requested when authenticating. */
export type AuthScope =
  | { kind: 'unscoped' }
  | { kind: 'project'; id: string }
  | { kind: 'project'; name: string; domainId?: string; domainName?: string }
  | { kind: 'domain'; id?: string; name?: string };

type Json = Record<string, unknown>;

function domainRef(id?: string, name?: string): Json | undefined {
  if (id) return { id };
  if (name) return { name };
  return undefined;
}

function scopeJson(scope: AuthScope): Json | undefined {
  if (scope.kind === 'unscoped') return undefined;
  if (scope.kind === 'domain') return { domain: scope.id ? { id: scope.id } : { name: scope.name } };
  if ('id' in scope) return { project: { id: scope.id } };
  return {
    project: { name: scope.name, domain: domainRef(scope.domainId, scope.domainName) ?? { id: 'default' } },
  };
}

/** Keystone v3 password auth request body. */
export function passwordAuthBody(
  user: { id?: string; name?: string; domainId?: string; domainName?: string; password: string },
  scope: AuthScope,
): Json {
  const u: Json = user.id
    ? { id: user.id, password: user.password }
    : {
        name: user.name,
        domain: domainRef(user.domainId, user.domainName) ?? { id: 'default' },
        password: user.password,
      };
  const s = scopeJson(scope);
  return { auth: { identity: { methods: ['password'], password: { user: u } }, ...(s ? { scope: s } : {}) } };
}

/** Keystone v3 application-credential auth request body (the credential fixes the scope). */
export function applicationCredentialAuthBody(cred: {
  id?: string;
  name?: string;
  secret: string;
  userId?: string;
  userName?: string;
  userDomainId?: string;
  userDomainName?: string;
}): Json {
  const ac: Json = cred.id
    ? { id: cred.id, secret: cred.secret }
    : {
        name: cred.name,
        secret: cred.secret,
        user: cred.userId
          ? { id: cred.userId }
          : {
              name: cred.userName,
              domain: domainRef(cred.userDomainId, cred.userDomainName) ?? { id: 'default' },
            },
      };
  return { auth: { identity: { methods: ['application_credential'], application_credential: ac } } };
}

/** The auth body for a cloud config's own credentials. */
export function configAuthBody(auth: AuthOptions, authType: CloudConfig['authType']): Json {
  const userDomainId = auth.userDomainId ?? auth.domainId;
  const userDomainName = auth.userDomainName ?? auth.domainName;
  if (authType === 'application_credential') {
    return applicationCredentialAuthBody({
      id: auth.applicationCredentialId,
      name: auth.applicationCredentialName,
      secret: auth.applicationCredentialSecret ?? '',
      userId: auth.userId,
      userName: auth.username,
      userDomainId,
      userDomainName,
    });
  }
  let scope: AuthScope = { kind: 'unscoped' };
  if (auth.projectId) scope = { kind: 'project', id: auth.projectId };
  else if (auth.projectName)
    scope = {
      kind: 'project',
      name: auth.projectName,
      domainId: auth.projectDomainId ?? auth.domainId,
      domainName: auth.projectDomainName ?? auth.domainName,
    };
  else if (auth.domainId || auth.domainName)
    scope = { kind: 'domain', id: auth.domainId, name: auth.domainName };
  return passwordAuthBody(
    {
      id: auth.userId,
      name: auth.username,
      domainId: userDomainId,
      domainName: userDomainName,
      password: auth.password ?? '',
    },
    scope,
  );
}

function ref(v: unknown): NamedRef {
  const o = (v ?? {}) as Json;
  return { id: String(o.id ?? ''), name: String(o.name ?? '') };
}

/** Reads Keystone's `{token:{...}}` document plus the token value into a {@link KeystoneToken}. */
export function parseTokenBody(value: string, body: unknown): KeystoneToken {
  const t = ((body ?? {}) as Json).token as Json | undefined;
  if (!t || typeof t.expires_at !== 'string') throw new Error('Keystone answered without a token document');
  const user = (t.user ?? {}) as Json;
  const out: KeystoneToken = {
    value,
    expiresAt: new Date(t.expires_at),
    methods: Array.isArray(t.methods) ? (t.methods as string[]) : [],
    user: { ...ref(user), domain: ref(user.domain) },
    roles: Array.isArray(t.roles) ? (t.roles as unknown[]).map(ref) : [],
    catalog: Array.isArray(t.catalog) ? (t.catalog as CatalogService[]) : [],
  };
  if (t.project) out.project = { ...ref(t.project), domain: ref((t.project as Json).domain) };
  if (t.domain) out.domain = ref(t.domain);
  const ac = t.application_credential as Json | undefined;
  if (ac && typeof ac.id === 'string') out.applicationCredentialId = ac.id;
  return out;
}

/** Query parameters; arrays repeat the key, undefined is dropped. */
export type Query = Record<string, string | number | boolean | string[] | undefined>;

/** Options of {@link Session.request}. */
export interface RequestOptions {
  query?: Query;
  /** JSON request body (sets Content-Type). */
  json?: unknown;
  /** Raw request body. A stream is sent chunked unless Content-Length is given, and is never replayed. */
  body?: string | Buffer | Readable;
  headers?: Record<string, string>;
  /** Safe to repeat even though the method is POST. */
  idempotent?: boolean;
  /** Statuses accepted besides 2xx (e.g. 404 for an existence check). */
  okStatuses?: number[];
  /** Return the body as a stream without reading it. */
  raw?: boolean;
  /** How to read a non-raw body: JSON (default; lenient unless Content-Type says JSON), text or bytes. */
  responseType?: 'json' | 'text' | 'buffer';
  /** Send the session token (default true). */
  auth?: boolean;
  /** This call presents credentials, so a 401 means wrong credentials. */
  credentialAuth?: boolean;
  timeoutMs?: number;
}

/** A successful (or `okStatuses`) response. */
export interface OpenStackResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  requestId: string | undefined;
  url: string;
}

/** Options of {@link Session.paginate}. */
export interface PaginateOptions {
  query?: Query;
  /** Key of the item array in the body; omit when the body is the array (Swift). */
  itemsKey?: string;
  /** Marker pagination (Swift): the field of the last item used as `marker`. */
  markerField?: string;
  headers?: Record<string, string>;
}

/** Dependencies of {@link createSession}. */
export interface SessionDeps {
  config: CloudConfig;
  logger: Logger;
  /** Clock in ms since the epoch. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  dispatcher?: Dispatcher;
  /** Per-attempt timeout (default 30 s). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Re-authenticate this long before the token expires (default 2 min). */
  reauthMarginMs?: number;
}

/** An authenticated connection to one cloud: tokens, catalog, requests with retries. */
export interface Session {
  readonly config: CloudConfig;
  /** The session's own token, re-authenticating when it is close to expiry. */
  token(): Promise<KeystoneToken>;
  /** Drops the cached token so the next call authenticates again. */
  invalidate(): void;
  /** Base URL of a service (catalog or override), version suffix removed for identity/image/network/load-balancer. */
  endpoint(service: string): Promise<string>;
  request<T = unknown>(
    service: string,
    method: string,
    path: string,
    options?: RequestOptions,
  ): Promise<OpenStackResponse<T>>;
  paginate<T = unknown>(service: string, path: string, options?: PaginateOptions): AsyncGenerator<T>;
  /** POSTs an auth body to Keystone without the session token; for checking someone's credentials. */
  authenticate(body: unknown): Promise<KeystoneToken>;
}

const SERVICE_ALIASES: Record<string, string[]> = {
  volumev3: ['volumev3', 'block-storage', 'volume'],
  'block-storage': ['block-storage', 'volumev3', 'volume'],
  volume: ['volume', 'block-storage', 'volumev3'],
};

const VERSION_SUFFIX: Record<string, RegExp> = {
  identity: /\/v(3|2\.0)\/?$/,
  image: /\/v2(\.\d+)?\/?$/,
  network: /\/v2\.0\/?$/,
  'load-balancer': /\/v2(\.0)?\/?$/,
};

function buildUrl(base: string, path: string, query?: Query): string {
  const url = new URL(/^https?:\/\//.test(path) ? path : base.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) url.searchParams.append(k, item);
    else url.searchParams.append(k, String(v));
  }
  return url.toString();
}

class TimeoutSignal extends Error {}

function connectionCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string' && c !== 'UND_ERR_ABORTED') return c;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Creates a session for one cloud. Nothing is sent until the first call. */
export function createSession(deps: SessionDeps): Session {
  const { config, logger } = deps;
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => delay(ms).then(() => undefined));
  const timeoutMs = deps.timeoutMs ?? 30_000;
  const policy: RetryPolicy = { ...defaultRetryPolicy, ...deps.retry };
  const margin = deps.reauthMarginMs ?? 120_000;
  let dispatcher = deps.dispatcher;
  if (!dispatcher && (config.cacert || config.insecure)) {
    dispatcher = new Agent({
      connect: {
        ...(config.cacert ? { ca: readFileSync(config.cacert, 'utf8') } : {}),
        rejectUnauthorized: !config.insecure,
      },
    });
  }
  const identityBase = config.auth.authUrl.replace(VERSION_SUFFIX.identity as RegExp, '');

  let cached: KeystoneToken | undefined;
  let pending: Promise<KeystoneToken> | undefined;

  async function token(): Promise<KeystoneToken> {
    if (cached && cached.expiresAt.getTime() - now() > margin) return cached;
    if (!pending) {
      pending = authenticate(configAuthBody(config.auth, config.authType))
        .then((t) => {
          cached = t;
          return t;
        })
        .finally(() => {
          pending = undefined;
        });
    }
    return pending;
  }

  async function authenticate(body: unknown): Promise<KeystoneToken> {
    const res = await send<unknown>('identity', 'POST', '/v3/auth/tokens', {
      json: body,
      auth: false,
      credentialAuth: true,
    });
    const value = res.headers['x-subject-token'];
    const tokenValue = Array.isArray(value) ? value[0] : value;
    if (!tokenValue) {
      throw badAuthResponse('without an X-Subject-Token header', res);
    }
    try {
      return parseTokenBody(tokenValue, res.body);
    } catch (cause) {
      throw badAuthResponse('with an unexpected document', res, cause);
    }
  }

  function catalogEndpoint(catalog: CatalogService[], service: string): string | undefined {
    for (const type of SERVICE_ALIASES[service] ?? [service]) {
      const entry = catalog.find((c) => c.type === type);
      const ep = entry?.endpoints.find(
        (e) =>
          e.interface === config.interface &&
          (!config.regionName || e.region === config.regionName || e.region_id === config.regionName),
      );
      if (ep) return ep.url;
    }
    return undefined;
  }

  async function endpoint(service: string, current?: KeystoneToken): Promise<string> {
    const override = (SERVICE_ALIASES[service] ?? [service])
      .map((s) => config.endpointOverrides[s])
      .find((u) => u !== undefined);
    let url = override;
    if (!url && service === 'identity') url = identityBase;
    if (!url) {
      const t = current ?? (await token());
      url = catalogEndpoint(t.catalog, service);
    }
    if (!url) {
      const key = service.replace(/-/g, '_');
      throw new NotFoundError(
        `The service catalog of cloud "${config.cloudName}" has no ${config.interface} endpoint for "${service}"` +
          `${config.regionName ? ` in region ${config.regionName}` : ''}; check the region/interface or set ` +
          `${key}_endpoint_override`,
        { code: 'openstack_endpoint_not_found' },
      );
    }
    const suffix = VERSION_SUFFIX[service];
    return (suffix ? url.replace(suffix, '') : url).replace(/\/+$/, '');
  }

  async function send<T>(
    service: string,
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<OpenStackResponse<T>> {
    const useAuth = opts.auth !== false;
    const replayable = !(opts.body instanceof Readable);
    let reauthed = false;
    for (let attempt = 1; ; attempt++) {
      const current = useAuth ? await token() : undefined;
      const base = service === 'identity' && !useAuth ? identityBase : await endpoint(service, current);
      const url = buildUrl(base, path, opts.query);
      const safeUrl = redactUrl(url);
      const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
      let body: string | Buffer | Readable | undefined = opts.body;
      if (opts.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(opts.json);
      }
      if (current) headers['x-auth-token'] = current.value;

      const controller = new AbortController();
      const limit = opts.timeoutMs ?? timeoutMs;
      const timer = setTimeout(() => controller.abort(new TimeoutSignal('timeout')), limit);
      const started = now();
      let status: number;
      let resHeaders: Record<string, string | string[] | undefined>;
      let resBody: Dispatcher.ResponseData['body'];
      let text: string | undefined;
      let buffer: Buffer | undefined;
      try {
        const res = await undiciRequest(url, {
          method: method as Dispatcher.HttpMethod,
          headers,
          body: body ?? null,
          signal: controller.signal,
          ...(dispatcher ? { dispatcher } : {}),
        });
        status = res.statusCode;
        resHeaders = res.headers;
        resBody = res.body;
        const ok = (status >= 200 && status < 300) || (opts.okStatuses ?? []).includes(status);
        if (!(ok && opts.raw)) {
          if (opts.responseType === 'buffer' && ok) buffer = Buffer.from(await res.body.arrayBuffer());
          else text = await res.body.text();
        }
      } catch (e) {
        clearTimeout(timer);
        const timedOut = controller.signal.aborted && controller.signal.reason instanceof TimeoutSignal;
        const kind: AttemptErrorKind = timedOut ? 'timeout' : 'connection';
        const decision = replayable
          ? retryDecision(
              { attempt, method, idempotent: opts.idempotent, errorKind: kind, now: now() },
              policy,
            )
          : { retry: false, delayMs: 0 };
        if (decision.retry) {
          logger.warn(
            { service, method, url: safeUrl, attempt, kind, delayMs: decision.delayMs },
            'openstack retry',
          );
          await sleep(decision.delayMs);
          continue;
        }
        if (timedOut) {
          throw new OpenStackError(
            `${service} ${method} ${new URL(safeUrl).pathname} timed out after ${limit} ms` +
              (attempt > 1 ? ` (${attempt} attempts)` : '') +
              `; the service at ${new URL(url).origin} is slow or hung`,
            { code: 'openstack_timeout', service, method, url: safeUrl, cause: e },
          );
        }
        const code = connectionCode(e) ?? (e as Error).message;
        throw new OpenStackError(
          `Cannot reach ${service} at ${new URL(url).origin} (${code})` +
            (attempt > 1 ? ` after ${attempt} attempts` : '') +
            `: check that the service is running and that ${
              service === 'identity' ? 'OS_AUTH_URL / auth_url' : 'the catalog endpoint'
            } is right`,
          { code: 'openstack_unreachable', service, method, url: safeUrl, cause: e },
        );
      }
      if (!opts.raw) clearTimeout(timer);
      const requestId = requestIdFromHeaders(resHeaders);
      logger.debug(
        { service, method, url: safeUrl, status, requestId, ms: now() - started, attempt },
        'openstack request',
      );
      const ok = (status >= 200 && status < 300) || (opts.okStatuses ?? []).includes(status);
      if (ok) {
        if (opts.raw) {
          resBody.once('close', () => clearTimeout(timer));
          return { status, headers: resHeaders, body: resBody as T, requestId, url: safeUrl };
        }
        return {
          status,
          headers: resHeaders,
          body: decodeBody<T>(buffer, text, opts, {
            status,
            requestId,
            service,
            method,
            url: safeUrl,
            contentType: String(resHeaders['content-type'] ?? ''),
          }),
          requestId,
          url: safeUrl,
        };
      }
      if (status === 401 && useAuth && !reauthed && replayable) {
        reauthed = true;
        cached = undefined;
        attempt--;
        logger.info(
          { service, method, url: safeUrl, requestId },
          'openstack token rejected; re-authenticating',
        );
        continue;
      }
      const retryAfter = resHeaders['retry-after'];
      const decision = replayable
        ? retryDecision(
            {
              attempt,
              method,
              idempotent: opts.idempotent,
              status,
              errorKind: 'http',
              retryAfterHeader: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
              now: now(),
            },
            policy,
          )
        : { retry: false, delayMs: 0 };
      if (decision.retry) {
        logger.warn(
          { service, method, url: safeUrl, status, requestId, attempt, delayMs: decision.delayMs },
          'openstack retry',
        );
        await sleep(decision.delayMs);
        continue;
      }
      const err = errorFromResponse({
        service,
        method,
        url,
        status,
        headers: resHeaders,
        body: text,
        credentialAuth: opts.credentialAuth === true,
      });
      if (attempt > 1) {
        throw new OpenStackError(`${err.message} (gave up after ${attempt} attempts)`, {
          code: err.code,
          status: err.status,
          requestId: err.requestId,
          service,
          method,
          url: err.url,
        });
      }
      throw err;
    }
  }

  async function* paginate<T>(
    service: string,
    path: string,
    options: PaginateOptions = {},
  ): AsyncGenerator<T> {
    let next: string | undefined = path;
    let query: Query | undefined = options.query;
    const seen = new Set<string>();
    while (next !== undefined) {
      const res: OpenStackResponse<unknown> = await send(service, 'GET', next, {
        ...(query ? { query } : {}),
        ...(options.headers ? { headers: options.headers } : {}),
      });
      const doc = res.body as Json | unknown[] | undefined;
      const items = (options.itemsKey ? (doc as Json | undefined)?.[options.itemsKey] : doc) ?? [];
      if (!Array.isArray(items)) break;
      for (const item of items) yield item as T;
      if (options.markerField) {
        const last = items[items.length - 1] as Json | undefined;
        const marker = last?.[options.markerField];
        if (items.length === 0 || typeof marker !== 'string' || seen.has(marker)) break;
        seen.add(marker);
        query = { ...options.query, marker };
        next = path;
        continue;
      }
      next = nextLink(doc, options.itemsKey);
      if (next === undefined || seen.has(next)) break;
      seen.add(next);
      query = undefined;
    }
  }

  return {
    config,
    token,
    invalidate: () => {
      cached = undefined;
    },
    endpoint: (service: string) => endpoint(service),
    request: send,
    paginate,
    authenticate,
  };
}

function nextLink(doc: unknown, itemsKey: string | undefined): string | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const d = doc as Json;
  const links = d.links as Json | undefined;
  if (links && typeof links.next === 'string' && links.next) return links.next;
  if (itemsKey) {
    const arr = d[`${itemsKey}_links`];
    if (Array.isArray(arr)) {
      const n = (arr as Json[]).find((l) => l.rel === 'next');
      if (n && typeof n.href === 'string') return n.href;
    }
  }
  if (typeof d.next === 'string' && d.next) return d.next;
  return undefined;
}

function decodeBody<T>(
  buffer: Buffer | undefined,
  text: string | undefined,
  opts: RequestOptions,
  ctx: {
    status: number;
    requestId?: string;
    service: string;
    method: string;
    url: string;
    contentType: string;
  },
): T {
  if (opts.responseType === 'buffer') return (buffer ?? Buffer.from(text ?? '')) as T;
  if (opts.responseType === 'text') return (text ?? '') as T;
  if (text === undefined || text.trim() === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    if (!/json/i.test(ctx.contentType)) return text as T;
    throw new OpenStackError(
      `${ctx.service} ${ctx.method} ${new URL(ctx.url).pathname} answered HTTP ${ctx.status} with malformed JSON` +
        `${ctx.requestId ? ` [request ${ctx.requestId}]` : ''}`,
      {
        code: 'openstack_bad_response',
        status: ctx.status,
        requestId: ctx.requestId,
        service: ctx.service,
        method: ctx.method,
        url: ctx.url,
        cause,
      },
    );
  }
}

/** Keystone answered an authentication in a shape kaas cannot use. */
function badAuthResponse(how: string, res: OpenStackResponse<unknown>, cause?: unknown): OpenStackError {
  return new OpenStackError(`Keystone answered the authentication ${how}`, {
    code: 'openstack_bad_response',
    status: res.status,
    requestId: res.requestId,
    service: 'identity',
    method: 'POST',
    url: res.url,
    ...(cause === undefined ? {} : { cause }),
  });
}
