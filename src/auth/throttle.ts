import { KaasError } from '../errors.ts';

/** Too many failed logins: the HTTP layer answers 429 with Retry-After. */
export class TooManyAttemptsError extends KaasError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('too_many_attempts', `too many failed logins; try again in ${retryAfterSeconds} s`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Lockout policy: after `freeFailures` failures, lock for base·2^(extra failures), capped. */
export interface ThrottlePolicy {
  freeFailures: number;
  baseLockMs: number;
  maxLockMs: number;
  /** Failures older than this are forgotten. */
  forgetAfterMs: number;
  maxKeys: number;
}

export const defaultThrottlePolicy: ThrottlePolicy = {
  freeFailures: 5,
  baseLockMs: 30_000,
  maxLockMs: 15 * 60_000,
  forgetAfterMs: 60 * 60_000,
  maxKeys: 10_000,
};

/** Lock duration after `failures` consecutive failures (pure, so the policy is testable on its own). */
export function lockDurationMs(failures: number, policy: ThrottlePolicy = defaultThrottlePolicy): number {
  if (failures < policy.freeFailures) return 0;
  return Math.min(policy.maxLockMs, policy.baseLockMs * 2 ** (failures - policy.freeFailures));
}

/**
 * Per-key (username + client IP) login failure counter, in memory: slows brute force on one
 * replica; each replica keeps its own count, which is still a hard bound per replica.
 */
export function createLoginThrottle(now: () => number, policy: ThrottlePolicy = defaultThrottlePolicy) {
  const state = new Map<string, { failures: number; lockedUntil: number; lastFailure: number }>();
  return {
    /** Throws TooManyAttemptsError while the key is locked. */
    check(key: string): void {
      const s = state.get(key);
      if (!s) return;
      const t = now();
      if (t - s.lastFailure > policy.forgetAfterMs) {
        state.delete(key);
        return;
      }
      if (s.lockedUntil > t) throw new TooManyAttemptsError(Math.ceil((s.lockedUntil - t) / 1000));
    },
    failure(key: string): void {
      const t = now();
      const prev = state.get(key);
      const failures = (prev && t - prev.lastFailure <= policy.forgetAfterMs ? prev.failures : 0) + 1;
      state.delete(key);
      state.set(key, { failures, lockedUntil: t + lockDurationMs(failures, policy), lastFailure: t });
      while (state.size > policy.maxKeys) state.delete(state.keys().next().value as string);
    },
    success(key: string): void {
      state.delete(key);
    },
  };
}
