import { RETRIABLE_STATUSES } from "@openchs-bridge/core";
import type { RetryOptions as KyRetryOptions } from "ky";
import { HTTPError } from "ky";
import { parseRetryAfter } from "./retry-after";

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

/**
 * ky's retry options for one call. `idempotent` is false for a POST that carries no idempotency
 * key: such a call is never sent twice.
 */
export function toKyRetry(policy: RetryPolicy, idempotent: boolean): KyRetryOptions {
  return {
    limit: idempotent ? policy.limit : 0,
    methods: ["get", "head", "options", "put", "delete", "post", "patch"],
    statusCodes: [...RETRIABLE_STATUSES],
    afterStatusCodes: [429, 503],
    maxRetryAfter: policy.maxRetryAfterMs,
    backoffLimit: policy.maxDelayMs,
    delay: (attempt) => backoffDelay(policy, attempt),
    jitter: policy.jitter,
    retryOnTimeout: true,
    shouldRetry: ({ error }) => {
      // A server asking for more patience than we allow: give up now, and report when to come back.
      if (error instanceof HTTPError) {
        const wait = parseRetryAfter(error.response.headers.get("retry-after"));
        if (wait !== undefined && wait > policy.maxRetryAfterMs) return false;
      }
      return undefined;
    },
  };
}
