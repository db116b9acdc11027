import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import { takeFault } from './faults.ts';
import { HttpError, type Caller, type Ctx, type Env, type Reply, type Route, type Service } from './http.ts';
import { resolveToken } from './keystone.ts';
import { uuid } from './state.ts';
import type { CloudsimStats } from './stats.ts';

interface Compiled {
  service: Service;
  route: Route;
  template: string;
  segments: string[];
}

/** Builds the request listener that routes every service of the simulated cloud. */
export function createCloudServer(deps: {
  env: Env;
  services: Service[];
  stats: CloudsimStats;
  logger?: Logger;
  /** Called after every request that may have changed the state (any method but GET and HEAD). */
  onChange?: () => void;
}): Server {
  const compiled: Compiled[] = deps.services.flatMap((service) =>
    service.routes.map((route) => {
      const template = route.absolute ? route.path : service.prefix + route.path;
      return { service, route, template, segments: template.split('/').filter(Boolean) };
    }),
  );
  const byName = new Map(deps.services.map((s) => [s.prefix.split('/').filter(Boolean)[0] ?? '', s]));
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      deps.logger?.error({ err }, 'cloudsim request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 500, message: 'internal error' } }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { env, stats } = deps;
    const method = (req.method ?? 'GET').toUpperCase();
    const full = new URL(req.url ?? '/', 'http://cloudsim');
    const rawPath = full.pathname;
    const parts = rawPath.split('/').filter(Boolean).map(safeDecode);
    const service = byName.get(parts[0] ?? '') ?? byName.get('v3');
    if (!service) throw new Error('cloudsim has no identity service');
    const requestId = service.requestId ? service.requestId(env.now()) : `req-${uuid()}`;

    let match: { c: Compiled; params: Record<string, string> } | undefined;
    let pathKnown = false;
    for (const c of compiled) {
      const params = matchSegments(c.segments, parts);
      if (!params) continue;
      pathKnown = true;
      if (c.route.method === method) {
        match = { c, params };
        break;
      }
    }
    stats.count(
      service.name,
      match ? `${method} ${match.c.template}` : `${method} ${service.prefix} (unmatched)`,
    );

    if (env.knobs.latencyMs > 0) await sleep(env.knobs.latencyMs);
    const below = '/' + parts.slice(service.prefix.split('/').filter(Boolean).length).join('/');
    const fault = takeFault(env.knobs.faults, {
      service: service.name,
      method,
      path: below,
      fullPath: rawPath,
    });
    if (fault) {
      if (fault.dropConnection) {
        req.socket.destroy();
        return;
      }
      const reply =
        fault.body !== undefined
          ? { status: fault.status, json: fault.body }
          : service.errorReply(new HttpError(fault.status, faultMessage(fault.status)), { env });
      if (fault.retryAfter !== undefined)
        reply.headers = { ...reply.headers, 'Retry-After': fault.retryAfter };
      return send(res, service, req, requestId, reply);
    }

    if (!match) {
      const err = pathKnown
        ? new HttpError(405, 'The method is not allowed for the requested URL.')
        : new HttpError(404, 'The resource could not be found.');
      return send(res, service, req, requestId, service.errorReply(err, { env }));
    }
    const { route } = match.c;
    const rawBody = route.raw ? Buffer.alloc(0) : await readBody(req);
    let caller: Caller | null = null;
    const tokenHeader = req.headers['x-auth-token'];
    if (route.auth !== 'none' && typeof tokenHeader === 'string') caller = resolveToken(env, tokenHeader);
    if (!caller && route.auth === undefined) {
      return send(
        res,
        service,
        req,
        requestId,
        service.errorReply(new HttpError(401, 'The request you have made requires authentication.'), { env }),
      );
    }
    let body: unknown;
    try {
      body =
        rawBody.length > 0 && !route.raw && isJson(req) ? JSON.parse(rawBody.toString('utf8')) : undefined;
    } catch {
      return send(
        res,
        service,
        req,
        requestId,
        service.errorReply(new HttpError(400, 'Malformed request body'), { env }),
      );
    }
    const ctx: Ctx = {
      env,
      req,
      method,
      params: match.params,
      query: full.searchParams,
      headers: req.headers,
      body,
      rawBody,
      caller,
      rawPath,
      requestId,
    };
    let reply: Reply;
    try {
      reply = await route.handler(ctx);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      reply = service.errorReply(err, { env });
    }
    deps.logger?.debug({ method, path: rawPath, status: reply.status }, 'cloudsim');
    if (method !== 'GET' && method !== 'HEAD') deps.onChange?.();
    send(res, service, req, requestId, reply);
  }

  return server;
}

function send(
  res: ServerResponse,
  service: Service,
  req: IncomingMessage,
  requestId: string,
  reply: Reply,
): void {
  service.decorate?.(reply, { req, requestId });
  const headers: Record<string, string | number> = { 'x-openstack-request-id': requestId, ...reply.headers };
  let payload: Buffer | undefined;
  if (reply.json !== undefined) {
    payload = Buffer.from(JSON.stringify(reply.json));
    headers['content-type'] ??= 'application/json';
  } else if (reply.text !== undefined) {
    payload = Buffer.isBuffer(reply.text) ? reply.text : Buffer.from(reply.text);
  }
  if (!('content-length' in headers) && !('Content-Length' in headers))
    headers['content-length'] = payload?.length ?? 0;
  res.writeHead(reply.status, headers);
  res.end(req.method === 'HEAD' ? undefined : payload);
}

function matchSegments(template: string[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const t = template[i] as string;
    const p = parts[i];
    if (t.endsWith('+}')) {
      if (i >= parts.length) return undefined;
      params[t.slice(1, -2)] = parts.slice(i).join('/');
      return params;
    }
    if (p === undefined) return undefined;
    if (t.startsWith('{')) params[t.slice(1, -1)] = p;
    else if (t !== p) return undefined;
  }
  return parts.length === template.length ? params : undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function isJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type'] ?? '';
  return type === '' || type.includes('json');
}

function faultMessage(status: number): string {
  if (status === 429) return 'Rate limit exceeded, retry later.';
  if (status >= 500)
    return 'The server has either erred or is incapable of performing the requested operation.';
  return `Injected fault ${status}.`;
}

/** Reads the whole request body. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
