import type { PurgeResult } from "../store/store";
import type { BridgeEvents } from "./events";
import { toEventError } from "./events";
import type { ResolvedOptions } from "./options";

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
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private sweeping: Promise<unknown> | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly events: BridgeEvents,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.sweeping;
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

  private tick(): void {
    if (!this.running) return;
    this.sweeping = this.sweep()
      .catch((error: unknown) => this.reportError("housekeeping", error))
      .finally(() => {
        this.sweeping = undefined;
        if (!this.running) return;
        this.timer = setTimeout(() => this.tick(), this.intervalMs);
        (this.timer as { unref?: () => void }).unref?.();
      });
  }
}
