import { describe, expect, it } from 'vitest';
import { deleteWhere, sharedReads, ttlCache } from './cache.ts';

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

describe('sharedReads', () => {
  it('runs one read per key for concurrent callers, a new one once it settled, failures included', async () => {
    const shared = sharedReads<number>();
    let reads = 0;
    let release: (n: number) => void = () => undefined;
    const read = () => {
      reads++;
      return new Promise<number>((resolve) => (release = resolve));
    };
    const first = [shared('a', read), shared('a', read)];
    const other = shared('b', () => Promise.resolve(7));
    expect(reads).toBe(1);
    release(1);
    expect(await Promise.all([...first, other])).toEqual([1, 1, 7]);
    await expect(shared('a', () => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
    expect(await shared('a', () => Promise.resolve(2))).toBe(2);
  });
});
