import { UpstreamError } from '../errors.ts';

/** Stable codes of {@link OpenStackError}; callers branch on these, never on messages. */
export type OpenStackErrorCode =
  | 'openstack_unauthorized'
  | 'openstack_forbidden'
  | 'openstack_not_found'
  | 'openstack_conflict'
  | 'openstack_rate_limited'
  | 'openstack_quota_exceeded'
  | 'openstack_unavailable'
  | 'openstack_bad_request'
  | 'openstack_error'
  | 'openstack_bad_response'
  | 'openstack_timeout'
  | 'openstack_unreachable';

/** Where a failed OpenStack call went, so an operator can find it in the service's logs. */
export interface OpenStackErrorDetails {
  code: OpenStackErrorCode;
  /** HTTP status; undefined when no response arrived (timeout, connection refused). */
  status?: number | undefined;
  requestId?: string | undefined;
  /** Catalog service type, e.g. `identity`, `compute`. */
  service: string;
  method: string;
  /** URL with secrets (TempURL signatures, tokens) removed from the query. */
  url: string;
  cause?: unknown;
}

/**
 * A failed call to an OpenStack service. Carries the request id and where the call went because
 * that is what an operator needs to find the failure in the service's own logs.
 */
export class OpenStackError extends UpstreamError {
  declare readonly code: OpenStackErrorCode;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly service: string;
  readonly method: string;
  readonly url: string;
  constructor(message: string, details: OpenStackErrorDetails) {
    super(message, { code: details.code, cause: details.cause });
    this.status = details.status;
    this.requestId = details.requestId;
    this.service = details.service;
    this.method = details.method;
    this.url = details.url;
  }
}

/** True when `e` is an {@link OpenStackError} (with the given code, if one is given). */
export function isOpenStackError(e: unknown, code?: OpenStackErrorCode): e is OpenStackError {
  return e instanceof OpenStackError && (code === undefined || e.code === code);
}

type HeaderBag = Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** The request id OpenStack services put on responses (Keystone/Neutron/Glance, Nova, Swift). */
export function requestIdFromHeaders(headers: HeaderBag): string | undefined {
  return (
    header(headers, 'x-openstack-request-id') ??
    header(headers, 'x-compute-request-id') ??
    header(headers, 'x-trans-id')
  );
}

const SECRET_QUERY = /^(temp_url_sig|signature|sig|token|password|secret|.*_secret|x-auth-token)$/i;

/** The URL with the values of secret-looking query parameters replaced, safe for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    let changed = false;
    for (const key of [...u.searchParams.keys()]) {
      if (SECRET_QUERY.test(key)) {
        u.searchParams.set(key, 'redacted');
        changed = true;
      }
    }
    return changed ? u.toString() : url;
  } catch {
    return url.replace(/\?.*$/, '');
  }
}

const MAX_MESSAGE = 400;

function clip(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > MAX_MESSAGE ? `${t.slice(0, MAX_MESSAGE)}…` : t;
}

/**
 * Pulls the human message out of an OpenStack error body. The services disagree on the shape:
 * Keystone `{error:{message}}`, Nova `{badRequest:{message}}` (any one-key wrapper), Neutron
 * `{NeutronError:{message}}`, Octavia `{faultstring}` / `{description}`, Glance and Swift HTML or
 * plain text.
 */
export function extractErrorMessage(body: string | undefined): string | undefined {
  if (!body) return undefined;
  const text = body.trim();
  if (text === '') return undefined;
  if (text.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return clip(text);
    }
    const found = findMessage(doc, 0);
    if (found) return clip(found);
    return clip(text);
  }
  if (text.startsWith('<')) {
    const stripped = text
      .replace(/<head>[\s\S]*?<\/head>/i, '')
      .replace(/<[^>]+>/g, ' ')
      .trim();
    return stripped ? clip(stripped) : undefined;
  }
  return clip(text);
}

