import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth/service.ts';
import { requirePrincipal } from '../principal.ts';

/** API tokens of the calling user: create (shown once; password sessions only), list, delete. */
export function registerTokenRoutes(app: FastifyInstance, auth: AuthService): void {
  app.post('/api/v1/tokens', async (request, reply) => {
    const principal = requirePrincipal(request);
    const body = (request.body ?? {}) as { name?: unknown; expiresInDays?: unknown; clusters?: unknown };
    const created = await auth.createToken(principal, {
      name: body.name,
      expiresInDays: body.expiresInDays,
      clusters: body.clusters,
    });
    return reply.status(201).send({
      id: created.id,
      name: created.name,
      token: created.token,
      createdAt: created.createdAt,
      expiresAt: created.expiresAt,
      ...(created.clusters ? { clusters: created.clusters } : {}),
    });
  });

  app.get('/api/v1/tokens', async (request) => ({ items: await auth.listTokens(requirePrincipal(request)) }));

  app.delete<{ Params: { id: string } }>('/api/v1/tokens/:id', async (request, reply) => {
    await auth.deleteToken(requirePrincipal(request), request.params.id);
    return reply.status(204).send();
  });
}
