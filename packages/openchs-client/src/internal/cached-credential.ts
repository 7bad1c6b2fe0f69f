import type { Clock } from "@openchs-bridge/core";
import { type AuthStrategy, createSingleFlight } from "@openchs-bridge/core/upstream";

/** What a login produced. */
export interface IssuedCredential {
  value: string;
  /** Epoch ms after which the upstream no longer accepts it, when the upstream said so. */
  expiresAt?: number | undefined;
}

export interface CachedCredentialOptions {
  /** Performs the login. Runs at most once at a time, shared by every caller waiting for it. */
  login: () => Promise<IssuedCredential>;
  /** The headers that carry the credential, e.g. `{ authorization: "Bearer <v>" }`. */
  header: (value: string) => Record<string, string>;
  clock: Clock;
  /** For a session that stays alive while used (the helpline's 10 h): its idle lifetime. */
  slidingTtlMs?: number | undefined;
  /** Renew this long before the credential would expire. Default: 10% of its lifetime, at most `maxDefaultMarginMs`. */
  refreshMarginMs?: number | undefined;
  maxDefaultMarginMs: number;
  /** The error a caller gets when its own signal fires while it waits for the shared login. */
  abortError: () => Error;
}

/** An {@link AuthStrategy} that also learns when its credential was last used successfully. */
export interface CachedCredentialAuth extends AuthStrategy {
  /** A call made at `at` (epoch ms) with the current credential succeeded: a sliding session lives on. */
  touch(at: number): void;
  /** Forgets the credential; the next call logs in. */
  clear(): void;
}

interface Held {
  value: string;
  issuedAt: number;
  lastUsedAt: number;
  expiresAt: number | undefined;
}

/**
 * A credential obtained by a login, cached and reused (Octokit's auth-app pattern): one in-flight
 * login shared by all concurrent callers, renewed ahead of expiry by a margin, dropped on 401 only
 * when it is still the one that was sent. A failed login is not retried here: every caller waiting
 * for it gets its error, and the next call may try again.
 */
export function createCachedCredentialAuth(options: CachedCredentialOptions): CachedCredentialAuth {
  const flight = createSingleFlight<Held>();
  let current: Held | undefined;

  function validUntil(held: Held): number {
    const sliding =
      options.slidingTtlMs === undefined ? Number.POSITIVE_INFINITY : held.lastUsedAt + options.slidingTtlMs;
    return Math.min(sliding, held.expiresAt ?? Number.POSITIVE_INFINITY);
  }

  function isFresh(held: Held): boolean {
    const until = validUntil(held);
    if (until === Number.POSITIVE_INFINITY) return true;
    const lifetime = options.slidingTtlMs ?? until - held.issuedAt;
    const margin = options.refreshMarginMs ?? Math.min(options.maxDefaultMarginMs, Math.max(0, lifetime) * 0.1);
    return options.clock.now() < until - margin;
  }

  function login(): Promise<Held> {
    return flight("login", async () => {
      const issuedAt = options.clock.now();
      const issued = await options.login();
      const held: Held = { value: issued.value, issuedAt, lastUsedAt: issuedAt, expiresAt: issued.expiresAt };
      current = held;
      return held;
    });
  }

  return {
    async headers(signal) {
      if (signal?.aborted) throw options.abortError();
      const held = current && isFresh(current) ? current : await waitFor(login(), signal, options.abortError);
      return options.header(held.value);
    },
    invalidate(sent) {
      if (!current) return;
      const expected = options.header(current.value);
      if (Object.entries(expected).every(([name, value]) => sent[name] === value)) current = undefined;
    },
    touch(at) {
      if (current && at >= current.issuedAt) current.lastUsedAt = Math.max(current.lastUsedAt, at);
    },
    clear() {
      current = undefined;
    },
  };
}

/** Waits for a shared promise, giving up (for this caller only) when its signal fires. */
function waitFor<T>(promise: Promise<T>, signal: AbortSignal | undefined, abortError: () => Error): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
