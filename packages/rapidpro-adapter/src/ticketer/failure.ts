import { OpenChsBridgeError } from "@openchs-bridge/core";

/**
 * The ticketer's error table: every code of the generic ticketer contract it answers with, and its
 * HTTP status. Answers are `{"error":"<code>","message","details"?}` (mailroom reads `error` and
 * `message`: weni-ai/mailroom `services/tickets/generic`).
 */
export const TICKETER_ERRORS = {
  invalid_payload: { status: 400 },
  unauthorized: { status: 401 },
  not_found: { status: 404 },
  ticket_not_found: { status: 404 },
  method_not_allowed: { status: 405 },
  ticket_closed: { status: 409 },
  ticket_already_open: { status: 409 },
  ticket_already_closed: { status: 409 },
  invalid_state: { status: 409 },
  payload_too_large: { status: 413 },
  reopen_not_supported: { status: 422 },
  idempotency_key_reused: { status: 422 },
  rate_limited: { status: 429 },
  internal_error: { status: 500 },
  service_unavailable: { status: 503 },
} as const satisfies Record<string, { status: number }>;

export type TicketerErrorCode = keyof typeof TICKETER_ERRORS;

/** The contract's error body, as JSON text. */
export function ticketerErrorBody(code: TicketerErrorCode, message: string, details?: Record<string, unknown>): string {
  return JSON.stringify({
    error: code,
    message,
    ...(details && Object.keys(details).length ? { details } : {}),
  });
}

/** An error answer of the generic ticketer contract: its status comes from {@link TICKETER_ERRORS}. */
export class TicketerFailure extends OpenChsBridgeError {
  override name = "TicketerFailure";
  declare readonly code: TicketerErrorCode;
  declare readonly status: number;

  constructor(
    code: TicketerErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(code, message, { status: TICKETER_ERRORS[code].status });
  }
}
