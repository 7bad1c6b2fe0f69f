/** Keys remembered at most; past it, keys with no recent failure go first, then the oldest. */
const MAX_KEYS = 10_000;

/**
 * Counts failed logins per key in a sliding window; a key with `max` failures in the window is
 * refused until its oldest failure leaves the window. In memory, per instance: a brute-force
 * attempt spread over several instances is still slowed by each.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Seconds until `key` may try again, or undefined when it may try now. */
  retryAfterS(key: string): number | undefined {
    const recent = this.recent(key);
    if (recent.length < this.max) return undefined;
    return Math.max(1, Math.ceil((recent[0]! + this.windowMs - this.now()) / 1000));
  }

  fail(key: string): void {
    const recent = this.recent(key);
    recent.push(this.now());
    // Re-inserted, so the Map's order is the order of last failure: the oldest are forgotten first.
    this.failures.delete(key);
    this.failures.set(key, recent.slice(-this.max));
    if (this.failures.size > MAX_KEYS) this.sweep();
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }

  /** Keys currently remembered (for tests of the memory bound). */
  get size(): number {
    return this.failures.size;
  }

  private recent(key: string): number[] {
    const since = this.now() - this.windowMs;
    return (this.failures.get(key) ?? []).filter((t) => t > since);
  }

  private sweep(): void {
    for (const key of [...this.failures.keys()]) {
      if (this.recent(key).length === 0) this.failures.delete(key);
    }
    // Still full of recent failures (many addresses at once): forget the keys that failed longest ago.
    for (const key of this.failures.keys()) {
      if (this.failures.size <= MAX_KEYS * 0.9) break;
      this.failures.delete(key);
    }
  }
}
