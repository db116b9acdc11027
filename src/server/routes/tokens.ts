import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth/service.ts';
import { documented, errorResponses, noContent, object, pathParams } from '../openapi.ts';
import { requirePrincipal, signedIn } from '../principal.ts';
import { itemsOf, tokenSchema } from './schemas.ts';

const createSchema = {
  summary: 'Create an API token (shown once); password sessions only',
  tags: ['tokens'],
  body: object(
    {
      name: { type: 'string' },
      expiresInDays: { type: 'integer', description: 'default 90, at most 730' },
      clusters: {
        type: 'array',
        items: { type: 'string' },
        description: 'restrict the token to these clusters',
      },
    },
    ['expiresInDays', 'clusters'],
  ),
  response: {
    201: {
      ...tokenSchema,
      required: [...(tokenSchema.required as string[]), 'token'],
      properties: { ...(tokenSchema.properties as object), token: { type: 'string' } },
    },
    ...errorResponses(400, 401, 403),
  },
};

/** API tokens of the calling user: create (shown once; password sessions only), list, delete. */
export function registerTokenRoutes(app: FastifyInstance, auth: AuthService): void {
  app.post(
    '/api/v1/tokens',
    { ...documented(createSchema), preValidation: signedIn },
    async (request, reply) => {
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
    },
  );

  app.get(
    '/api/v1/tokens',
    documented({
      summary: "The caller's API tokens",
      tags: ['tokens'],
      response: { 200: itemsOf(tokenSchema), ...errorResponses(401) },
    }),
    async (request) => ({ items: await auth.listTokens(requirePrincipal(request)) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/tokens/:id',
    documented({
      summary: 'Delete one of your API tokens',
      tags: ['tokens'],
      params: pathParams('id'),
      response: { 204: noContent, ...errorResponses(401, 403, 404) },
    }),
    async (request, reply) => {
      await auth.deleteToken(requirePrincipal(request), request.params.id);
      return reply.status(204).send();
    },
  );
}
