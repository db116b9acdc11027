/** How a single attempt failed. */
export type AttemptErrorKind = 'http' | 'timeout' | 'connection';

/** Tunables of {@link retryDecision}. */
export interface RetryPolicy {
  /** Total attempts, the first one included. */
  maxAttempts: number;
  /** Backoff before the second attempt; doubles each time. */
  baseDelayMs: number;
  /** Cap of the exponential backoff. */
  maxDelayMs: number;
  /** Cap on a server's Retry-After; a longer ask is waited for this long. */
  maxRetryAfterMs: number;
  /** Source of jitter in [0, 1); injected so tests are deterministic. */
  random: () => number;
}

/** Defaults: 4 attempts, 0.5 s → 1 s → 2 s (±50 % jitter), Retry-After honoured up to 30 s. */
export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 30_000,
  random: Math.random,
};

/** What happened on the attempt just made. */
export interface RetryInput {
  /** 1-based number of the attempt that just failed. */
  attempt: number;
  method: string;
  /** The caller marked this call safe to repeat (e.g. a POST guarded by a unique name). */
  idempotent?: boolean;
  status?: number;
  errorKind: AttemptErrorKind;
  retryAfterHeader?: string;
  /** Current time in ms since the epoch, for HTTP-date Retry-After values. */
  now: number;
}

/** Whether to try again, and after how long. */
export interface RetryDecision {
  retry: boolean;
  delayMs: number;
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** Milliseconds a Retry-After header asks for (delta-seconds or HTTP-date), or undefined if unparsable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function backoff(attempt: number, policy: RetryPolicy): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exp * (0.5 + policy.random() / 2));
}

/**
 * The retry policy of every OpenStack call. 429 is retried for any method (the server refused
 * before doing anything), honouring Retry-After; 5xx, timeouts and connection failures only for
 * idempotent calls, because a POST that timed out may have created something; 401/403 and other
 * 4xx never (the session handles one re-authentication on 401 itself).
 */
export function retryDecision(input: RetryInput, policy: RetryPolicy = defaultRetryPolicy): RetryDecision {
  const no = { retry: false, delayMs: 0 };
  if (input.attempt >= policy.maxAttempts) return no;
  const idempotent = input.idempotent === true || IDEMPOTENT_METHODS.has(input.method.toUpperCase());
  if (input.errorKind === 'http') {
    const status = input.status ?? 0;
    if (status === 429) {
      const asked = parseRetryAfter(input.retryAfterHeader, input.now);
      if (asked !== undefined) return { retry: true, delayMs: Math.min(asked, policy.maxRetryAfterMs) };
      return { retry: true, delayMs: backoff(input.attempt, policy) };
    }
    if (status >= 500 && status !== 501 && status !== 505 && idempotent) {
      const asked = parseRetryAfter(input.retryAfterHeader, input.now);
      const delay = backoff(input.attempt, policy);
      return {
        retry: true,
        delayMs: asked !== undefined ? Math.max(delay, Math.min(asked, policy.maxRetryAfterMs)) : delay,
      };
    }
    return no;
  }
  if (!idempotent) return no;
  return { retry: true, delayMs: backoff(input.attempt, policy) };
}
