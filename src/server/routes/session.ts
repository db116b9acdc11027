import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth/service.ts';
import { AuthError } from '../../errors.ts';
import { documented, errorResponses, noContent, object } from '../openapi.ts';
import { SESSION_COOKIE } from '../principal.ts';
import { sessionUserSchema } from './schemas.ts';

const cookieOptions = { httpOnly: true, secure: true, sameSite: 'strict', path: '/' } as const;

const str = { type: 'string' } as const;

const loginSchema = {
  summary: 'Sign in with a Keystone password; sets the kaas_session cookie',
  tags: ['session'],
  body: object({ username: str, password: str, domain: { ...str, description: 'default: Default' } }, [
    'domain',
  ]),
  response: {
    200: object({ user: sessionUserSchema, csrfToken: str }),
    ...errorResponses(400, 401, 429, 502),
  },
};

const sessionSchema = {
  summary: 'The current session and its CSRF token',
  tags: ['session'],
  response: {
    200: object({ user: sessionUserSchema, csrfToken: str, expiresAt: str }),
    ...errorResponses(401),
  },
};

/** Control-panel login, logout and session introspection. */
export function registerSessionRoutes(app: FastifyInstance, auth: AuthService): void {
  app.post<{ Body: { username?: unknown; password?: unknown; domain?: unknown } }>(
    '/api/v1/login',
    documented(loginSchema),
    async (request, reply) => {
      const body = (request.body ?? {}) as { username?: unknown; password?: unknown; domain?: unknown };
      const { secret, session } = await auth.login({
        username: body.username,
        password: body.password,
        domain: body.domain,
        ip: request.ip,
      });
      reply.setCookie(SESSION_COOKIE, secret, { ...cookieOptions, expires: new Date(session.expiresAt) });
      return {
        user: { id: session.userId, name: session.userName, domain: session.domainName },
        csrfToken: session.csrfToken,
      };
    },
  );

  app.post(
    '/api/v1/logout',
    documented({
      summary: 'End the session (if any) and clear its cookie',
      tags: ['session'],
      response: { 204: noContent, ...errorResponses(401, 403) },
    }),
    async (request, reply) => {
      const secret = request.cookies[SESSION_COOKIE];
      if (secret) await auth.logout(secret);
      reply.clearCookie(SESSION_COOKIE, cookieOptions);
      return reply.status(204).send();
    },
  );

  app.get('/api/v1/session', documented(sessionSchema), async (request) => {
    const secret = request.cookies[SESSION_COOKIE];
    const session = secret ? await auth.sessionOf(secret) : undefined;
    if (!session) throw new AuthError('no session: sign in with POST /api/v1/login', { code: 'no_session' });
    return {
      user: { id: session.userId, name: session.userName, domain: session.domainName },
      csrfToken: session.csrfToken,
      expiresAt: session.expiresAt,
    };
  });
}
