/**
 * A bounded map with a time-to-live per entry: keeps the TokenReview hot path off the database
 * without letting memory grow with the number of distinct tokens seen. Oldest entries go first.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  constructor(private readonly options: { max: number; ttlMs: number; now: () => number }) {}

  get(key: string): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.until <= this.options.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, until: this.options.now() + this.options.ttlMs });
    while (this.entries.size > this.options.max) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** Drops every entry the predicate selects (token deleted, user changed). */
  deleteWhere(predicate: (key: string, value: V) => boolean): void {
    for (const [key, { value }] of this.entries) if (predicate(key, value)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
