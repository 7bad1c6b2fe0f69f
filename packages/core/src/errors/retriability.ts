/**
 * Whether a failed call is worth trying again: decided here, once, for the upstream clients (their
 * `UpstreamError.retriable`, ky's in-call retries) and the delivery loop (retry, or dead-letter).
 * Pure functions, tested alone (retriability.test.ts).
 */

/** The upstream error codes that may succeed later: throttled, down, slow or unreachable. */
export const RETRIABLE_UPSTREAM_CODES: ReadonlySet<string> = new Set([
  "rate_limited",
  "unavailable",
  "timeout",
  "network",
]);

/**
 * Statuses an upstream client retries within one call: 408, 429 and the 5xx family that mean "try
 * later". Other 5xx (501, 505, …) still fail as `unavailable`, which the delivery loop retries durably.
 */
export const RETRIABLE_STATUSES: readonly number[] = [408, 429, 500, 502, 503, 504];

/** Whether an upstream error `code` means the same call may succeed later. */
export function isRetriableCode(code: string): boolean {
  return RETRIABLE_UPSTREAM_CODES.has(code);
}

/** What the delivery loop needs to know of a failed attempt. */
export interface FailureInfo {
  retriable: boolean;
  retryAfterMs?: number | undefined;
  code: string;
  message: string;
  status?: number | undefined;
}

/**
 * Classifies an error thrown by a target. Errors that say (`retriable: boolean`, as `UpstreamError`
 * does) are taken at their word; timeouts and aborts are retriable; anything else is assumed
 * transient (retried on the bounded schedule, then dead-lettered), so a bug never loses a message
 * silently.
 */
export function classifyFailure(error: unknown): FailureInfo {
  const e = (error && typeof error === "object" ? error : {}) as {
    retriable?: unknown;
    retryAfterMs?: unknown;
    code?: unknown;
    message?: unknown;
    status?: unknown;
    name?: unknown;
  };
  const message = typeof e.message === "string" ? e.message.slice(0, 300) : "delivery failed";
  const status = typeof e.status === "number" ? e.status : undefined;
  const retryAfterMs = typeof e.retryAfterMs === "number" ? e.retryAfterMs : undefined;
  if (typeof e.retriable === "boolean") {
    return {
      retriable: e.retriable,
      retryAfterMs,
      code: typeof e.code === "string" ? e.code : "error",
      message,
      status,
    };
  }
  if (e.name === "TimeoutError" || e.name === "AbortError") {
    return { retriable: true, code: "timeout", message: "the attempt timed out" };
  }
  return { retriable: true, code: "delivery_error", message, status };
}

/** Whether trying again later may succeed, for any thrown value (see {@link classifyFailure}). */
export function isRetriable(error: unknown): boolean {
  return classifyFailure(error).retriable;
}
