import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { KaasError } from '../errors.ts';
import type { CatalogService } from './catalog.ts';
import type { Fault } from './faults.ts';
import type { CloudState, Project, Quotas, Token, User } from './state.ts';

/**
 * An OpenStack API error with the HTTP status the real service would answer. `type` is the
 * service-specific error name where the service has one (Neutron's `NetworkInUse`, Nova's `itemNotFound`).
 */
export class HttpError extends KaasError {
  readonly status: number;
  readonly type: string | undefined;
  constructor(status: number, message: string, type?: string) {
    super(type ?? `http_${status}`, message);
    this.status = status;
    this.type = type;
  }
}

/** Runtime-mutable behaviour of the simulated cloud. */
export interface Knobs {
  latencyMs: number;
  bootTimeMs: number;
  /** Delay before Octavia objects leave PENDING_* and Cinder volumes leave `creating`. */
  provisionDelayMs: number;
  tokenTtlMs: number;
  /**
   * What destroying a deleted server's machine takes. Nova answers a delete at once and lists the
   * server (task_state `deleting`) until its driver has destroyed the instance: while this runs, so
   * does cloudsim; when it rejects, the server is left in ERROR. Unset, a server goes at once.
   */
  serverDeletion?: (server: { id: string; name: string }) => Promise<void>;
  faults: Fault[];
  quotas: { defaults: Quotas; projects: Record<string, Partial<Quotas>> };
}

/** The caller behind a valid X-Auth-Token. */
export interface Caller {
  token: Token;
  user: User;
  project: Project | null;
  roleIds: string[];
  roleNames: string[];
}

export interface Env {
  state: CloudState;
  knobs: Knobs;
  now: () => number;
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  url: string;
  catalog: CatalogService[];
}

export interface Ctx {
  env: Env;
  req: IncomingMessage;
  method: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body for non-raw routes (undefined when empty). */
  body: unknown;
  rawBody: Buffer;
  caller: Caller | null;
  /** Raw (still percent-encoded) request path. */
  rawPath: string;
  requestId: string;
}

export interface Reply {
  status: number;
  json?: unknown;
  text?: string | Buffer;
  headers?: Record<string, string | number>;
}

export interface Route {
  method: string;
  /** Template below the service prefix, e.g. `/v2.0/networks/{id}`; a last `{name+}` takes the rest of the path. */
  path: string;
  /** `none`: no token needed; `optional`: token resolved if present (Swift TempURL). Default: required. */
  auth?: 'none' | 'optional';
  /** Leave the request body unread (streamed uploads). */
  raw?: boolean;
  /**
   * `path` is the whole path, not below the prefix: a service's unversioned root and its discovery
   * documents (`/compute/`, `/volume/v3/`). It must start with the prefix's first segment.
   */
  absolute?: boolean;
  handler: (ctx: Ctx) => Reply | Promise<Reply>;
}

export interface Service {
  name: string;
  /** Path prefix; may hold `{params}` (Cinder's project id, Swift's account). */
  prefix: string;
  routes: Route[];
  errorReply: (err: HttpError, ctx: { env: Env }) => Reply;
  /** Adds service-specific headers to every reply (Nova microversion, Swift trans id). */
  decorate?: (reply: Reply, ctx: { req: IncomingMessage; requestId: string }) => void;
  requestId?: (now: number) => string;
}

/** DELETE of one resource: `remove` finds it (or throws the 404) and forgets it; the reply is `status` without a body. */
export function deleteRoute(path: string, status: 202 | 204, remove: (ctx: Ctx) => void): Route {
  return {
    method: 'DELETE',
    path,
    handler: (ctx) => {
      remove(ctx);
      return { status };
    },
  };
}

/** The items after the one whose id is `marker` (all of them without one); 400 for an unknown marker, as Nova and Glance answer. */
export function afterMarker<T extends { id: string }>(items: T[], marker: string | null): T[] {
  if (!marker) return items;
  const idx = items.findIndex((i) => i.id === marker);
  if (idx < 0) throw new HttpError(400, `marker [${marker}] not found`);
  return items.slice(idx + 1);
}

/** The key of a JSON error reply by status, as Nova and Cinder (one oslo fault wrapper) name it. */
export const FAULT_KEYS: Readonly<Record<number, string>> = {
  400: 'badRequest',
  403: 'forbidden',
  404: 'itemNotFound',
  409: 'conflictingRequest',
  413: 'overLimit',
};

/** GET of one resource: 200 with `{ [key]: view(ctx) }`; `view` throws the 404 of an unknown id. */
export function showRoute(path: string, key: string, view: (ctx: Ctx) => unknown): Route {
  return { method: 'GET', path, handler: (ctx) => ({ status: 200, json: { [key]: view(ctx) } }) };
}

/**
 * A version-discovery document: answered without a token, as every service answers them. `path`
 * is below the service prefix unless `absolute` (a service's unversioned root).
 */
export function discoveryRoute(
  path: string,
  document: (env: Env) => unknown,
  options: { status?: number; absolute?: boolean } = {},
): Route {
  return {
    method: 'GET',
    path,
    absolute: options.absolute,
    auth: 'none',
    handler: (ctx) => ({ status: options.status ?? 200, json: document(ctx.env) }),
  };
}

/** The 401 every token-checking service (Nova, Neutron, Glance, Cinder, Octavia) answers with. */
export function unauthorizedReply(message: string): Reply {
  return {
    status: 401,
    headers: { 'www-authenticate': 'Keystone uri="/v3"' },
    json: { error: { code: 401, title: 'Unauthorized', message } },
  };
}

/** Reads a JSON body object or throws the 400 the real services answer. */
export function bodyOf(ctx: Ctx, key: string): Record<string, unknown> {
  const body = ctx.body as Record<string, unknown> | undefined;
  const inner = body?.[key];
  if (!inner || typeof inner !== 'object' || Array.isArray(inner)) {
    throw new HttpError(400, `Invalid input: '${key}' is a required property`);
  }
  return inner as Record<string, unknown>;
}

export function requireCaller(ctx: Ctx): Caller {
  if (!ctx.caller) throw new HttpError(401, 'The request you have made requires authentication.');
  return ctx.caller;
}

/** The project a request acts in: the token's project scope. */
export function projectOf(ctx: Ctx): string {
  const caller = requireCaller(ctx);
  if (!caller.project) throw new HttpError(403, 'A project-scoped token is required.');
  return caller.project.id;
}

export function isAdmin(ctx: Ctx): boolean {
  return ctx.caller?.roleNames.includes('admin') ?? false;
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Effective quota for a project. */
export function quotaOf(env: Env, projectId: string, key: keyof Quotas): number {
  return env.knobs.quotas.projects[projectId]?.[key] ?? env.knobs.quotas.defaults[key];
}
