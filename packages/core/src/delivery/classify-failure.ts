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
