import {
  pino,
  type BaseLogger,
  type Bindings,
  type ChildLoggerOptions,
  type Logger,
  type LevelWithSilent,
  type LoggerOptions,
} from 'pino';

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

/** How log lines look: one JSON object each (for machines), or time, level, message and fields (for people). */
export type LogFormat = 'json' | 'text';

/** Creates the process logger; `destination` lets tests capture output. */
export function createLogger(
  options: { level?: string; destination?: NodeJS.WritableStream; format?: LogFormat } = {},
): Logger {
  const out = options.destination ?? process.stderr;
  if (options.format !== 'text') return pino(loggerOptions(options.level), out);
  return pino(loggerOptions(options.level), { write: (line: string) => out.write(textLine(line)) });
}

type LevelMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** What Fastify needs of a request's logger (its FastifyBaseLogger, spelt without importing Fastify). */
export interface RequestLogger extends Pick<BaseLogger, 'level' | LevelMethod | 'silent'> {
  child(bindings: Bindings, options?: ChildLoggerOptions): RequestLogger;
}

/**
 * `level`, or `floor` when `level` lets more through: a route that logs at most `floor` lines never
 * writes lines its logger's own level (`error`, `silent`) would drop.
 */
export function noLouderThan(level: string, floor: LevelWithSilent): LevelWithSilent {
  const { values } = pino.levels;
  const rank = (l: string) => (l === 'silent' ? Infinity : (values[l] ?? 0));
  return rank(level) > rank(floor) ? (level as LevelWithSilent) : floor;
}

/**
 * Fastify's `childLoggerFactory` for a hot route that seldom logs (the TokenReview webhook): each
 * request's pino child (bound to its request id, at the route's level) is made when the request
 * first writes a line that level lets through. Making one serialises and redacts the bindings and,
 * for a route's own level, rebuilds every log method: for a request that logs nothing, for nothing.
 */
export function lazyChildLogger(
  parent: RequestLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): RequestLogger {
  let made: RequestLogger | undefined;
  const child = () => (made ??= parent.child(bindings, options));
  const level = () => made?.level ?? options.level ?? parent.level;
  const { values } = pino.levels;
  const writer =
    (method: LevelMethod) =>
    (...args: unknown[]): void => {
      if (made === undefined && (values[method] ?? 0) < (values[level()] ?? 0)) return;
      const to = child();
      (to[method] as (...a: unknown[]) => void).apply(to, args);
    };
  return {
    get level() {
      return level();
    },
    set level(value: string) {
      child().level = value;
    },
    fatal: writer('fatal'),
    error: writer('error'),
    warn: writer('warn'),
    info: writer('info'),
    debug: writer('debug'),
    trace: writer('trace'),
    silent: () => undefined,
    child: (more, moreOptions) => child().child(more, moreOptions),
  };
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** A field's value on a text line: quoted when it has spaces, fractions to one decimal, at most 200 characters. */
function textValue(value: unknown): string {
  if (typeof value === 'number' && !Number.isInteger(value)) return value.toFixed(1);
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const short = text.length > 200 ? `${text.slice(0, 199)}…` : text;
  return /[\s"=]/.test(short) ? JSON.stringify(short) : short;
}

/** Where a request came from says nothing on a terminal (it is this machine); the JSON lines keep it. */
const QUIET_FIELDS = new Set(['req.host', 'req.remoteAddress', 'req.remotePort']);

/** `key=value` pairs of a line's fields; an object one level deep is spelt `key.inner=value`, an error by its message. */
function textFields(fields: Record<string, unknown>): string[] {
  return Object.entries(fields).flatMap(([key, value]) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return [`${key}=${textValue(value)}`];
    const inner = value as Record<string, unknown>;
    if (typeof inner.message === 'string') return [`${key}=${textValue(inner.message)}`];
    return Object.entries(inner)
      .filter(([name]) => !QUIET_FIELDS.has(`${key}.${name}`))
      .map(([name, v]) => `${key}.${name}=${textValue(v)}`);
  });
}

/**
 * One pino line (JSON, already redacted) as a person reads it at a terminal:
 * `14:03:04.567 INFO  message key=value …`, in local time.
 */
export function textLine(json: string): string {
  const {
    time,
    level,
    msg,
    pid: _pid,
    hostname: _host,
    ...fields
  } = JSON.parse(json) as Record<string, unknown>;
  const at = new Date(Number(time));
  const clock = `${at.toTimeString().slice(0, 8)}.${String(at.getMilliseconds()).padStart(3, '0')}`;
  const name = (LEVELS[Number(level)] ?? String(level)).padEnd(5);
  return `${[clock, name, String(msg ?? ''), ...textFields(fields)].join(' ')}\n`;
}
