import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** Prometheus scrape endpoint. */
export function registerMetricsRoute(app: FastifyInstance, registries: Registry[]): void {
  app.get('/metrics', async (_request, reply) => {
    const text = (await Promise.all(registries.map((r) => r.metrics()))).join('\n');
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
  });
}
