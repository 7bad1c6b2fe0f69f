import { RETRIABLE_STATUSES } from "@openchs-bridge/core";

/** How an upstream client retries one call. Delays grow as `minDelayMs * factor^(n-1)`, capped. */
export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables retrying. */
  limit: number;
  minDelayMs: number;
  maxDelayMs: number;
  factor: number;
  /** Full jitter: each delay is drawn from [0, computed delay]. Not applied to `Retry-After`. */
  jitter: boolean;
  /** A `Retry-After` longer than this is not waited for: the call fails as `rate_limited`. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  limit: 2,
  minDelayMs: 300,
  maxDelayMs: 10_000,
  factor: 2,
  jitter: true,
  maxRetryAfterMs: 60_000,
});

export { RETRIABLE_STATUSES };

export function resolveRetryPolicy(input: Partial<RetryPolicy> | false | undefined): RetryPolicy {
  if (input === false) return { ...DEFAULT_RETRY_POLICY, limit: 0 };
  return { ...DEFAULT_RETRY_POLICY, ...input };
}

/** The delay before retry number `attempt` (1-based), before jitter. */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.minDelayMs * policy.factor ** (attempt - 1));
}

/** Why an attempt failed, as far as retrying goes. A caller's abort is never retried, so it is not one. */
export type AttemptFailure =
  | { kind: "status"; status: number; retryAfterMs: number | undefined }
  | { kind: "timeout" }
  | { kind: "network" };

/**
 * How long to wait before retry number `retry` (1-based) after `failure`, or undefined: give up.
 * Retried: timeouts, network failures and {@link RETRIABLE_STATUSES}, up to `limit` times, with
 * capped exponential backoff (full jitter when `jitter`). A `Retry-After` on 429 or 503 is waited
 * out as given, without jitter; one longer than `maxRetryAfterMs` (on any status) ends the call at
 * once, so the error can report when to come back. The caller decides that a call that is not
 * idempotent gets no retry at all.
 */
export function retryDelay(policy: RetryPolicy, retry: number, failure: AttemptFailure): number | undefined {
  if (retry > policy.limit) return undefined;
  if (failure.kind === "status") {
    if (!RETRIABLE_STATUSES.includes(failure.status)) return undefined;
    const wait = failure.retryAfterMs;
    if (wait !== undefined && wait > policy.maxRetryAfterMs) return undefined;
    if (wait !== undefined && (failure.status === 429 || failure.status === 503)) return wait;
  }
  const delay = backoffDelay(policy, retry);
  return policy.jitter ? Math.random() * delay : delay;
}
