import { OpenChsBridgeError } from "../errors/openchs-bridge-error";

/** Why a signed request was refused. Stable strings: log and count them, never the signature itself. */
export type WebhookVerificationCode =
  | "missing_header" // a required header is absent or empty
  | "invalid_timestamp" // the timestamp header is not a unix time (or RFC 3339, for the ticketer scheme)
  | "timestamp_too_old" // older than the tolerance: possibly a replay
  | "timestamp_too_new" // further in the future than the tolerance: clock skew or forgery
  | "invalid_signature"; // no signature matches any of the secrets

/**
 * A request whose signature does not verify. Its `message` names the header or the rule that failed,
 * never a secret, a signature or the body. Answer it with 401 (`invalid_signature`).
 */
export class WebhookVerificationError extends OpenChsBridgeError {
  override name = "WebhookVerificationError";
  /** The stable reason. */
  declare readonly code: WebhookVerificationCode;
  /** The header at fault, lower-case, when one is. */
  readonly header: string | undefined;

  constructor(code: WebhookVerificationCode, message: string, header?: string) {
    super(code, message);
    this.header = header;
  }
}

/** Whether `value` is a {@link WebhookVerificationError}, optionally with the given `code`. */
export function isWebhookVerificationError(
  value: unknown,
  code?: WebhookVerificationCode,
): value is WebhookVerificationError {
  return value instanceof WebhookVerificationError && (code === undefined || value.code === code);
}

/** The headers a verifier reads: Web `Headers`, or a plain object such as Node's `IncomingHttpHeaders`. */
export type HeadersLike = Headers | Record<string, string | string[] | undefined>;

/** Reads one header case-insensitively; a repeated header (array) is joined with `", "`. Empty reads as absent. */
export function readHeader(headers: HeadersLike, name: string): string | undefined {
  const lower = name.toLowerCase();
  let value: string | string[] | undefined | null;
  if (typeof (headers as Headers).get === "function" && typeof (headers as Headers).has === "function") {
    value = (headers as Headers).get(lower);
  } else {
    const record = headers as Record<string, string | string[] | undefined>;
    const key = Object.keys(record).find((k) => k.toLowerCase() === lower);
    value = key === undefined ? undefined : record[key];
  }
  if (Array.isArray(value)) value = value.join(", ");
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}
