import { request, type Dispatcher } from 'undici';
import type { ClientConfig } from './clientConfig.ts';
import type { TokenInfo } from './service.ts';
import {
  AuthError,
  ConflictError,
  ForbiddenError,
  InputError,
  NotFoundError,
  UpstreamError,
} from '../errors.ts';

// Re-exported for existing callers; the saved login lives in clientConfig.ts so that reading it
// (`kaas credential`) does not load this HTTP client.
export {
  configDir,
  execCredential,
  readClientConfig,
  writeClientConfig,
  type ClientConfig,
} from './clientConfig.ts';

function errorFor(status: number, body: unknown): Error {
  const e = (body as { error?: { message?: string; code?: string; field?: string } } | undefined)?.error;
  const message = e?.message ?? `kaas answered HTTP ${status}`;
  const options = e?.code ? { code: e.code } : {};
  if (status === 400) return new InputError(message, { ...options, ...(e?.field ? { field: e.field } : {}) });
  if (status === 401) return new AuthError(message, options);
  if (status === 403) return new ForbiddenError(message, options);
  if (status === 404) return new NotFoundError(message, options);
  if (status === 409) return new ConflictError(message, options);
  return new UpstreamError(message, options);
}

/** One kaas API call: JSON in and out, HTTP errors as the domain errors the server raised. */
export type KaasCall = <T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  init?: { json?: unknown; headers?: Record<string, string> },
) => Promise<{ body: T; headers: Record<string, string | string[] | undefined> }>;

/**
 * The transport of every CLI call to kaas at `baseUrl`; `dispatcher` carries the TLS trust (see
 * `KAAS_CA_FILE`). An unreachable server or an answer that is not kaas' JSON is an UpstreamError.
 */
export function kaasCall(baseUrl: string, options: { dispatcher?: Dispatcher } = {}): KaasCall {
  const base = baseUrl.replace(/\/+$/, '');
  return async (method, path, init = {}) => {
    let res;
    try {
      res = await request(`${base}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}),
          ...init.headers,
        },
        ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      });
    } catch (cause) {
      throw new UpstreamError(`cannot reach kaas at ${base}: ${(cause as Error).message}`, {
        code: 'kaas_unreachable',
        cause,
      });
    }
    const text = await res.body.text();
    let body;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch (cause) {
      throw new UpstreamError(
        `${base} answered HTTP ${res.statusCode} with something that is not kaas' JSON`,
        {
          code: 'kaas_unreachable',
          cause,
        },
      );
    }
    if (res.statusCode >= 400) throw errorFor(res.statusCode, body);
    return { body, headers: res.headers };
  };
}

/** A Keystone password login. */
export interface Credentials {
  username: string;
  password: string;
  domain: string;
}

/** A token as the server returns it when created: the only time the secret is seen. */
export interface CreatedToken {
  id: string;
  name: string;
  token: string;
  createdAt: string;
  expiresAt: string;
  clusters?: string[];
}

/** A thin client of the kaas HTTP API for the CLI. */
export function kaasClient(baseUrl: string, options: { dispatcher?: Dispatcher } = {}) {
  const base = baseUrl.replace(/\/+$/, '');
  const call = kaasCall(base, options);

  async function createWithPassword(
    credentials: Credentials,
    input: { name: string; expiresInDays?: number; clusters?: string[] },
  ): Promise<{ user: ClientConfig['user']; created: CreatedToken }> {
    const login = await call<{ user: ClientConfig['user']; csrfToken: string }>('POST', '/api/v1/login', {
      json: { username: credentials.username, password: credentials.password, domain: credentials.domain },
    });
    const setCookie = login.headers['set-cookie'];
    const cookie = (Array.isArray(setCookie) ? setCookie : [setCookie ?? ''])
      .map((c) => c.split(';')[0] ?? '')
      .find((c) => c.startsWith('kaas_session='));
    if (!cookie) throw new UpstreamError('kaas did not return a session cookie');
    const headers = { cookie, 'x-csrf-token': login.body.csrfToken };
    try {
      const created = await call<CreatedToken>('POST', '/api/v1/tokens', { json: input, headers });
      return { user: login.body.user, created: created.body };
    } finally {
      await call('POST', '/api/v1/logout', { headers });
    }
  }

  return {
    /** Logs in, creates an API token named `tokenName`, and logs the session out again. */
    async loginForToken(input: Credentials & { tokenName: string }): Promise<ClientConfig> {
      const { user, created } = await createWithPassword(input, { name: input.tokenName });
      return { url: base, token: created.token, tokenId: created.id, expiresAt: created.expiresAt, user };
    },
    /**
     * Creates a token with a password session (the server refuses tokens minted by tokens), optionally
     * restricted to `clusters` (ids or names); the session is logged out again.
     */
    async createToken(
      credentials: Credentials,
      input: { name: string; expiresInDays?: number; clusters?: string[] },
    ): Promise<CreatedToken> {
      return (await createWithPassword(credentials, input)).created;
    },
    async listTokens(token: string) {
      return (
        await call<{ items: TokenInfo[] }>('GET', '/api/v1/tokens', {
          headers: { authorization: `Bearer ${token}` },
        })
      ).body.items;
    },
    async deleteToken(token: string, id: string): Promise<void> {
      await call('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`, {
        headers: { authorization: `Bearer ${token}` },
      });
    },
  };
}
