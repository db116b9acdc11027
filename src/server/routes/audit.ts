import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { InputError } from '../../errors.ts';
import type { Store } from '../../store/db.ts';
import type { AuditEvent } from '../../store/auditSchema.ts';
import { listAuditEvents, type AuditCursor } from '../../store/listAuditEvents.ts';
import { nullable, object, textResponse } from '../openapi.ts';
import { clusterParams, panelRoute, requireClusterAdmin, sendAttachment, type PanelDeps } from './panel.ts';

const str = { type: 'string' } as const;

const auditEventSchema = object({
  id: str,
  at: str,
  actorUserId: nullable(str),
  actorName: nullable(str),
  action: str,
  target: nullable(str),
  clusterId: nullable(str),
  outcome: { enum: ['success', 'failure'] },
  details: { type: 'object' },
  requestId: nullable(str),
  sourceIp: nullable(str),
});

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;
const EXPORT_PAGE = 500;

/** `before` cursors are `<at>~<id>`: opaque to clients, who pass back the `nextBefore` they got. */
export function encodeCursor(event: Pick<AuditEvent, 'at' | 'id'>): string {
  return `${event.at}~${event.id}`;
}

/** Parses a `before` cursor; InputError for anything that is not one this API handed out. */
export function parseCursor(value: unknown): AuditCursor | undefined {
  if (value === undefined || value === '') return undefined;
  const match = typeof value === 'string' ? /^(\d{4}-\d\d-\d\dT[\d:.]+Z)~([\w-]{1,64})$/.exec(value) : null;
  if (!match)
    throw new InputError('before must be the nextBefore value of a previous page', { field: 'before' });
  return { at: match[1] as string, id: match[2] as string };
}

/** Parses `limit` (1…500, default 100). */
export function parseLimit(value: unknown): number {
  if (value === undefined || value === '') return DEFAULT_LIMIT;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT))
    throw new InputError(`limit must be a whole number from 1 to ${MAX_LIMIT}`, { field: 'limit' });
  return n;
}

async function* exportLines(store: Store, clusterId: string, projectId: string): AsyncGenerator<string> {
  let before: AuditCursor | undefined;
  for (;;) {
    const page = await listAuditEvents({ db: store.db, clusterId, projectId, limit: EXPORT_PAGE, before });
    for (const event of page) yield `${JSON.stringify(event)}\n`;
    const last = page.at(-1);
    if (!last || page.length < EXPORT_PAGE) return;
    before = { at: last.at, id: last.id };
  }
}

/**
 * The audit log of one cluster for its administrators: a page at a time (newest first), or the
 * whole log as JSON lines, streamed page by page so a long log never sits in memory.
 */
export function registerAuditRoutes(app: FastifyInstance, deps: PanelDeps): void {
  const { store } = deps;

  app.get(
    '/api/v1/clusters/:id/admin/audit',
    panelRoute(
      "A page of the cluster's audit log, newest first",
      {
        params: clusterParams,
        querystring: object(
          {
            limit: { ...str, description: `events per page, 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT})` },
            before: { ...str, description: 'the nextBefore of the previous page' },
          },
          ['limit', 'before'],
        ),
        response: {
          200: object({ items: { type: 'array', items: auditEventSchema }, nextBefore: nullable(str) }),
        },
      },
      'admin',
    ),
    async (request) => {
      const { cluster } = await requireClusterAdmin(store, request);
      const query = request.query as { limit?: unknown; before?: unknown };
      const limit = parseLimit(query.limit);
      const before = parseCursor(query.before);
      const items = await listAuditEvents({
        db: store.db,
        clusterId: cluster.id,
        projectId: cluster.projectId,
        limit,
        ...(before ? { before } : {}),
      });
      const last = items.at(-1);
      return { items, nextBefore: last && items.length === limit ? encodeCursor(last) : null };
    },
  );

  app.get(
    '/api/v1/clusters/:id/admin/audit.jsonl',
    panelRoute(
      "The cluster's whole audit log as JSON lines (a download)",
      {
        params: clusterParams,
        response: { 200: textResponse('application/x-ndjson', 'one audit event per line, newest first') },
      },
      'admin',
    ),
    async (request, reply) => {
      const { cluster } = await requireClusterAdmin(store, request);
      const day = deps.now().toISOString().slice(0, 10);
      return sendAttachment(
        reply,
        'application/x-ndjson; charset=utf-8',
        `audit-${cluster.name}-${day}.jsonl`,
        Readable.from(exportLines(store, cluster.id, cluster.projectId)),
      );
    },
  );
}
