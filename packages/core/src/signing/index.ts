/**
 * Request signing: Standard Webhooks (per-consumer signatures of the gateway API) and the Weni
 * generic ticketer's callback scheme. WebCrypto only, over raw bytes, constant-time compares.
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
  type SignTicketerCallbackInput,
  signTicketerCallback,
  TICKETER_TOLERANCE_S,
  type TicketerCallbackHeaders,
  type VerifiedTicketerCallback,
  type VerifyTicketerCallbackInput,
  verifyTicketerCallback,
} from "./ticketer-signature";
export {
  type HeadersLike,
  isWebhookVerificationError,
  readHeader,
  type WebhookVerificationCode,
  WebhookVerificationError,
} from "./verification-error";
