/**
 * Request signing: Standard Webhooks (per-consumer signatures of the gateway API). WebCrypto only,
 * over raw bytes, constant-time compares. (The Weni generic ticketer's callback scheme lives in
 * `@openchs-bridge/rapidpro-adapter`, its only user.)
 */
export { RAW_BODY_REQUIRED, type RawBody, rawBodyBytes } from "./bytes";
export {
  decodeStandardWebhookSecret,
  type SignStandardWebhookInput,
  STANDARD_WEBHOOK_TOLERANCE_S,
  type StandardWebhookHeaders,
  signStandardWebhook,
  type VerifiedStandardWebhook,
  type VerifyStandardWebhookInput,
  verifyStandardWebhook,
} from "./standard-webhooks";
export {
  type HeadersLike,
  isWebhookVerificationError,
  readHeader,
  type WebhookVerificationCode,
  WebhookVerificationError,
} from "./verification-error";
