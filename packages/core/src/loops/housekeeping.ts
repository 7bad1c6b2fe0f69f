import type { BridgeEvents } from "../conversations/events";
import { toEventError } from "../conversations/events";
import type { Clock } from "../ports/clock";
import type { PurgeResult, Store } from "../store/store";
import { Loop } from "./loop";

/** What housekeeping needs of the bridge's options. */
export interface HousekeepingOptions {
  store: Store;
  clock: Clock;
  /** Undefined when conversations are kept until erased. */
  retention: { closedAfterMs: number; sweepIntervalMs: number } | undefined;
}

/** How often expired tokens are deleted when retention (and its own interval) is off: hourly. */
export const TOKEN_SWEEP_INTERVAL_MS = 3_600_000;

/** What one housekeeping sweep deleted. */
export interface SweepResult {
  /** Expired access tokens deleted; undefined when that failed. */
  tokens: number | undefined;
  /** With retention on: what `purgeClosedBefore` did; undefined when retention is off or it failed. */
  retention: PurgeResult | undefined;
}

/**
 * Housekeeping, always running between `start()` and `stop()`: at start and then every interval it
 * deletes expired access tokens (`store.deleteExpiredTokens`, reported as `tokens.purged`) and, with
 * the `retention` option set, conversations closed longer ago than `retention.closedAfterDays` with
 * their messages and dead letters (`store.purgeClosedBefore`, reported as `retention.purged`). A
 * closed conversation that still has a pending job is kept, and counted as `pendingSkipped`, until
 * its jobs are delivered or dead-lettered. The interval is `retention.sweepIntervalMs`, or hourly
 * without retention. A failed part is reported as an `error` event and tried again at the next sweep.
 */
export class RetentionSweeper {
  private readonly loop: Loop;

  constructor(
    private readonly options: HousekeepingOptions,
    private readonly events: BridgeEvents,
  ) {
    this.loop = new Loop({
      tick: async () => {
        await this.sweep();
      },
      nextDelay: async () => this.intervalMs,
      onError: (error) => this.reportError("housekeeping", error),
    });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /**
   * One sweep: expired tokens, then (with retention on) old closed conversations, each reported when
   * it deleted or skipped any. A part that fails is reported as an `error` event (`where`: `tokens`
   * or `retention`) and left undefined in the result; the other part runs all the same.
   */
  async sweep(): Promise<SweepResult> {
    const now = this.options.clock.now();
    const tokens = await this.options.store.deleteExpiredTokens(now).then(
      (count) => {
        if (count > 0) this.events.emit("tokens.purged", { count });
        return count;
      },
      (error: unknown) => this.reportError("tokens", error),
    );
    const retention = this.options.retention;
    if (!retention) return { tokens, retention: undefined };
    const closedBefore = new Date(now - retention.closedAfterMs).toISOString();
    const purged = await this.options.store.purgeClosedBefore(closedBefore).then(
      (result) => {
        if (result.conversations > 0 || result.deadLetters > 0 || result.pendingSkipped > 0) {
          this.events.emit("retention.purged", { ...result, closedBefore });
        }
        return result;
      },
      (error: unknown) => this.reportError("retention", error),
    );
    return { tokens, retention: purged };
  }

  private reportError(where: string, error: unknown): undefined {
    this.events.emit("error", { where, error: toEventError(error) });
    return undefined;
  }

  private get intervalMs(): number {
    return this.options.retention?.sweepIntervalMs ?? TOKEN_SWEEP_INTERVAL_MS;
  }
}
