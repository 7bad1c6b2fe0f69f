export { API_KEY_HASH_PATTERN, apiKeyHash } from "./auth/api-keys";
export type { AuthenticatedConsumer, IssuedToken } from "./auth/consumer-auth";
export type { AckInput, AckResult, InboundClientMessage, InboundCounselorMessage } from "./bridge/conversation-service";
export { type Bridge, type BridgeConversations, createBridge } from "./bridge/create-bridge";
export type { BridgeDeadLetters, DeadLetter, DeadLetterList, DeadLetterListQuery } from "./bridge/dead-letters";
export type { BridgeEventMap, BridgeEvents, EventError, Listener, MessageEventBase } from "./bridge/events";
export { sha256HexSync } from "./bridge/hash";
export {
  BridgeConfigError,
  type BridgeOptions,
  type ConsumerConfig,
  type RenotifyNotice,
  type ResolvedOptions,
  type RouteInput,
} from "./bridge/options";
export type { Readiness } from "./bridge/readiness";
export type * from "./domain/model";
export {
  applyConversationEvent,
  CONVERSATION_TRANSITIONS,
  type ConversationEffect,
  type ConversationEvent,
  canTransition,
  type MessageTransition,
  messageTransition,
  NO_COUNSELOR,
  type TransitionResult,
} from "./domain/state-machine";
export {
  BridgeError,
  type BridgeErrorCode,
  type BridgeErrorInit,
  ERROR_STATUS,
  isBridgeError,
} from "./errors/bridge-error";
export {
  codeForStatus,
  isUpstreamError,
  UpstreamError,
  type UpstreamErrorCode,
  type UpstreamErrorInit,
} from "./errors/upstream-error";
export { deadLetterView } from "./gateway/admin-routes";
export type { AddressRange, ForwardedHeader } from "./gateway/client-address";
export type { BridgeHandler, RequestInfo } from "./gateway/handler";
export { openApiDocument } from "./gateway/openapi";
export { type AuthStrategy, staticAuth } from "./http/auth-strategy";
export { describeDrfError, parseJsonBody } from "./http/drf-errors";
export { REDACTED, type RedactedRequest, redactHeaders, redactRequest, redactUrl } from "./http/redact";
export { parseRetryAfter } from "./http/retry-after";
export {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  RETRIABLE_STATUSES,
  type RetryPolicy,
  resolveRetryPolicy,
  toKyRetry,
} from "./http/retry-policy";
export { describeSchemaIssues } from "./http/schema-issues";
export {
  createUpstreamHttp,
  type ErrorBodyDetails,
  type HttpMethod,
  type UpstreamHttp,
  type UpstreamHttpOptions,
  type UpstreamRequest,
  type UpstreamResponse,
} from "./http/upstream-http";
export type { ChatbotMessage, ChatbotTarget } from "./ports/chatbot-target";
export { type Clock, manualClock, systemClock } from "./ports/clock";
export type {
  AcceptResult,
  ClientMessageInput,
  CloseInput,
  CloseResult,
  ConversationsPort,
  OpenConversationInput,
  OpenConversationResult,
  ReopenConversationInput,
  ReopenConversationResult,
} from "./ports/conversations-port";
export type { HelplineMessage, HelplineTarget } from "./ports/helpline-target";
export type { AckNotice, CloseNotice, DeliveryContext, UnavailableNotice } from "./ports/notices";
export {
  decodeStandardWebhookSecret,
  type HeadersLike,
  isWebhookVerificationError,
  RAW_BODY_REQUIRED,
  type RawBody,
  rawBodyBytes,
  readHeader,
  type SignStandardWebhookInput,
  type SignTicketerCallbackInput,
  STANDARD_WEBHOOK_TOLERANCE_S,
  type StandardWebhookHeaders,
  signStandardWebhook,
  signTicketerCallback,
  TICKETER_TOLERANCE_S,
  type TicketerCallbackHeaders,
  type VerifiedStandardWebhook,
  type VerifiedTicketerCallback,
  type VerifyStandardWebhookInput,
  type VerifyTicketerCallbackInput,
  verifyStandardWebhook,
  verifyTicketerCallback,
  type WebhookVerificationCode,
  WebhookVerificationError,
} from "./signing/index";
export { timingSafeEqual, timingSafeEqualStrings } from "./signing/timing-safe-equal";
export { createSingleFlight } from "./single-flight";
export { StoreConflictError, StoreUnavailableError } from "./store/errors";
export { createMemoryStore, type MemoryStoreOptions } from "./store/memory-store";
export type {
  ClaimQuery,
  DeadLetterDetails,
  DeadLetterPage,
  DeadLetterQuery,
  ListMessagesQuery,
  MessagePage,
  NewMessage,
  NewOutboxJob,
  OutboxStats,
  PurgeResult,
  RescheduleDetails,
  Store,
  StoreTx,
} from "./store/store";
