import { UpstreamError, type UpstreamErrorInit } from "@openchs-bridge/core";
import { describeDrfError, type ErrorBodyDetails, parseJsonBody } from "@openchs-bridge/core/upstream";

/**
 * Which upstream a {@link RapidProError} comes from: the RapidPro API, mailroom's ticketer callbacks,
 * or the chatbot's delivery-ack endpoint.
 */
export type RapidProService = "rapidpro" | "mailroom" | "chatbot-ack";

/**
 * Every failure of this package's clients. Carries the stable `code` of `UpstreamError`
 * (`validation`, `auth`, `forbidden`, `not_found`, `rate_limited`, `unavailable`, `timeout`,
 * `network`, `invalid_response`, `aborted`, …), the HTTP `status`, the `field` the server (or the
 * client's own checks) named, `retryAfterMs`, and the request with its token redacted. Never holds a
 * token, a request body or a message text; `retriable` tells whether the same call may succeed later.
 *
 * Checks made before sending (the 100-item limits, "at least one target", …) throw a
 * `RapidProError` with code `validation` and the offending `field`, and nothing is sent.
 */
export class RapidProError extends UpstreamError {
  override name = "RapidProError";
  declare readonly service: RapidProService;

  constructor(service: RapidProService, init: UpstreamErrorInit) {
    super(service, init);
  }
}

/** Whether `value` is a {@link RapidProError}, optionally with the given `code`. */
export function isRapidProError(value: unknown, code?: UpstreamErrorInit["code"]): value is RapidProError {
  return value instanceof RapidProError && (code === undefined || value.code === code);
}

/** A validation error raised before anything is sent. */
export function validationError(field: string | undefined, message: string, service: RapidProService = "rapidpro") {
  return new RapidProError(service, { code: "validation", field, message });
}

/**
 * Reads RapidPro's (Django REST framework) error bodies: `{"detail": …}`,
 * `{"non_field_errors": […]}`, and field errors `{"contacts": ["…"]}`, including nested ones such
 * as `{"urns": {"0": ["Invalid URN"]}}` (field `urns[0]`). Returns undefined for anything else.
 */
export function describeRapidProError(_status: number, body: unknown): ErrorBodyDetails | undefined {
  return describeDrfError(body);
}

/**
 * Reads mailroom's (and the generic ticketer contract's) error body `{"error": "<code>", "message"}`.
 */
export function describeMailroomError(_status: number, body: unknown): ErrorBodyDetails | undefined {
  const data = parseJsonBody(body);
  if (!isRecord(data)) return undefined;
  const code = typeof data.error === "string" ? data.error : undefined;
  const message = typeof data.message === "string" ? data.message : undefined;
  if (code === undefined && message === undefined) return describeRapidProError(_status, body);
  return { message: [code, message].filter(Boolean).join(": ") };
}

/** A plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