function findMessage(doc: unknown, depth: number): string | undefined {
  if (typeof doc !== 'object' || doc === null || depth > 2) return undefined;
  const d = doc as Record<string, unknown>;
  for (const key of ['message', 'faultstring', 'description', 'detail', 'title']) {
    const v = d[key];
    if (typeof v === 'string' && v.trim() !== '') {
      // Keystone: { error: { code, title: "Unauthorized", message } } — message wins over title.
      return v;
    }
  }
  if (typeof d.error === 'string') return d.error;
  for (const v of Object.values(d)) {
    const inner = findMessage(v, depth + 1);
    if (inner) return inner;
  }
  return undefined;
}

/**
 * True when the body is an over-quota answer: Nova's and Neutron's, Octavia's 403 "Quota has been
 * met" and Cinder's 413 "…LimitExceeded: … exceeded for quota" (bodies as the lab's services send them).
 */
function isQuotaBody(status: number, body: string | undefined, message: string | undefined): boolean {
  const all = `${body ?? ''} ${message ?? ''}`;
  if (status === 409 && /OverQuota/i.test(all)) return true;
  if (
    (status === 403 || status === 413) &&
    /quota exceeded|exceeds.*quota|exceeded for quota|quota has been met|over.?quota/i.test(all)
  )
    return true;
  return false;
}

/** Maps an HTTP status (plus the body, for quota answers) to a stable code. */
export function codeForStatus(status: number, body?: string, message?: string): OpenStackErrorCode {
  if (isQuotaBody(status, body, message)) return 'openstack_quota_exceeded';
  if (status === 401) return 'openstack_unauthorized';
  if (status === 403) return 'openstack_forbidden';
  if (status === 404) return 'openstack_not_found';
  if (status === 409) return 'openstack_conflict';
  if (status === 429) return 'openstack_rate_limited';
  if (status === 502 || status === 503 || status === 504) return 'openstack_unavailable';
  if (status >= 400 && status < 500) return 'openstack_bad_request';
  return 'openstack_error';
}

const HINTS: Partial<Record<OpenStackErrorCode, string>> = {
  openstack_unauthorized: 'check the credentials (or the token has expired or been revoked)',
  openstack_forbidden: 'the user lacks a role that allows this; ask the cloud admin',
  openstack_rate_limited: 'the cloud is rate limiting kaas; retry later',
  openstack_quota_exceeded: 'the project is over its quota; free resources or ask for a larger quota',
  openstack_unavailable: 'the service is temporarily unavailable; retry later',
};

/** Builds the error for a non-success HTTP response. */
export function errorFromResponse(input: {
  service: string;
  method: string;
  url: string;
  status: number;
  headers: HeaderBag;
  body?: string;
  /** The call was a password/application-credential authentication, so 401 means bad credentials. */
  credentialAuth?: boolean;
}): OpenStackError {
  const upstream = extractErrorMessage(input.body);
  // Keystone answers 404 for an unknown application credential: for the caller that is a bad credential.
  const code =
    input.credentialAuth && input.status === 404
      ? 'openstack_unauthorized'
      : codeForStatus(input.status, input.body, upstream);
  const requestId = requestIdFromHeaders(input.headers);
  const url = redactUrl(input.url);
  const path = pathOf(url);
  let message: string;
  if (code === 'openstack_unauthorized' && input.credentialAuth) {
    message = `Keystone rejected the credentials: wrong username or password (or the user or credential is disabled or expired)`;
  } else {
    message = `${input.service} ${input.method} ${path} failed with HTTP ${input.status}`;
    if (upstream) message += `: ${upstream}`;
    const hint = HINTS[code];
    if (hint) message += ` (${hint})`;
  }
  if (requestId) message += ` [request ${requestId}]`;
  return new OpenStackError(message, {
    code,
    status: input.status,
    requestId,
    service: input.service,
    method: input.method,
    url,
  });
}

function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname;
  } catch {
    return url;
  }
}
