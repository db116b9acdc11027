import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth/service.ts';
import { AuthError } from '../../errors.ts';
import { SESSION_COOKIE } from '../principal.ts';

const cookieOptions = { httpOnly: true, secure: true, sameSite: 'strict', path: '/' } as const;

/** Control-panel login, logout and session introspection. */
export function registerSessionRoutes(app: FastifyInstance, auth: AuthService): void {
  app.post<{ Body: { username?: unknown; password?: unknown; domain?: unknown } }>(
    '/api/v1/login',
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

  app.post('/api/v1/logout', async (request, reply) => {
    const secret = request.cookies[SESSION_COOKIE];
    if (secret) await auth.logout(secret);
    reply.clearCookie(SESSION_COOKIE, cookieOptions);
    return reply.status(204).send();
  });

  app.get('/api/v1/session', async (request) => {
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
