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
