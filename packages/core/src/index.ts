export { API_KEY_HASH_PATTERN, apiKeyHash } from "./auth/api-keys";
export type { AuthenticatedConsumer, IssuedToken } from "./auth/consumer-auth";
export type {
  AckInput,
  AckResult,
  InboundClientMessage,
  InboundCounselorMessage,
} from "./conversations/conversation-service";
export type { BridgeDeadLetters, DeadLetter, DeadLetterList, DeadLetterListQuery } from "./conversations/dead-letters";
export type { BridgeEventMap, BridgeEvents, EventError, Listener, MessageEventBase } from "./conversations/events";
export type { Readiness } from "./conversations/readiness";
export { type Bridge, type BridgeConversations, createBridge } from "./create-bridge";
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
  type ErrorBody,
  errorBody,
  isBridgeError,
} from "./errors/bridge-error";
export { ConfigError, isConfigError } from "./errors/config-error";
export {
  isOpenChsBridgeError,
  OpenChsBridgeError,
  type OpenChsBridgeErrorInit,
} from "./errors/openchs-bridge-error";
export {
  classifyFailure,
  type FailureInfo,
  isRetriable,
  isRetriableCode,
  RETRIABLE_STATUSES,
  RETRIABLE_UPSTREAM_CODES,
} from "./errors/retriability";
export {
  codeForStatus,
  isUpstreamError,
  type RedactedRequest,
  UpstreamError,
  type UpstreamErrorCode,
  type UpstreamErrorInit,
} from "./errors/upstream-error";
export type { BridgeHandler, RequestInfo } from "./gateway/handler";
export { openApiDocument } from "./gateway/openapi";
export { isGeoUrl } from "./gateway/schemas";
export { deadLetterView } from "./gateway/views";
export type { DeliverySettings } from "./loops/delivery-worker";
export type { BridgeMetricsSource, MetricsExporter, MetricsExporterFactory } from "./metrics/exporter";
export type { AddressRange, ForwardedHeader } from "./net/client-address";
export {
  BridgeConfigError,
  type BridgeOptions,
  type ConsumerConfig,
  type RenotifyNotice,
  type ResolvedOptions,
  type RouteInput,
} from "./options";
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
export { sha256HexSync } from "./signing/hash";
export {
  decodeStandardWebhookSecret,
  type HeadersLike,
  isWebhookVerificationError,
  RAW_BODY_REQUIRED,
  type RawBody,
  rawBodyBytes,
  readHeader,
  type SignStandardWebhookInput,
  STANDARD_WEBHOOK_TOLERANCE_S,
  type StandardWebhookHeaders,
  signStandardWebhook,
  type VerifiedStandardWebhook,
  type VerifyStandardWebhookInput,
  verifyStandardWebhook,
  type WebhookVerificationCode,
  WebhookVerificationError,
} from "./signing/index";
export { timingSafeEqual, timingSafeEqualStrings } from "./signing/timing-safe-equal";
export { StoreConflictError, StoreUnavailableError } from "./store/errors";
export { createMemoryStore, type MemoryStoreOptions } from "./store/memory-store";
export type {
  ClaimQuery,
  ConversationCounts,
  ConversationSummary,
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
