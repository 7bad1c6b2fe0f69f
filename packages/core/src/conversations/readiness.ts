import type { Store } from "../store/store";

/**
 * Whether this instance should be sent traffic (`GET {base}ready`), with the outbox figures an
 * operator watches. `health` stays the liveness check: a store that does not answer makes an
 * instance unready, not dead.
 */
export interface Readiness {
  /** `ready`: the store answers and the bridge is not stopping. */
  status: "ready" | "unavailable" | "stopping";
  /** Jobs waiting or in flight; null when the store did not answer. */
  outbox_pending: number | null;
  /** Age of the oldest pending job in whole seconds (0 when none); null when the store did not answer. */
  oldest_pending_age_s: number | null;
  /** Dead-lettered jobs; null when the store did not answer. */
  dead_letters: number | null;
}

/** Reads readiness from the store's outbox figures (one cheap, indexed query). */
export async function readReadiness(store: Store, now: number, stopping: boolean): Promise<Readiness> {
  try {
    const stats = await store.outboxStats(now);
    return {
      status: stopping ? "stopping" : "ready",
      outbox_pending: stats.pending,
      oldest_pending_age_s:
        stats.oldestPendingAt === undefined ? 0 : Math.max(0, Math.floor((now - stats.oldestPendingAt) / 1000)),
      dead_letters: stats.deadLetters,
    };
  } catch {
    // A closed or unreachable store: the figures are unknown, never guessed.
    return {
      status: stopping ? "stopping" : "unavailable",
      outbox_pending: null,
      oldest_pending_age_s: null,
      dead_letters: null,
    };
  }
}
