import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthService, Principal } from '../auth/service.ts';
import { AuthError, ForbiddenError, NotFoundError } from '../errors.ts';
import { safeEqual } from '../auth/tokens.ts';

export type { Principal } from '../auth/service.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling (session cookie or API token), resolved before the handler; undefined when anonymous. */
    principal: Principal | undefined;
  }
}

/** Name of the control-panel session cookie. */
export const SESSION_COOKIE = 'kaas_session';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Paths that accept writes without a CSRF token: logging in creates the token in the first place. */
const CSRF_EXEMPT = new Set(['/api/v1/login']);

/**
 * The route contract for other engineers: `request.principal` is set on every request of the API
 * scope (app.ts; the webhook, /metrics and /healthz are outside it) from `Authorization: Bearer
 * <kaas token>` or the `kaas_session` cookie.
 * Cookie-authenticated writes must carry `X-CSRF-Token` (403 otherwise); token-authenticated ones need not.
 */
export function registerPrincipal(app: FastifyInstance, auth: AuthService): void {
  app.decorateRequest('principal', undefined);
  guardRestrictedToken(app);
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0] ?? '';
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      const principal = match?.[1] ? await auth.principalOfToken(match[1]) : undefined;
      if (!principal)
        throw new AuthError('the Authorization header does not carry a valid kaas token', {
          code: 'invalid_token',
        });
      request.principal = principal;
      return;
    }
    const secret = request.cookies[SESSION_COOKIE];
    if (!secret) return;
    const session = await auth.sessionOf(secret);
    if (!session) return;
    request.principal = {
      userId: session.userId,
      userName: session.userName,
      domainName: session.domainName,
      via: 'session',
    };
    if (!SAFE_METHODS.has(request.method) && !CSRF_EXEMPT.has(path)) {
      const given = request.headers['x-csrf-token'];
      if (typeof given !== 'string' || !safeEqual(given, session.csrfToken)) {
        throw new ForbiddenError(
          'missing or wrong X-CSRF-Token header (use the csrfToken from /api/v1/session)',
          {
            code: 'csrf_failed',
          },
        );
      }
    }
  });
}

/**
 * A token restricted to chosen clusters reaches only those over the API too: any other cluster's
 * routes answer 404, as for a cluster the user cannot see.
 */
function guardRestrictedToken(app: FastifyInstance): void {
  app.addHook('preHandler', async (request) => {
    const allowed = request.principal?.clusters;
    if (!allowed) return;
    const route = request.routeOptions.url ?? '';
    if (!route.startsWith('/api/v1/clusters/:id')) return;
    const id = (request.params as { id?: string }).id ?? '';
    if (!allowed.includes(id)) throw new NotFoundError(`no cluster "${id}" that you have access to`);
  });
}

/** Route hook (preValidation): anonymous callers get 401 before their input is looked at. */
export async function signedIn(request: FastifyRequest): Promise<void> {
  requirePrincipal(request);
}

/** The caller, or AuthError (401) when the request carries no valid session or token. */
export function requirePrincipal(request: FastifyRequest): Principal {
  if (!request.principal) {
    throw new AuthError('sign in (POST /api/v1/login) or send Authorization: Bearer <kaas token>');
  }
  return request.principal;
}
