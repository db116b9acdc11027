import type { FastifyInstance } from 'fastify';
import { AuthError } from '../../errors.ts';
import { redeem } from '../../provisioner/enrollment.ts';
import type { Store } from '../../store/db.ts';
import { insertAuditEvent } from '../../store/insertAuditEvent.ts';
import { errorResponses, pathParams, textResponse } from '../openapi.ts';

const schema = {
  summary: "A booting node's enrollment: its join secrets and keys, once, for its single-use credential",
  tags: ['webhook'],
  params: pathParams('clusterId'),
  response: {
    200: textResponse('text/plain', 'one line per file: `<octal mode> <path> <base64 content>`'),
    ...errorResponses(401),
  },
};

const BEARER = /^Bearer ([A-Za-z0-9_-]{1,128})$/;

/**
 * `POST /enroll/{clusterId}` with `Authorization: Bearer <credential>`: what a node's bootstrap
 * script calls at first boot (src/bootstrap/node.ts). Outside the API's scope like the TokenReview
 * webhook: nodes have no session, and the credential is the whole authentication. Each redemption
 * is an audit entry naming the node, never the credential; a refusal is a log line.
 */
export function registerEnrollRoutes(app: FastifyInstance, deps: { store: Store; now: () => Date }): void {
  app.post<{ Params: { clusterId: string } }>('/enroll/:clusterId', { schema }, async (request, reply) => {
    const { clusterId } = request.params;
    const credential = BEARER.exec(request.headers.authorization ?? '')?.[1];
    const now = deps.now();
    const result = credential
      ? await redeem(deps.store.db, now, clusterId, credential)
      : ({ refused: 'unknown' } as const);
    if ('refused' in result) {
      // Logged, not audited: anyone may call this route, and must not be able to fill the audit log.
      request.log.warn({ clusterId, code: `enrollment_${result.refused}` }, 'enrollment refused');
      throw new AuthError(
        result.refused === 'expired'
          ? 'the enrollment credential expired before the node used it: replace the node (retry its job)'
          : 'no such enrollment: the credential is wrong, for another cluster, or already used',
        { code: `enrollment_${result.refused}` },
      );
    }
    await insertAuditEvent({
      db: deps.store.db,
      event: {
        at: now.toISOString(),
        actorUserId: null,
        actorName: `node:${result.node}`,
        action: 'node.enroll',
        target: result.node,
        clusterId,
        outcome: 'success',
        details: {},
        requestId: request.id,
        sourceIp: request.ip,
      },
    });
    request.log.info({ clusterId, node: result.node }, 'node enrolled');
    return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(result.files);
  });
}
