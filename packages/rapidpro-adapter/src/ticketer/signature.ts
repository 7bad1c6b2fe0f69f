import {
  type HeadersLike,
  type RawBody,
  rawBodyBytes,
  readHeader,
  timingSafeEqual,
  WebhookVerificationError,
} from "@openchs-bridge/core";
import { fromHex, hmacSha256, toHex, utf8 } from "@openchs-bridge/core/upstream";

/**
 * The Weni generic ticketer's callback scheme (ticketer → mailroom): `X-Webhook-Signature:
 * sha256=<hex HMAC-SHA256(secret, raw body)>` and `X-Webhook-Timestamp` (RFC 3339 UTC, or unix
 * seconds). The secret is used as its UTF-8 bytes. The timestamp is NOT covered by the signature:
 * mailroom checks it only as a freshness hint, so it stops naive replays, not a forger.
 */

/** Default freshness window of `X-Webhook-Timestamp`, both ways, in seconds (mailroom's 5 minutes). */
export const TICKETER_TOLERANCE_S = 300;

/** The headers of a signed ticketer callback. */
export interface TicketerCallbackHeaders {
  "X-Webhook-Signature": string;
  "X-Webhook-Timestamp": string;
}

/** Input of {@link signTicketerCallback}. */
export interface SignTicketerCallbackInput {
  /** The exact bytes that will be sent. */
  body: RawBody;
  /** The ticketer's `webhook_secret`, as configured in mailroom. */
  secret: string;
  /** Signing time, epoch milliseconds. Default `Date.now()`. */
  now?: number | undefined;
}

/** Input of {@link verifyTicketerCallback}. */
export interface VerifyTicketerCallbackInput {
  headers: HeadersLike;
  /** The raw body as received, never the parsed JSON. */
  body: RawBody;
  /** The secret, or every secret valid during a rotation. */
  secret: string | readonly string[];
  /** Freshness window of `X-Webhook-Timestamp`, both ways, in seconds. Default 300. */
  toleranceS?: number | undefined;
  /** The verifier's time, epoch milliseconds. Default `Date.now()`. */
  now?: number | undefined;
  /**
   * Refuse a request without `X-Webhook-Timestamp`. Default false: mailroom's contract v1 tolerates
   * its absence "to ease migration" (a present one is always checked).
   */
  requireTimestamp?: boolean | undefined;
}

/** What a verified callback carried. */
export interface VerifiedTicketerCallback {
  /** `X-Webhook-Timestamp` as epoch milliseconds, when it was sent. */
  timestampMs: number | undefined;
}

function secretBytes(secret: unknown, what: string): Uint8Array<ArrayBuffer> {
  if (typeof secret !== "string" || secret === "") throw new TypeError(`${what} must be a non-empty string`);
  return utf8(secret);
}

/** RFC 3339 without milliseconds, as mailroom's examples send it: `2026-05-20T14:35:00Z`. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Signs a ticketer callback body and returns its two headers.
 *
 * @example
 * ```ts
 * const body = JSON.stringify(event);
 * const headers = await signTicketerCallback({ body, secret });
 * await fetch(`${callbackUrl}/messages`, { method: "POST", body, headers: { ...headers, "content-type": "application/json" } });
 * ```
 */
export async function signTicketerCallback(input: SignTicketerCallbackInput): Promise<TicketerCallbackHeaders> {
  const body = rawBodyBytes(input.body, "signTicketerCallback");
  const key = secretBytes(input.secret, "signTicketerCallback: secret");
  const signature = toHex(await hmacSha256(key, body));
  return { "X-Webhook-Signature": `sha256=${signature}`, "X-Webhook-Timestamp": rfc3339(input.now ?? Date.now()) };
}

/**
 * Verifies a ticketer callback as mailroom does: `X-Webhook-Signature` (`sha256=<hex>` or bare hex)
 * must match the HMAC of the raw body under one of the secrets (constant-time compare), and
 * `X-Webhook-Timestamp`, when present (or when `requireTimestamp`), must be RFC 3339 or unix
 * seconds within `toleranceS` of `now`. Rejects with a {@link WebhookVerificationError}.
 */
export async function verifyTicketerCallback(input: VerifyTicketerCallbackInput): Promise<VerifiedTicketerCallback> {
  const body = rawBodyBytes(input.body, "verifyTicketerCallback");
  const secrets = typeof input.secret === "string" ? [input.secret] : input.secret;
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new TypeError("verifyTicketerCallback: secret must be a string or a non-empty list");
  }
  const keys = secrets.map((s, i) => secretBytes(s, `verifyTicketerCallback: secret[${i}]`));

  const header = readHeader(input.headers, "x-webhook-signature");
  if (header === undefined) {
    throw new WebhookVerificationError("missing_header", "X-Webhook-Signature is missing", "x-webhook-signature");
  }
  const timestampText = readHeader(input.headers, "x-webhook-timestamp");
  let timestampMs: number | undefined;
  if (timestampText === undefined) {
    if (input.requireTimestamp) {
      throw new WebhookVerificationError("missing_header", "X-Webhook-Timestamp is missing", "x-webhook-timestamp");
    }
  } else {
    timestampMs = checkTimestamp(timestampText, input.now ?? Date.now(), input.toleranceS ?? TICKETER_TOLERANCE_S);
  }

  const hex = header.toLowerCase().startsWith("sha256=") ? header.slice("sha256=".length) : header;
  const candidate = fromHex(hex.trim()) ?? new Uint8Array(0);
  let matched = false;
  for (const key of keys) matched = timingSafeEqual(await hmacSha256(key, body), candidate) || matched;
  if (!matched) {
    throw new WebhookVerificationError(
      "invalid_signature",
      "X-Webhook-Signature does not match: check the webhook secret, and that the body is verified exactly as received",
      "x-webhook-signature",
    );
  }
  return { timestampMs };
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

function checkTimestamp(text: string, nowMs: number, toleranceS: number): number {
  let ms: number;
  if (/^\d{1,15}$/.test(text)) ms = Number(text) * 1000;
  else if (RFC3339.test(text)) ms = Date.parse(text.replace(" ", "T"));
  else ms = Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new WebhookVerificationError(
      "invalid_timestamp",
      "X-Webhook-Timestamp must be RFC 3339 or unix seconds",
      "x-webhook-timestamp",
    );
  }
  if (ms < nowMs - toleranceS * 1000) {
    throw new WebhookVerificationError(
      "timestamp_too_old",
      `X-Webhook-Timestamp is more than ${toleranceS} s old`,
      "x-webhook-timestamp",
    );
  }
  if (ms > nowMs + toleranceS * 1000) {
    throw new WebhookVerificationError(
      "timestamp_too_new",
      `X-Webhook-Timestamp is more than ${toleranceS} s in the future`,
      "x-webhook-timestamp",
    );
  }
  return ms;
}
