import type { BridgeEvents } from "./events";
import { toEventError } from "./events";
import type { ResolvedOptions } from "./options";

/**
 * Retention: deletes conversations closed longer ago than `retention.closedAfterDays` (with their
 * messages and jobs), at start and then every `sweepIntervalMs`, through the store's
 * `purgeClosedBefore`, reporting each sweep that deleted any as `retention.purged`. Off unless the
 * `retention` option is set. A failed sweep is reported as an `error` event and tried again at the
 * next interval.
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
    if (this.running || !this.options.retention) return;
    this.running = true;
    this.tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.sweeping;
  }

  /**
   * Deletes every conversation closed before now minus the retention period; returns how many, and
   * reports a sweep that deleted any as `retention.purged`.
   */
  async sweep(): Promise<number> {
    const retention = this.options.retention;
    if (!retention) return 0;
    const closedBefore = new Date(this.options.clock.now() - retention.closedAfterMs).toISOString();
    const conversations = await this.options.store.purgeClosedBefore(closedBefore);
    if (conversations > 0) this.events.emit("retention.purged", { conversations, closedBefore });
    return conversations;
  }

  private tick(): void {
    if (!this.running) return;
    this.sweeping = this.sweep()
      .catch((error) => this.events.emit("error", { where: "retention", error: toEventError(error) }))
      .finally(() => {
        this.sweeping = undefined;
        if (!this.running) return;
        this.timer = setTimeout(() => this.tick(), this.options.retention!.sweepIntervalMs);
        (this.timer as { unref?: () => void }).unref?.();
      });
  }
}
