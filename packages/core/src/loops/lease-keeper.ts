import { OpenChsBridgeError } from "../errors/openchs-bridge-error";
import type { Clock } from "../ports/clock";
import type { Store } from "../store/store";

/**
 * Keeps a claimed job's lease alive while it runs: renews it every third of `leaseMs`, so the lease
 * can be short (an instance killed mid-attempt holds its lanes for about `leaseMs`, not a whole
 * burst) yet never lapse under a slow attempt, quick retries or a `Retry-After` sleep.
 *
 * `lost` fires when the store says the lease is no longer ours (another instance claimed the job
 * after a lapse), or when renewals keep failing until it has run out: the attempt must then stop
 * and record nothing, for the job is someone else's now.
 */
export class LeaseKeeper {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private heldUntil: number;

  constructor(
    private readonly store: Pick<Store, "renewLease">,
    private readonly clock: Clock,
    private readonly jobId: number,
    private readonly owner: string,
    private readonly leaseMs: number,
    leaseUntil: number | undefined,
  ) {
    this.heldUntil = leaseUntil ?? clock.now() + leaseMs;
    this.schedule();
  }

  /** Fires when the lease is lost. */
  get lost(): AbortSignal {
    return this.controller.signal;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    // A chain of timeouts, not an interval: a slow store never has two renewals of one job in flight.
    this.timer = setTimeout(() => void this.renew(), Math.max(1, Math.floor(this.leaseMs / 3)));
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    const until = this.clock.now() + this.leaseMs;
    try {
      const held = await this.store.renewLease(this.jobId, this.owner, until);
      if (this.stopped) return;
      if (!held) return this.lose();
      this.heldUntil = until;
    } catch {
      // The store did not answer: the lease may still hold; give up only once it has run out.
      if (this.stopped) return;
      if (this.clock.now() >= this.heldUntil) return this.lose();
    }
    this.schedule();
  }

  private lose(): void {
    this.stopped = true;
    this.controller.abort(new LeaseLost());
  }
}

/** The job's lease was lost: another instance may be delivering it now. */
export class LeaseLost extends OpenChsBridgeError {
  override name = "LeaseLost";
  constructor() {
    super("lease_lost", "the job's lease was lost to another worker");
  }
}
