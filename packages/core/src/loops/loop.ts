/** The work of one background loop: a round, and when the next one is due. */
export interface LoopBody {
  /** One round of work. Reports its own failures (an `error` event); should not throw. */
  tick(): Promise<void>;
  /**
   * Milliseconds until the next round, asked after each one; undefined to sleep until `wake()`
   * (e.g. every delivery slot is busy, and a freed slot wakes the loop).
   */
  nextDelay(): Promise<number | undefined>;
  /** A round that threw after all: reported here, and the loop goes on. */
  onError(error: unknown): void;
}

/**
 * The start/stop/wake scaffold of the bridge's background loops (delivery, hunting deadlines,
 * housekeeping): one round at a time; after a round, a timer for the next one (unref'd, so it never
 * holds a process open); `wake()` runs a round now; `stop()` cancels the timer and waits for the round
 * in flight. With `rerunWhenWoken`, a wake that arrives during a round runs another right after it
 * (the delivery loop: new work was enqueued meanwhile); without, the round in flight stands for it.
 */
export class Loop {
  private active = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private current: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly body: LoopBody,
    private readonly options: { rerunWhenWoken?: boolean } = {},
  ) {}

  /** Between `start()` and `stop()`. */
  get running(): boolean {
    return this.active;
  }

  /** Starts the loop with a round now. Starting a running loop does nothing. */
  start(): void {
    if (this.active) return;
    this.active = true;
    this.wake();
  }

  /** Runs a round now (or, with `rerunWhenWoken`, right after the one in flight). Stopped: nothing. */
  wake(): void {
    if (!this.active) return;
    if (this.current) {
      if (this.options.rerunWhenWoken) this.again = true;
      return;
    }
    this.current = this.round().finally(() => {
      this.current = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      } else void this.scheduleNext();
    });
  }

  /** No further rounds; resolves when the round in flight, if any, is over. */
  async stop(): Promise<void> {
    this.active = false;
    this.again = false;
    clearTimeout(this.timer);
    await this.current;
  }

  private async round(): Promise<void> {
    try {
      await this.body.tick();
    } catch (error) {
      this.body.onError(error);
    }
  }

  private async scheduleNext(): Promise<void> {
    if (!this.active) return;
    clearTimeout(this.timer);
    let delay: number | undefined;
    try {
      delay = await this.body.nextDelay();
    } catch (error) {
      this.body.onError(error);
      return;
    }
    if (delay === undefined || !this.active) return;
    this.timer = setTimeout(() => this.wake(), delay);
    (this.timer as { unref?: () => void }).unref?.();
  }
}
