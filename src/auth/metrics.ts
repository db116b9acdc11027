import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The auth service's Prometheus metrics, on a registry of its own (no global default registry). */
export interface AuthMetrics {
  registry: Registry;
  tokenReviews: Counter<'result'>;
  tokenReviewSeconds: Histogram<'result'>;
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
    tokenReviews: new Counter({
      name: 'kaas_tokenreview_total',
      help: 'TokenReview requests answered, by result (authenticated, rejected, error)',
      labelNames: ['result'],
      registers: [registry],
    }),
    tokenReviewSeconds: new Histogram({
      name: 'kaas_tokenreview_duration_seconds',
      help: 'Time to answer a TokenReview',
      labelNames: ['result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    }),
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

/** The counter and histogram children of one TokenReview result, to bind once. */
export function reviewOutcome(metrics: AuthMetrics, result: 'authenticated' | 'rejected' | 'error') {
  return { count: metrics.tokenReviews.labels(result), seconds: metrics.tokenReviewSeconds.labels(result) };
}
