import { describe, expect, it } from 'vitest';
import { createLoginThrottle, lockDurationMs, TooManyAttemptsError } from './throttle.ts';

describe('login throttle', () => {
  it('locks exponentially after 5 failures, capped', () => {
    expect(lockDurationMs(4)).toBe(0);
    expect(lockDurationMs(5)).toBe(30_000);
    expect(lockDurationMs(6)).toBe(60_000);
    expect(lockDurationMs(50)).toBe(15 * 60_000);
  });

  it('refuses while locked with Retry-After seconds, unlocks later, resets on success', () => {
    let t = 0;
    const th = createLoginThrottle(() => t);
    for (let i = 0; i < 4; i++) th.failure('alice|1.2.3.4');
    expect(() => th.check('alice|1.2.3.4')).not.toThrow();
    th.failure('alice|1.2.3.4');
    let error: unknown;
    try {
      th.check('alice|1.2.3.4');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TooManyAttemptsError);
    expect((error as TooManyAttemptsError).retryAfterSeconds).toBe(30);
    expect(() => th.check('alice|5.6.7.8')).not.toThrow();
    t = 30_000;
    expect(() => th.check('alice|1.2.3.4')).not.toThrow();
    th.failure('alice|1.2.3.4');
    expect(() => th.check('alice|1.2.3.4')).toThrow(/try again in 60 s/);
    th.success('alice|1.2.3.4');
    expect(() => th.check('alice|1.2.3.4')).not.toThrow();
  });

  it('forgets old failures and bounds its memory', () => {
    let t = 0;
    const th = createLoginThrottle(() => t, {
      freeFailures: 1,
      baseLockMs: 1000,
      maxLockMs: 1000,
      forgetAfterMs: 5000,
      maxKeys: 2,
    });
    th.failure('a');
    expect(() => th.check('a')).toThrow(TooManyAttemptsError);
    t = 6000;
    expect(() => th.check('a')).not.toThrow();
    th.failure('b');
    th.failure('c');
    th.failure('d');
    expect(() => th.check('b')).not.toThrow();
    expect(() => th.check('d')).toThrow(TooManyAttemptsError);
  });
});
