import { describe, expect, it } from 'vitest';
import { deleteWhere, ttlCache } from './cache.ts';

describe('ttlCache', () => {
  it('expires entries older than the TTL on the given clock', () => {
    let t = 1000;
    const c = ttlCache<{ n: number }>({ max: 10, ttlMs: 100, now: () => t });
    c.set('a', { n: 1 });
    t = 1100;
    expect(c.get('a')).toEqual({ n: 1 });
    t = 1101;
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(0);
  });
  it('evicts the least recently used beyond max and deletes by predicate', () => {
    const c = ttlCache<{ n: number }>({ max: 2, ttlMs: 100, now: () => 1000 });
    c.set('a', { n: 1 });
    c.set('b', { n: 2 });
    c.get('a');
    c.set('c', { n: 3 });
    expect(c.get('b')).toBeUndefined();
    expect(c.size).toBe(2);
    deleteWhere(c, (_k, v) => v.n === 1);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('c')).toEqual({ n: 3 });
    c.clear();
    expect(c.size).toBe(0);
  });
  it('never holds more than max entries', () => {
    const c = ttlCache<{ n: number }>({ max: 100, ttlMs: 60_000, now: () => 1000 });
    for (let n = 0; n < 10_000; n++) c.set(`k${n}`, { n });
    expect(c.size).toBe(100);
    expect(c.get('k9999')).toEqual({ n: 9999 });
  });
});
