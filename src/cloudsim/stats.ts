/** API call counters, so benchmarks can report how many calls an operation cost. */
export interface CloudsimStats {
  total: number;
  byService: Record<string, number>;
  /** Keyed `METHOD /prefix/template`, e.g. `POST /compute/v2.1/servers`. */
  byRoute: Record<string, number>;
  count(service: string, route: string): void;
  reset(): void;
}

export function createStats(): CloudsimStats {
  const stats: CloudsimStats = {
    total: 0,
    byService: {},
    byRoute: {},
    count(service, route) {
      stats.total += 1;
      stats.byService[service] = (stats.byService[service] ?? 0) + 1;
      stats.byRoute[route] = (stats.byRoute[route] ?? 0) + 1;
    },
    reset() {
      stats.total = 0;
      stats.byService = {};
      stats.byRoute = {};
    },
  };
  return stats;
}
