import { describe, expect, it } from 'vitest';
import { TtlCache } from './cache.ts';

describe('TtlCache', () => {
  it('expires entries after the TTL', () => {
    let t = 0;
    const c = new TtlCache<number>({ max: 10, ttlMs: 100, now: () => t });
    c.set('a', 1);
    t = 99;
    expect(c.get('a')).toBe(1);
    t = 100;
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(0);
  });
  it('evicts the oldest beyond max and deletes by predicate', () => {
    const c = new TtlCache<number>({ max: 2, ttlMs: 100, now: () => 0 });
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3);
    expect(c.get('a')).toBeUndefined();
    c.deleteWhere((_k, v) => v === 2);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('c')).toBe(3);
    c.clear();
    expect(c.size).toBe(0);
  });
});
