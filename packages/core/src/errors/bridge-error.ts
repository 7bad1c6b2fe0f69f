import { OpenChsBridgeError } from "./openchs-bridge-error";

/**
 * The one error table of the bridge's HTTP surface: stable code → HTTP status. Every 4xx/5xx the
 * handler answers comes from here, as `{"error":{"code","message","field"?,"state"?}}`.
 */
export const ERROR_STATUS = {
  invalid_json: 400,
  missing_field: 400,
  invalid_field: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  token_expired: 401,
  token_revoked: 401,
  invalid_signature: 401,
  forbidden_source: 403,
  forbidden: 403,
  route_not_found: 404,
  conversation_not_found: 404,
  message_not_found: 404,
  dead_letter_not_found: 404,
  method_not_allowed: 405,
  conversation_closed: 409,
  invalid_transition: 409,
  dead_letter_not_dead: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  store_unavailable: 503,
  internal_error: 500,
} as const satisfies Record<string, number>;

export type BridgeErrorCode = keyof typeof ERROR_STATUS;

export interface BridgeErrorInit {
  /** The offending field, as named in the request body (e.g. `chat_session`, `attachments[0].url`). */
  field?: string | undefined;
  /** For 409: the conversation's state. */
  state?: string | undefined;
  /** For 429 and 503: seconds until worth trying again. */
  retryAfterS?: number | undefined;
  cause?: unknown;
}

/** The documented error body. */
export interface ErrorBody {
  error: { code: BridgeErrorCode; message: string; field?: string; state?: string };
}

/**
 * Renders the documented error body `{"error":{"code","message","field"?,"state"?}}`: the one place
 * the shape is written (the gateway's answers, the health 503, the Node adapter's 500). The status
 * goes with it from {@link ERROR_STATUS}.
 */
export function errorBody(
  code: BridgeErrorCode,
  message: string,
  detail: { field?: string | undefined; state?: string | undefined } = {},
): ErrorBody {
  return {
    error: {
      code,
      message,
      ...(detail.field !== undefined ? { field: detail.field } : {}),
      ...(detail.state !== undefined ? { state: detail.state } : {}),
    },
  };
}

/** An error the bridge answers with: a stable `code`, its HTTP `status`, and never a secret or message text. */
export class BridgeError extends OpenChsBridgeError {
  override name = "BridgeError";
  declare readonly code: BridgeErrorCode;
  declare readonly status: number;
  readonly field: string | undefined;
  readonly state: string | undefined;
  readonly retryAfterS: number | undefined;

  constructor(code: BridgeErrorCode, message: string, init: BridgeErrorInit = {}) {
    super(code, message, { status: ERROR_STATUS[code], cause: init.cause });
    this.field = init.field;
    this.state = init.state;
    this.retryAfterS = init.retryAfterS;
  }

  /** The documented body: `{"error":{"code","message","field"?,"state"?}}`. */
  toBody(): ErrorBody {
    return errorBody(this.code, this.message, { field: this.field, state: this.state });
  }
}

export function isBridgeError(value: unknown, code?: BridgeErrorCode): value is BridgeError {
  return value instanceof BridgeError && (code === undefined || value.code === code);
}
