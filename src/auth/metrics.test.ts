import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createAuthMetrics } from './metrics.ts';

describe('TokenReview metrics', () => {
  it('scrape as prom-client would write them: counts by result and the same histogram', async () => {
    const metrics = createAuthMetrics({ now: () => new Date(), lastSyncAt: () => undefined });
    const reference = new Registry();
    const histogram = new Histogram({
      name: 'kaas_tokenreview_duration_seconds',
      help: 'Time to answer a TokenReview',
      labelNames: ['result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers: [reference],
    });
    const observations = [
      ['rejected', 0.7],
      ['authenticated', 0.0003],
      ['authenticated', 0.0005],
      ['authenticated', 0.002],
      ['rejected', 3],
    ] as const;
    // Nothing observed: no series at all, as prom-client.
    expect(await metrics.registry.getSingleMetricAsString('kaas_tokenreview_duration_seconds')).toBe(
      await reference.getSingleMetricAsString('kaas_tokenreview_duration_seconds'),
    );
    for (const [result, seconds] of observations) {
      metrics.observeReview(result, seconds);
      histogram.observe({ result }, seconds);
    }
    const lines = (text: string) => text.split('\n').sort();
    expect(
      lines(await metrics.registry.getSingleMetricAsString('kaas_tokenreview_duration_seconds')),
    ).toEqual(lines(await reference.getSingleMetricAsString('kaas_tokenreview_duration_seconds')));
    const counts = await metrics.registry.getSingleMetricAsString('kaas_tokenreview_total');
    expect(counts).toContain('kaas_tokenreview_total{result="authenticated"} 3');
    expect(counts).toContain('kaas_tokenreview_total{result="rejected"} 2');
    expect(counts).not.toContain('result="error"');
    // And as JSON (getMetricsAsJSON), in any order.
    const values = async (registry: Registry) => {
      const metric = (await registry.getMetricsAsJSON()).find(
        (m) => m.name === 'kaas_tokenreview_duration_seconds',
      );
      return metric?.values
        .map((v) => {
          const { labels, value, metricName } = v as typeof v & { metricName?: string };
          return JSON.stringify({ labels, metricName, value });
        })
        .sort();
    };
    expect(await values(metrics.registry)).toEqual(await values(reference));
  });
});
