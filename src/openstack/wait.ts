import { UpstreamError } from '../errors.ts';

/** Clock and sleep a poller uses; injected so tests need not wait for real. */
export interface WaitDeps {
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** How long to poll and how often. */
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it returns a value (done) or throws (failed), for resources OpenStack builds
 * asynchronously (servers, load balancers, volumes). Times out with `openstack_wait_timeout` naming
 * the last state seen, so a stuck resource is visible in the message.
 */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<{ done: true; value: T } | { done: false; state: string }>,
  deps: WaitDeps = {},
  options: WaitOptions = {},
): Promise<T> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const intervalMs = options.intervalMs ?? 1_000;
  const deadline = now() + timeoutMs;
  for (;;) {
    const r = await check();
    if (r.done) return r.value;
    if (now() >= deadline) {
      throw new UpstreamError(
        `Gave up waiting after ${Math.round(timeoutMs / 1000)} s for ${what} (last state: ${r.state})`,
        {
          code: 'openstack_wait_timeout',
        },
      );
    }
    await sleep(intervalMs);
  }
}
