import { LoginLimiter } from "./login-limiter";

/** Failed logins allowed within the window: per (username, address) pair, and per address. */
export interface LoginRateLimit {
  /** Per (username, address) pair; per username when the host gives no address. */
  max: number;
  /** Per address, whatever the username: the ceiling for one address guessing many usernames. */
  maxPerAddress: number;
  windowMs: number;
}

/** Which limit refused a login. */
export type ThrottleScope = "consumer" | "address";

/**
 * Login throttling that cannot lock the helpline out: a wrong password counts against its
 * (username, address) pair, so guessing consumer X's password from address A never refuses
 * consumer Y's correct login from A; and against A, whose higher ceiling stops one address from
 * guessing many usernames. A pair that is refused stops counting against its address, so one
 * misconfigured caller adds at most `max` to it per window: reaching `maxPerAddress` takes
 * `maxPerAddress / max` usernames failing from the same address.
 */
export class LoginThrottle {
  private readonly pairs: LoginLimiter;
  private readonly addresses: LoginLimiter;

  constructor(limit: LoginRateLimit, now: () => number) {
    this.pairs = new LoginLimiter(limit.max, limit.windowMs, now);
    this.addresses = new LoginLimiter(limit.maxPerAddress, limit.windowMs, now);
  }

  /** Undefined when the login may be tried now; else how long to wait and which limit refused it. */
  check(username: string, address: string | undefined): { retryAfterS: number; scope: ThrottleScope } | undefined {
    const pair = this.pairs.retryAfterS(pairKey(username, address));
    const perAddress = address === undefined ? undefined : this.addresses.retryAfterS(address);
    if (pair === undefined && perAddress === undefined) return undefined;
    if ((perAddress ?? 0) > (pair ?? 0)) return { retryAfterS: perAddress!, scope: "address" };
    return { retryAfterS: pair!, scope: "consumer" };
  }

  failed(username: string, address: string | undefined): void {
    this.pairs.fail(pairKey(username, address));
    if (address !== undefined) this.addresses.fail(address);
  }

  /**
   * Clears the pair only: the address keeps its count, or a caller with one valid login could wipe
   * the failures of its guesses at other consumers.
   */
  succeeded(username: string, address: string | undefined): void {
    this.pairs.succeed(pairKey(username, address));
  }
}

/** Unambiguous whatever characters the username holds. */
const pairKey = (username: string, address: string | undefined) => JSON.stringify([username, address ?? null]);
