/** Clock and sleep the appliers poll with; injected so tests can run waits fast. */
export interface PollDeps {
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
}

/** How long to wait for things the cluster does on its own, and how often to look. */
export interface WaitOptions {
  /** Deadline for the workloads of one service to become ready. */
  readinessMs: number;
  /** Deadline for a CRD to be established and its kind served. */
  crdMs: number;
  pollMs: number;
}

/** Defaults sized for real clusters: image pulls and volume attachment take minutes. */
export const DEFAULT_WAIT: WaitOptions = { readinessMs: 10 * 60_000, crdMs: 60_000, pollMs: 2_000 };

/** Real sleeping, for production deps. */
export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `check` until it returns true or `timeoutMs` passes (then returns false). Checks at least
 * once, and once more at the deadline, so a zero timeout still looks.
 */
export async function pollUntil(
  deps: PollDeps,
  timeoutMs: number,
  pollMs: number,
  check: () => Promise<boolean>,
): Promise<boolean> {
  const deadline = deps.now().getTime() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    const left = deadline - deps.now().getTime();
    if (left <= 0) return false;
    await deps.sleep(Math.min(pollMs, left));
  }
}
