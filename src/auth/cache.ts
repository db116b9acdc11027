import { LRUCache } from 'lru-cache';

/** What {@link ttlCache} returns: lru-cache's cache keyed by string. */
export type TtlCache<V extends NonNullable<unknown>> = LRUCache<string, V>;

/**
 * A bounded cache whose entries expire once older than `ttlMs` (lru-cache): keeps the TokenReview hot path off the
 * database without letting memory grow with the number of distinct keys seen; the least recently
 * used entry goes first. `now` is the service's clock, read on every access (no timer caches it),
 * so a test's clock moves entries past their TTL.
 */
export function ttlCache<V extends NonNullable<unknown>>(options: {
  max: number;
  ttlMs: number;
  now: () => number;
}): TtlCache<V> {
  return new LRUCache<string, V>({
    max: options.max,
    ttl: options.ttlMs,
    ttlResolution: 0,
    perf: { now: options.now },
  });
}

/** Drops every entry the predicate selects (token deleted, user changed). */
export function deleteWhere<V extends NonNullable<unknown>>(
  cache: TtlCache<V>,
  predicate: (key: string, value: V) => boolean,
): void {
  const doomed: string[] = [];
  for (const [key, value] of cache.entries()) if (predicate(key, value)) doomed.push(key);
  for (const key of doomed) cache.delete(key);
}

/**
 * A read shared by concurrent callers: while one read of a key is in flight, callers of the same
 * key get its promise instead of starting another. A cache that expires under load would
 * otherwise send one store read per waiting caller (all of them at once, on PostgreSQL).
 */
export function sharedReads<T>(): (key: string, read: () => Promise<T>) => Promise<T> {
  const inFlight = new Map<string, Promise<T>>();
  return (key, read) => {
    let pending = inFlight.get(key);
    if (!pending) {
      pending = read().finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  };
}
