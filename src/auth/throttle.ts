import { KaasError } from '../errors.ts';
import type { Db } from '../store/db.ts';
import { deleteLoginThrottle } from '../store/deleteLoginThrottle.ts';
import { deleteStaleLoginThrottles } from '../store/deleteStaleLoginThrottles.ts';
import { refundLoginAttempt } from '../store/refundLoginAttempt.ts';
import { reserveLoginAttempt } from '../store/reserveLoginAttempt.ts';
import { hashSecret } from './tokens.ts';

/** Too many failed logins: the HTTP layer answers 429 with Retry-After. */
export class TooManyAttemptsError extends KaasError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('too_many_attempts', `too many failed logins; try again in ${retryAfterSeconds} s`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Backoff policy: after `freeFailures` attempts, wait base·2^(extra attempts), capped. */
export interface ThrottlePolicy {
  freeFailures: number;
  baseLockMs: number;
  maxLockMs: number;
  /** Attempts older than this are forgotten. */
  forgetAfterMs: number;
}

export const defaultThrottlePolicy: ThrottlePolicy = {
  freeFailures: 5,
  baseLockMs: 30_000,
  maxLockMs: 15 * 60_000,
  forgetAfterMs: 60 * 60_000,
};

/** Backoff after `failures` consecutive failures (pure, so the policy is testable on its own). */
export function lockDurationMs(failures: number, policy: ThrottlePolicy = defaultThrottlePolicy): number {
  if (failures < policy.freeFailures) return 0;
  return Math.min(policy.maxLockMs, policy.baseLockMs * 2 ** (failures - policy.freeFailures));
}

/**
 * The backoff of attempts 1, 2, … up to the first that reaches the cap (which then holds for all
 * later ones), so the database can apply the policy inside one statement.
 */
export function backoffLadder(policy: ThrottlePolicy = defaultThrottlePolicy): [number, ...number[]] {
  const ladder: [number, ...number[]] = [lockDurationMs(1, policy)];
  for (let n = 2; ladder[ladder.length - 1]! < policy.maxLockMs && n <= policy.freeFailures + 64; n++) {
    ladder.push(lockDurationMs(n, policy));
  }
  return ladder;
}

/**
 * The throttle key of one account tried from one source: Keystone domain and username (case folded,
 * so `Alice` and `alice` share it) and the client address. Per account AND source, so an attacker
 * elsewhere slows only their own guesses, never the victim's login. Hashed: a password typed into
 * the username field is not stored.
 */
export function loginThrottleKey(input: { domain: string; username: string; ip: string }): string {
  return hashSecret(`${input.domain.toLowerCase()}\u0000${input.username.toLowerCase()}\u0000${input.ip}`);
}

/** A reserved login attempt, to report back with {@link LoginThrottle.succeeded} or `refund`. */
export interface LoginAttempt {
  key: string;
  attempts: number;
  reservedAt: string;
}

/**
 * Login throttling shared by every replica through the database. Each attempt is reserved before
 * the password check, atomically, and counts as a failure until it succeeds: N parallel guesses
 * reach Keystone at most `freeFailures` times, then back off exponentially (capped, never a hard
 * lock). A success clears the key.
 */
export function createLoginThrottle(deps: { db: Db; now: () => Date; policy?: ThrottlePolicy }) {
  const policy = deps.policy ?? defaultThrottlePolicy;
  const ladder = backoffLadder(policy);
  return {
    /** Reserves an attempt for the key; throws TooManyAttemptsError while it backs off. */
    async reserve(key: string): Promise<LoginAttempt> {
      const t = deps.now().getTime();
      const now = new Date(t).toISOString();
      const [first, ...rest] = ladder.map((ms) => new Date(t + ms).toISOString());
      const result = await reserveLoginAttempt({
        db: deps.db,
        key,
        now,
        forgetBefore: new Date(t - policy.forgetAfterMs).toISOString(),
        nextAt: [first!, ...rest],
      });
      if (!result.allowed) {
        throw new TooManyAttemptsError(Math.max(1, Math.ceil((Date.parse(result.nextAt) - t) / 1000)));
      }
      return { key, attempts: result.attempts, reservedAt: now };
    },
    /** The attempt's password was right: the key starts afresh. */
    async succeeded(attempt: LoginAttempt): Promise<void> {
      await deleteLoginThrottle({ db: deps.db, key: attempt.key });
    },
    /** The attempt reached no verdict (Keystone unreachable): it does not count. */
    async refund(attempt: LoginAttempt): Promise<void> {
      await refundLoginAttempt({ db: deps.db, ...attempt });
    },
    /** Deletes keys idle longer than the policy remembers; returns how many. */
    async prune(): Promise<number> {
      const t = deps.now().getTime();
      return deleteStaleLoginThrottles({
        db: deps.db,
        before: new Date(t - policy.forgetAfterMs).toISOString(),
        now: new Date(t).toISOString(),
      });
    },
  };
}

/** The login throttle made by {@link createLoginThrottle}. */
export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
