/**
 * A scripted failure: requests matching every given criterion get `status` (or a dropped connection)
 * instead of being served, `times` times. Faults are applied before the request body is read and before
 * any handler runs, so a faulted call never changes state.
 */
export interface Fault {
  /** Service name as in `stats.byService`: identity, compute, image, network, object-store, load-balancer, volume. */
  service?: string;
  method?: string;
  /** Matched against the path below the service prefix and the full path; a string must occur in it. */
  path?: RegExp | string;
  status: number;
  /** How many requests this fault answers; default 1. */
  times?: number;
  retryAfter?: number;
  body?: unknown;
  dropConnection?: boolean;
}

/** Finds the first live fault for the request and counts it down (removing it when spent). */
export function takeFault(
  faults: Fault[],
  req: { service: string; method: string; path: string; fullPath: string },
): Fault | undefined {
  const index = faults.findIndex((f) => matches(f, req));
  if (index < 0) return undefined;
  const fault = faults[index] as Fault;
  const left = (fault.times ?? 1) - 1;
  if (left <= 0) faults.splice(index, 1);
  else fault.times = left;
  return fault;
}

function matches(
  f: Fault,
  req: { service: string; method: string; path: string; fullPath: string },
): boolean {
  if (f.service !== undefined && f.service !== req.service) return false;
  if (f.method !== undefined && f.method.toUpperCase() !== req.method) return false;
  if (f.path === undefined) return true;
  if (typeof f.path === 'string') return req.path.includes(f.path) || req.fullPath.includes(f.path);
  return f.path.test(req.path) || f.path.test(req.fullPath);
}
