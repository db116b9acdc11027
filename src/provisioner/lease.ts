/**
 * Keeping a claimed lease (a job's, a cluster's reconcile pass), and fencing: a holder that cannot
 * prove it still holds the lease must stop changing the cloud or cluster before the lease can
 * expire, because after expiry another replica may take over and two runners would then act on
 * one cluster.
 */
import type { Logger } from '../log.ts';

/** Dependencies of {@link keepLease}. */
export interface LeaseDeps {
  /**
   * Extends the lease to `leaseExpiresAt` (sent at `now`); false when it is no longer held (the
   * store's renew operation, e.g. renewJobLease).
   */
  renew(now: string, leaseExpiresAt: string): Promise<boolean>;
  /** Logs failed renewals; give it the holder's context (job or cluster id). */
  logger: Logger;
  now: () => Date;
  leaseMs: number;
  /** How often a renewal is sent. */
  heartbeatMs: number;
  /** When the lease was last set (the claim's time): the lease is good until this + `leaseMs`. */
  renewedAt: Date;
  /**
   * Called once when the lease is gone: another holder has it, or no renewal succeeded for
   * two thirds of the lease (database unreachable, renewals hanging).
   */
  onLost(why: string, error?: unknown): void;
}

/** A running lease keeper; `stop` ends its timers (the job finished or was given up). */
export interface LeaseKeeper {
  stop(): void;
}

/**
 * Renews the lease every `heartbeatMs` and fences: a renewal counts from when it was sent (the new
 * expiry is computed from that moment), and once none has succeeded for two thirds of the lease the
 * holder is told to stop, leaving a third of the lease for in-flight calls to notice the signal.
 */
export function keepLease(deps: LeaseDeps): LeaseKeeper {
  const fenceMs = Math.floor((deps.leaseMs * 2) / 3);
  let renewedAt = deps.renewedAt.getTime();
  let renewing = false;
  let over = false;
  const lose = (why: string, error?: unknown) => {
    if (over) return;
    over = true;
    stop();
    deps.onLost(why, error);
  };
  let lastError: unknown;

  const renew = () => {
    if (over || renewing) return;
    renewing = true;
    const sentAt = deps.now();
    deps
      .renew(sentAt.toISOString(), new Date(sentAt.getTime() + deps.leaseMs).toISOString())
      .then((held) => {
        if (held) renewedAt = Math.max(renewedAt, sentAt.getTime());
        else lose('the lease is no longer held here (taken over, or its work ended)');
      })
      .catch((error: unknown) => {
        lastError = error;
        deps.logger.warn({ err: error }, 'lease renewal failed');
      })
      .finally(() => {
        renewing = false;
      });
  };
  const fence = () => {
    const silentMs = deps.now().getTime() - renewedAt;
    if (silentMs >= fenceMs) {
      lose(`no lease renewal succeeded for ${silentMs} ms of a ${deps.leaseMs} ms lease`, lastError);
    }
  };

  const heartbeat = setInterval(renew, deps.heartbeatMs);
  // Checked more often than renewals are sent, so the stop comes well before expiry.
  const watchdog = setInterval(fence, Math.max(5, Math.floor(deps.leaseMs / 12)));
  heartbeat.unref();
  watchdog.unref();
  function stop() {
    over = true;
    clearInterval(heartbeat);
    clearInterval(watchdog);
  }
  return { stop };
}
