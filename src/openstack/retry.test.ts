import { describe, expect, it } from 'vitest';
import { defaultRetryPolicy, parseRetryAfter, retryDecision, type RetryPolicy } from './retry.ts';

const policy: RetryPolicy = { ...defaultRetryPolicy, random: () => 0.5 };
const now = Date.parse('2026-11-23T12:00:00Z');
const base = { attempt: 1, now };

describe('retryDecision', () => {
  it('retries 429 for any method and honours Retry-After in seconds', () => {
    for (const method of ['GET', 'POST', 'PATCH', 'DELETE']) {
      expect(
        retryDecision({ ...base, method, status: 429, errorKind: 'http', retryAfterHeader: '3' }, policy),
      ).toEqual({ retry: true, delayMs: 3000 });
    }
  });

  it('honours an HTTP-date Retry-After and caps long asks', () => {
    const date = new Date(now + 5000).toUTCString();
    expect(
      retryDecision(
        { ...base, method: 'GET', status: 429, errorKind: 'http', retryAfterHeader: date },
        policy,
      ),
    ).toEqual({
      retry: true,
      delayMs: 5000,
    });
    expect(
      retryDecision(
        { ...base, method: 'GET', status: 429, errorKind: 'http', retryAfterHeader: '3600' },
        policy,
      ),
    ).toEqual({ retry: true, delayMs: policy.maxRetryAfterMs });
  });

  it('backs off exponentially with jitter when 429 has no usable Retry-After', () => {
    const d = (attempt: number, random: number) =>
      retryDecision(
        { attempt, now, method: 'GET', status: 429, errorKind: 'http', retryAfterHeader: 'soon' },
        { ...policy, random: () => random },
      ).delayMs;
    expect(d(1, 0)).toBe(250);
    expect(d(1, 0.999999)).toBe(500);
    expect(d(2, 0.5)).toBe(750);
    expect(d(3, 0.5)).toBe(1500);
    expect(
      retryDecision(
        { attempt: 3, now, method: 'GET', status: 429, errorKind: 'http' },
        { ...policy, maxAttempts: 10, maxDelayMs: 1000 },
      ).delayMs,
    ).toBe(750);
  });

  it('retries 5xx only for idempotent calls', () => {
    for (const status of [500, 502, 503, 504]) {
      for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
        expect(retryDecision({ ...base, method, status, errorKind: 'http' }, policy).retry).toBe(true);
      }
      expect(retryDecision({ ...base, method: 'POST', status, errorKind: 'http' }, policy).retry).toBe(false);
      expect(retryDecision({ ...base, method: 'PATCH', status, errorKind: 'http' }, policy).retry).toBe(
        false,
      );
      expect(
        retryDecision({ ...base, method: 'POST', idempotent: true, status, errorKind: 'http' }, policy).retry,
      ).toBe(true);
    }
    expect(retryDecision({ ...base, method: 'GET', status: 501, errorKind: 'http' }, policy).retry).toBe(
      false,
    );
  });

  it('waits at least what a 503 Retry-After asks', () => {
    expect(
      retryDecision({ ...base, method: 'GET', status: 503, errorKind: 'http', retryAfterHeader: '4' }, policy)
        .delayMs,
    ).toBe(4000);
  });

  it('retries timeouts and connection failures only for idempotent calls', () => {
    for (const errorKind of ['timeout', 'connection'] as const) {
      expect(retryDecision({ ...base, method: 'GET', errorKind }, policy)).toEqual({
        retry: true,
        delayMs: 375,
      });
      expect(retryDecision({ ...base, method: 'POST', errorKind }, policy).retry).toBe(false);
      expect(retryDecision({ ...base, method: 'post', idempotent: true, errorKind }, policy).retry).toBe(
        true,
      );
    }
  });

  it('never retries 401, 403 or other 4xx', () => {
    for (const status of [400, 401, 403, 404, 409, 413, 422]) {
      for (const method of ['GET', 'POST']) {
        expect(retryDecision({ ...base, method, status, errorKind: 'http' }, policy)).toEqual({
          retry: false,
          delayMs: 0,
        });
      }
    }
  });

  it('stops at maxAttempts', () => {
    expect(
      retryDecision({ ...base, attempt: 3, method: 'GET', status: 429, errorKind: 'http' }, policy).retry,
    ).toBe(true);
    expect(
      retryDecision({ ...base, attempt: 4, method: 'GET', status: 429, errorKind: 'http' }, policy).retry,
    ).toBe(false);
    expect(
      retryDecision(
        { ...base, attempt: 1, method: 'GET', status: 503, errorKind: 'http' },
        { ...policy, maxAttempts: 1 },
      ).retry,
    ).toBe(false);
  });
});

describe('parseRetryAfter', () => {
  it('parses seconds, fractional seconds, dates, past dates and garbage', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 2 ', now)).toBe(2000);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
    expect(parseRetryAfter(new Date(now - 10_000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('later', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
