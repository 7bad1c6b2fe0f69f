import { OpenChsBridgeError } from "./openchs-bridge-error";
import { isRetriableCode } from "./retriability";

/** A request as errors keep it: no body, credentials replaced by `[REDACTED]`. */
export interface RedactedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/**
 * Stable codes for every way a call to an upstream (OpenCHS, RapidPro, mailroom) can fail.
 * The delivery outbox decides retry or dead-letter from these, never from messages.
 */
export type UpstreamErrorCode =
  | "auth" // 401 (after one re-login), or a login that was refused
  | "forbidden" // 403
  | "validation" // 400, 412, 422: the upstream refused the data
  | "not_found" // 404
  | "conflict" // 409
  | "rate_limited" // 429
  | "unavailable" // 5xx
  | "timeout" // no answer within the per-attempt timeout, or 408
  | "network" // connection refused, reset, DNS
  | "invalid_response" // a 2xx whose body is not what the API documents
  | "aborted" // the caller's AbortSignal fired
  | "http"; // any other non-2xx status

export interface UpstreamErrorInit {
  code: UpstreamErrorCode;
  message: string;
  status?: number | undefined;
  cause?: unknown;
  request?: RedactedRequest | undefined;
  /** The field the upstream named as invalid, when it named one. */
  field?: string | undefined;
  /** From `Retry-After`, in milliseconds, when the upstream sent one. */
  retryAfterMs?: number | undefined;
}

/**
 * Base of every upstream client error. Carries a stable `code`, the HTTP `status` when there was
 * one, the `cause`, and the request with credentials redacted. Never holds a request or response
 * body, so neither secrets nor message text can leak through `message`, `toString()` or JSON.
 */
export class UpstreamError extends OpenChsBridgeError {
  override name = "UpstreamError";
  /** Which upstream answered: e.g. `openchs-helpline`, `openchs-gateway`, `rapidpro`. */
  readonly service: string;
  declare readonly code: UpstreamErrorCode;
  readonly request: RedactedRequest | undefined;
  readonly field: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(service: string, init: UpstreamErrorInit) {
    super(init.code, init.message, { status: init.status, cause: init.cause });
    this.service = service;
    this.request = init.request;
    this.field = init.field;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** Whether trying the same call again later may succeed (network, timeout, 408, 429, 5xx). */
  get retriable(): boolean {
    return isRetriableCode(this.code);
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      service: this.service,
      code: this.code,
      message: this.message,
      status: this.status,
      field: this.field,
      retryAfterMs: this.retryAfterMs,
      request: this.request,
    };
  }
}

export function isUpstreamError(value: unknown, code?: UpstreamErrorCode): value is UpstreamError {
  return value instanceof UpstreamError && (code === undefined || value.code === code);
}

/** The code an HTTP status maps to when the upstream's body says nothing more specific. */
export function codeForStatus(status: number): UpstreamErrorCode {
  if (status === 400 || status === 412 || status === 422) return "validation";
  if (status === 401) return "auth";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 408) return "timeout";
  if (status === 409) return "conflict";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "unavailable";
  return "http";
}
