import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { InputError, KaasError, errorKind, type ErrorKind } from '../errors.ts';
import { TooManyAttemptsError } from '../auth/throttle.ts';

/** The one place domain errors become HTTP statuses. */
const STATUSES: Record<ErrorKind, number> = {
  input: 400,
  auth: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  upstream: 502,
};

/** The HTTP status for an error: 429 for a login lockout, else by kind, else Fastify's own 4xx/5xx or 500. */
export function statusFor(error: unknown): number {
  if (error instanceof TooManyAttemptsError) return 429;
  const kind = errorKind(error);
  if (kind) return STATUSES[kind];
  const status = (error as FastifyError).statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

/** What an error is answered with: status, JSON body `{ error: { code, message, field? } }` and headers. */
export interface ErrorAnswer {
  status: number;
  body: { error: { code: string; message: string; field?: string } };
  headers: Record<string, string>;
}

/**
 * The answer for an error, for the Fastify app (errorHandler) and the webhook's plain handler
 * alike; never the stack, never internals of a 500.
 */
export function errorAnswer(error: unknown): ErrorAnswer {
  const status = statusFor(error);
  const headers: Record<string, string> =
    error instanceof TooManyAttemptsError ? { 'retry-after': String(error.retryAfterSeconds) } : {};
  const body =
    error instanceof KaasError
      ? {
          code: error.code,
          message: error.message,
          ...(error instanceof InputError && error.field ? { field: error.field } : {}),
        }
      : status < 500
        ? fastifyBody(error as FastifyError)
        : { code: 'internal_error', message: 'internal error; the server log has the details' };
  return { status, body: { error: body }, headers };
}

/** Fastify's error handler: errorAnswer, with a log line for a 5xx. */
export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const answer = errorAnswer(error);
  if (answer.status >= 500) request.log.error({ err: error }, 'request failed');
  return reply.status(answer.status).headers(answer.headers).send(answer.body);
}

function fastifyBody(error: FastifyError): { code: string; message: string; field?: string } {
  const field = validationField(error);
  return { code: fastifyCode(error), message: error.message, ...(field ? { field } : {}) };
}

/** The field a schema validation error is about, as InputError names fields (`items[0].kind`). */
function validationField(error: FastifyError): string | undefined {
  const first = error.validation?.[0];
  if (!first) return undefined;
  const segments = first.instancePath.split('/').slice(1);
  // A missing property, or one the schema does not allow, is named like the others.
  const params = first.params as { missingProperty?: unknown; additionalProperty?: unknown };
  const named = params.missingProperty ?? params.additionalProperty;
  if (typeof named === 'string') segments.push(named);
  const field = segments
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, s) => (/^\d+$/.test(s) ? `${path}[${s}]` : path ? `${path}.${s}` : s), '');
  return field || undefined;
}

function fastifyCode(error: FastifyError): string {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'body_too_large';
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'unsupported_media_type';
  if (error.validation) return 'invalid_input';
  return 'bad_request';
}
