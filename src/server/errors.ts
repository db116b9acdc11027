import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  AuthError,
  ConflictError,
  ForbiddenError,
  InputError,
  KaasError,
  NotFoundError,
  UpstreamError,
} from '../errors.ts';
import { TooManyAttemptsError } from '../auth/throttle.ts';

/** The one place domain errors become HTTP statuses. */
export function statusFor(error: unknown): number {
  if (error instanceof TooManyAttemptsError) return 429;
  if (error instanceof InputError) return 400;
  if (error instanceof AuthError) return 401;
  if (error instanceof ForbiddenError) return 403;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError) return 409;
  if (error instanceof UpstreamError) return 502;
  const status = (error as FastifyError).statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

/** JSON error body: `{ error: { code, message, field? } }`; never the stack, never internals of a 500. */
export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = statusFor(error);
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  if (error instanceof TooManyAttemptsError) reply.header('retry-after', String(error.retryAfterSeconds));
  const body =
    error instanceof KaasError
      ? {
          code: error.code,
          message: error.message,
          ...(error instanceof InputError && error.field ? { field: error.field } : {}),
        }
      : status < 500
        ? { code: fastifyCode(error as FastifyError), message: (error as Error).message }
        : { code: 'internal_error', message: 'internal error; the server log has the details' };
  return reply.status(status).send({ error: body });
}

function fastifyCode(error: FastifyError): string {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'body_too_large';
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'unsupported_media_type';
  if (error.validation) return 'invalid_input';
  return 'bad_request';
}
