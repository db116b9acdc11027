import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { AuthError } from '../../errors.ts';
import { safeEqual } from '../../auth/tokens.ts';
import { errorResponses, textResponse } from '../openapi.ts';

const schema = {
  summary: 'Prometheus metrics (with KAAS_METRICS_TOKEN set, as a bearer token)',
  tags: ['meta'],
  response: { 200: textResponse('text/plain', 'Prometheus text format 0.0.4'), ...errorResponses(401) },
};

/**
 * Prometheus scrape endpoint. With `token`, scrapes must send `Authorization: Bearer <token>`
 * (Prometheus' `authorization.credentials`): the metrics name clusters and users' activity.
 */
export function registerMetricsRoute(
  app: FastifyInstance,
  registries: Registry[],
  options: { token?: string | undefined } = {},
): void {
  app.get('/metrics', { schema }, async (request, reply) => {
    if (options.token !== undefined) {
      const given = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? '';
      if (!safeEqual(given, options.token)) {
        void reply.header('www-authenticate', 'Bearer realm="kaas metrics"');
        throw new AuthError('/metrics needs Authorization: Bearer <KAAS_METRICS_TOKEN>', {
          code: 'metrics_token_required',
        });
      }
    }
    const text = (await Promise.all(registries.map((r) => r.metrics()))).join('\n');
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
  });
}
