import { expect, it } from 'vitest';
import { describeOnEngines } from '../../test/support/databases.ts';
import {
  backoffLadder,
  createLoginThrottle,
  lockDurationMs,
  loginThrottleKey,
  TooManyAttemptsError,
  type ThrottlePolicy,
} from './throttle.ts';

it('backs off exponentially after 5 attempts, capped, and hands the ladder to the database', () => {
  expect(lockDurationMs(4)).toBe(0);
  expect(lockDurationMs(5)).toBe(30_000);
  expect(lockDurationMs(6)).toBe(60_000);
  expect(lockDurationMs(50)).toBe(15 * 60_000);
  expect(backoffLadder()).toEqual([0, 0, 0, 0, 30_000, 60_000, 120_000, 240_000, 480_000, 900_000]);
  const never: ThrottlePolicy = { freeFailures: 3, baseLockMs: 0, maxLockMs: 1000, forgetAfterMs: 1 };
  expect(backoffLadder(never)).toHaveLength(67);
});

it('keys per account and source, case folded, hashed', () => {
  const key = loginThrottleKey({ domain: 'Default', username: 'Alice', ip: '10.0.0.1' });
  expect(key).toMatch(/^[0-9a-f]{64}$/);
  expect(loginThrottleKey({ domain: 'default', username: 'alice', ip: '10.0.0.1' })).toBe(key);
  expect(loginThrottleKey({ domain: 'Default', username: 'alice', ip: '10.0.0.2' })).not.toBe(key);
  expect(loginThrottleKey({ domain: 'Other', username: 'alice', ip: '10.0.0.1' })).not.toBe(key);
});

async function refusal(promise: Promise<unknown>): Promise<TooManyAttemptsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TooManyAttemptsError);
  return error as TooManyAttemptsError;
}

describeOnEngines('login throttle', ({ store }) => {
  let t = Date.parse('2030-01-01T00:00:00.000Z');
  const throttleAt = () => createLoginThrottle({ db: store().db, now: () => new Date(t) });

  it('refuses with Retry-After while backing off, opens later, and a success clears the key', async () => {
    t = Date.parse('2030-01-01T00:00:00.000Z');
    const throttle = throttleAt();
    for (let i = 1; i <= 5; i++) expect((await throttle.reserve('k')).attempts).toBe(i);
    expect((await refusal(throttle.reserve('k'))).retryAfterSeconds).toBe(30);
    // Another source of the same account is a different key: the victim is not locked out.
    expect((await throttle.reserve('victim-source')).attempts).toBe(1);
    t += 29_000;
    expect((await refusal(throttle.reserve('k'))).retryAfterSeconds).toBe(1);
    t += 1_000;
    const sixth = await throttle.reserve('k');
    expect(sixth.attempts).toBe(6);
    expect((await refusal(throttle.reserve('k'))).retryAfterSeconds).toBe(60);
    t += 60_000;
    await throttle.succeeded(await throttle.reserve('k'));
    for (let i = 1; i <= 5; i++) expect((await throttle.reserve('k')).attempts).toBe(i);
  });

  it('lets exactly 5 of 50 parallel attempts through, across two replicas', async () => {
    t = Date.parse('2030-01-01T00:00:00.000Z');
    const [a, b] = [throttleAt(), throttleAt()];
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).reserve('k')),
    );
    const passed = results.filter((r) => r.status === 'fulfilled').map((r) => r.value.attempts);
    expect(passed.sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5]);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(TooManyAttemptsError);
    }
  });

  it('does not count attempts refunded for want of a verdict, unless later ones were reserved', async () => {
    t = Date.parse('2030-01-01T00:00:00.000Z');
    const throttle = throttleAt();
    for (let i = 0; i < 20; i++) await throttle.refund(await throttle.reserve('k'));
    expect((await throttle.reserve('k')).attempts).toBe(1);
    const early = await throttle.reserve('k');
    await throttle.reserve('k');
    await throttle.refund(early);
    expect((await throttle.reserve('k')).attempts).toBe(4);
  });

  it('forgets idle keys and prunes them once out of backoff', async () => {
    t = Date.parse('2030-01-01T00:00:00.000Z');
    const throttle = throttleAt();
    for (let i = 0; i < 12; i++) await throttle.reserve(`k${i}`).catch(() => undefined);
    for (let i = 0; i < 12; i++) await throttle.reserve('locked').catch(() => undefined);
    await refusal(throttle.reserve('locked'));
    expect(await throttle.prune()).toBe(0);
    t += 60 * 60_000 + 1;
    expect((await throttle.reserve('locked')).attempts).toBe(1);
    expect(await throttle.prune()).toBe(12);
    const left = await store().db.selectFrom('login_throttle').select('key').execute();
    expect(left.map((r) => r.key)).toEqual(['locked']);
  });
});
