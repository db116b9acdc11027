import { Counter, Gauge, Registry, type Metric } from 'prom-client';

/** The auth service's Prometheus metrics, on a registry of its own (no global default registry). */
export interface AuthMetrics {
  registry: Registry;
  /** Counts and times a TokenReview (kaas_tokenreview_total, kaas_tokenreview_duration_seconds). */
  observeReview(result: ReviewResultLabel, seconds: number): void;
  keystoneCalls: Counter<'operation' | 'outcome'>;
  syncFailures: Counter;
  /** TokenReviews refused because the Keystone mirror is older than the configured bound. */
  staleSyncRefusals: Counter;
  /** Seconds since the last fully successful sync, computed when scraped. */
  syncAge: Gauge;
}

/** Creates the metrics; `lastSyncAt` feeds the sync-age gauge at scrape time. */
export function createAuthMetrics(options: {
  now: () => Date;
  lastSyncAt: () => Date | undefined;
}): AuthMetrics {
  const registry = new Registry();
  return {
    registry,
    observeReview: reviewMetrics(registry),
    keystoneCalls: new Counter({
      name: 'kaas_keystone_calls_total',
      help: 'Calls to Keystone by operation and outcome (ok, error)',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    }),
    syncFailures: new Counter({
      name: 'kaas_keystone_sync_failures_total',
      help: 'Keystone sync rounds that failed (the last good data is kept)',
      registers: [registry],
    }),
    staleSyncRefusals: new Counter({
      name: 'kaas_tokenreview_stale_sync_total',
      help: 'TokenReviews refused (fail closed) because the last successful Keystone sync is older than KAAS_KEYSTONE_SYNC_MAX_AGE_MS',
      registers: [registry],
    }),
    syncAge: new Gauge({
      name: 'kaas_keystone_sync_age_seconds',
      help: 'Seconds since the last successful Keystone sync (-1 before the first one)',
      registers: [registry],
      collect() {
        const last = options.lastSyncAt();
        this.set(last ? (options.now().getTime() - last.getTime()) / 1000 : -1);
      },
    }),
  };
}

/** How a TokenReview ended, the `result` label of its metrics. */
export type ReviewResultLabel = 'authenticated' | 'rejected' | 'error';

const REVIEW_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1];

/**
 * TokenReview counts and durations by result, tallied in plain numbers: prom-client's labelled
 * inc and observe validate and hash their labels on every call (its bound children too), a few
 * µs of a review answered in tens. Scrapes read the tallies: kaas_tokenreview_total through a
 * Counter's collect(), kaas_tokenreview_duration_seconds as a metric of its own whose values are
 * those a prom-client Histogram gives (metrics.test.ts compares them). Returns the observer.
 */
function reviewMetrics(registry: Registry): AuthMetrics['observeReview'] {
  const tally = (): { buckets: number[]; sum: number; count: number } => ({
    buckets: REVIEW_BUCKETS.map(() => 0),
    sum: 0,
    count: 0,
  });
  const series = { authenticated: tally(), rejected: tally(), error: tally() };
  const observed = () => Object.entries(series).filter(([, s]) => s.count > 0);
  new Counter({
    name: 'kaas_tokenreview_total',
    help: 'TokenReview requests answered, by result (authenticated, rejected, error)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [result, s] of observed()) this.inc({ result }, s.count);
    },
  });
  const name = 'kaas_tokenreview_duration_seconds';
  const durations = {
    name,
    help: 'Time to answer a TokenReview',
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({
      name,
      help: durations.help,
      type: durations.type,
      aggregator: durations.aggregator,
      values: observed().flatMap(([result, s]) => {
        let below = 0;
        return [
          ...REVIEW_BUCKETS.map((le, i) => ({
            labels: { le, result },
            value: (below += s.buckets[i] ?? 0),
            metricName: `${name}_bucket`,
          })),
          { labels: { le: '+Inf', result }, value: s.count, metricName: `${name}_bucket` },
          { labels: { result }, value: s.sum, metricName: `${name}_sum` },
          { labels: { result }, value: s.count, metricName: `${name}_count` },
        ];
      }),
    }),
  };
  registry.registerMetric(durations as unknown as Metric);
  return (result, seconds) => {
    const s = series[result];
    s.count++;
    s.sum += seconds;
    const bucket = REVIEW_BUCKETS.findIndex((le) => seconds <= le);
    if (bucket >= 0) s.buckets[bucket] = (s.buckets[bucket] ?? 0) + 1;
  };
}
