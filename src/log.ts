import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Paths redacted from every log line. Secrets are removed here, by configuration,
 * so no call site has to remember to do it.
 */
export const redactPaths = [
  'password',
  'token',
  'secret',
  '*.password',
  '*.token',
  '*.secret',
  '*.*.password',
  '*.*.token',
  '*.*.secret',
  'headers.authorization',
  'headers.cookie',
  'headers["x-auth-token"]',
  'headers["x-subject-token"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-auth-token"]',
  'req.headers["x-subject-token"]',
  'res.headers["set-cookie"]',
  'res.headers["x-subject-token"]',
  'spec.token',
  'body.spec.token',
  'privateKey',
  '*.privateKey',
  'applicationCredentialSecret',
  '*.applicationCredentialSecret',
];

/** Logger options shared by kaas' own logger and Fastify's. */
export function loggerOptions(level = process.env.LOG_LEVEL ?? 'info'): LoggerOptions {
  return { level, redact: { paths: redactPaths, censor: '[redacted]' } };
}

/** Creates the process logger; `destination` lets tests capture output. */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(loggerOptions(options.level), options.destination ?? process.stderr);
}
