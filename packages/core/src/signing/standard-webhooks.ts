import { concatBytes, fromBase64, hmacSha256, type RawBody, rawBodyBytes, toBase64, utf8 } from "./bytes";
import { timingSafeEqual } from "./timing-safe-equal";
import { type HeadersLike, readHeader, WebhookVerificationError } from "./verification-error";

/**
 * Standard Webhooks (https://www.standardwebhooks.com): HMAC-SHA256 over `{id}.{timestamp}.{body}`,
 * sent as `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature` (space-separated
 * `v1,<base64>` entries, several during a key rotation).
 */

/** Default tolerance between the signer's and the verifier's clocks, both ways, in seconds. */
export const STANDARD_WEBHOOK_TOLERANCE_S = 300;

/** The three headers of a Standard Webhooks request. */
export interface StandardWebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/** Input of {@link signStandardWebhook}. */
export interface SignStandardWebhookInput {
  /** The message id: unique per message, the receiver's idempotency key. */
  id: string;
  /** When it was signed: unix **seconds**, or a `Date`. */
  timestamp: number | Date;
  /** The exact bytes that will be sent. */
  body: RawBody;
  /** A `whsec_<base64>` secret, or the bare base64. */
  secret: string;
}

/** Input of {@link verifyStandardWebhook}. */
export interface VerifyStandardWebhookInput {
  headers: HeadersLike;
  /** The raw body as received: a string, `Uint8Array` or `ArrayBuffer`, never the parsed JSON. */
  body: RawBody;
  /** Every secret currently valid (`whsec_<base64>` or bare base64); several during a rotation. */
  secrets: readonly string[];
  /** Allowed clock difference, both ways, in seconds. Default 300. */
  toleranceS?: number | undefined;
  /** The verifier's time, epoch milliseconds. Default `Date.now()`. */
  now?: number | undefined;
}

/** What a verified request carried. */
export interface VerifiedStandardWebhook {
  /** `webhook-id`: use it to drop redeliveries. */
  id: string;
  /** `webhook-timestamp`, unix seconds. */
  timestamp: number;
}

/**
 * Decodes a Standard Webhooks secret: `whsec_` followed by base64, or the bare base64. Throws a
 * `TypeError` (naming the option, never the value) when it is empty or not base64.
 */
export function decodeStandardWebhookSecret(secret: string, what = "secret"): Uint8Array<ArrayBuffer> {
  if (typeof secret !== "string" || secret === "") throw new TypeError(`${what} must be a non-empty string`);
  const bytes = fromBase64(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret);
  if (!bytes || bytes.length === 0) {
    throw new TypeError(
      `${what} must be "whsec_" followed by base64 (or the bare base64), as Standard Webhooks defines`,
    );
  }
  return bytes;
}

async function signatureBytes(secret: Uint8Array<ArrayBuffer>, id: string, timestamp: string, body: Uint8Array) {
  return hmacSha256(secret, concatBytes(utf8(`${id}.${timestamp}.`), body));
}

/**
 * Signs a request the Standard Webhooks way and returns its three headers. Use it to sign calls to
 * the bridge from a consumer configured with `signingSecrets`, or to test a verifier.
 *
 * @example
 * ```ts
 * const body = JSON.stringify(payload);
 * const headers = await signStandardWebhook({ id: crypto.randomUUID(), timestamp: new Date(), body, secret });
 * await fetch(url, { method: "POST", body, headers: { ...headers, "content-type": "application/json" } });
 * ```
 */
export async function signStandardWebhook(input: SignStandardWebhookInput): Promise<StandardWebhookHeaders> {
  const body = rawBodyBytes(input.body, "signStandardWebhook");
  const key = decodeStandardWebhookSecret(input.secret);
  if (typeof input.id !== "string" || input.id === "") throw new TypeError("signStandardWebhook: id is required");
  const seconds = input.timestamp instanceof Date ? Math.floor(input.timestamp.getTime() / 1000) : input.timestamp;
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new TypeError("signStandardWebhook: timestamp must be whole unix seconds or a Date");
  }
  const timestamp = String(seconds);
  const signature = await signatureBytes(key, input.id, timestamp, body);
  return { "webhook-id": input.id, "webhook-timestamp": timestamp, "webhook-signature": `v1,${toBase64(signature)}` };
}

/**
 * Verifies a Standard Webhooks request over its raw body: all three headers present, the timestamp
 * within `toleranceS` of `now` in either direction, and at least one `v1,` signature of the header
 * matching one of `secrets` (compared in constant time). Entries of other versions are ignored.
 * Resolves with the id and timestamp; rejects with a {@link WebhookVerificationError}.
 */
export async function verifyStandardWebhook(input: VerifyStandardWebhookInput): Promise<VerifiedStandardWebhook> {
  const body = rawBodyBytes(input.body, "verifyStandardWebhook");
  if (!Array.isArray(input.secrets) || input.secrets.length === 0) {
    throw new TypeError("verifyStandardWebhook: secrets must list at least one secret");
  }
  const keys = input.secrets.map((s, i) => decodeStandardWebhookSecret(s, `verifyStandardWebhook: secrets[${i}]`));

  const id = readHeader(input.headers, "webhook-id");
  const timestampText = readHeader(input.headers, "webhook-timestamp");
  const header = readHeader(input.headers, "webhook-signature");
  if (id === undefined) throw new WebhookVerificationError("missing_header", "webhook-id is missing", "webhook-id");
  if (timestampText === undefined) {
    throw new WebhookVerificationError("missing_header", "webhook-timestamp is missing", "webhook-timestamp");
  }
  if (header === undefined) {
    throw new WebhookVerificationError("missing_header", "webhook-signature is missing", "webhook-signature");
  }

  const timestamp = checkTimestamp(
    timestampText,
    input.now ?? Date.now(),
    input.toleranceS ?? STANDARD_WEBHOOK_TOLERANCE_S,
  );

  const candidates: Uint8Array[] = [];
  for (const entry of header.split(" ")) {
    const comma = entry.indexOf(",");
    if (comma < 0 || entry.slice(0, comma) !== "v1") continue;
    const decoded = fromBase64(entry.slice(comma + 1));
    if (decoded) candidates.push(decoded);
  }

  let matched = false;
  for (const key of keys) {
    const expected = await signatureBytes(key, id, timestampText, body);
    // Every candidate is compared, even after a match, so timing says nothing about which one matched.
    for (const candidate of candidates) matched = timingSafeEqual(expected, candidate) || matched;
  }
  if (!matched) {
    throw new WebhookVerificationError(
      "invalid_signature",
      "no webhook-signature matches: check the secret, and that the body is verified exactly as received",
      "webhook-signature",
    );
  }
  return { id, timestamp };
}

function checkTimestamp(text: string, nowMs: number, toleranceS: number): number {
  if (!/^\d{1,15}$/.test(text)) {
    throw new WebhookVerificationError(
      "invalid_timestamp",
      "webhook-timestamp must be unix seconds",
      "webhook-timestamp",
    );
  }
  const timestamp = Number(text);
  const nowS = Math.floor(nowMs / 1000);
  if (timestamp < nowS - toleranceS) {
    throw new WebhookVerificationError(
      "timestamp_too_old",
      `webhook-timestamp is more than ${toleranceS} s old`,
      "webhook-timestamp",
    );
  }
  if (timestamp > nowS + toleranceS) {
    throw new WebhookVerificationError(
      "timestamp_too_new",
      `webhook-timestamp is more than ${toleranceS} s in the future`,
      "webhook-timestamp",
    );
  }
  return timestamp;
}
