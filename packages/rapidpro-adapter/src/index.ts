/**
 * `@openchs-bridge/rapidpro-adapter`: the chatbot side of openchs-bridge. A typed, runtime-neutral
 * client of RapidPro API v2 (v7, Weni and nyaruka servers), the bridge's chatbot targets (RapidPro
 * API for flow-webhook conversations, mailroom callbacks for Weni generic-ticketer conversations),
 * the parser of flow "Call Webhook" bodies, the Weni generic ticketer's service handler, and the
 * signing helpers of the core.
 *
 * @packageDocumentation
 */

export {
  type HeadersLike,
  isWebhookVerificationError,
  type RawBody,
  type SignStandardWebhookInput,
  type StandardWebhookHeaders,
  signStandardWebhook,
  type VerifiedStandardWebhook,
  type VerifyStandardWebhookInput,
  verifyStandardWebhook,
  type WebhookVerificationCode,
  WebhookVerificationError,
} from "@openchs-bridge/core";
export {
  type ChatbotAckOptions,
  createRapidProChatbotTarget,
  DEFAULT_TEXT_TEMPLATE,
  defaultAckBody,
  type RapidProChatbotTargetOptions,
} from "./chatbot-target";
export {
  type BroadcastInput,
  type ContactLookup,
  type ContactsQuery,
  type ContactUpsertInput,
  createRapidProClient,
  type FieldsQuery,
  type FlowStartInput,
  type FlowsQuery,
  type ListQuery,
  type MessageInput,
  type MessagesQuery,
  type QuickReplyInput,
  RAPIDPRO_ATTACHMENTS_LIMIT,
  RAPIDPRO_PARAMS_LIMIT,
  RAPIDPRO_TARGET_LIMIT,
  type RapidProClient,
  type RapidProClientOptions,
  type RapidProList,
  type RunsQuery,
  type SendTextOptions,
  type SendTextResult,
  type WriteOptions,
} from "./client/client";
export { broadcastLimit, flavourFromRoot, RAPIDPRO_FLAVOURS, type RapidProFlavour } from "./client/flavour";
export { parseReplyAddress, type ReplyAddress, replyRecipients } from "./client/reply-address";
export type {
  RapidProAttachment,
  RapidProBroadcast,
  RapidProContact,
  RapidProContactField,
  RapidProContactStatus,
  RapidProFieldType,
  RapidProFlow,
  RapidProFlowResult,
  RapidProFlowStart,
  RapidProIds,
  RapidProMessage,
  RapidProRef,
  RapidProRun,
  RapidProRunValue,
} from "./client/schemas";
export {
  describeMailroomError,
  describeRapidProError,
  isRapidProError,
  RapidProError,
  type RapidProService,
} from "./errors";
export type { CallOptions, TransportOptions } from "./internal/shared";
export {
  type AgentMessageInput,
  type AgentMessageResult,
  type CallbackActor,
  createTicketerCallbackClient,
  createTicketerChatbotTarget,
  TICKET_CLOSE_REASONS,
  type TicketCloseInput,
  type TicketCloseResult,
  type TicketerCallbackClient,
  type TicketerCallbackClientOptions,
  type TicketerChatbotTargetOptions,
} from "./ticketer/callback-client";
export {
  createTicketerHandler,
  defaultConversationIdFor,
  defaultReopenedConversationIdFor,
  type TicketerHandlerOptions,
  type TicketReopenInput,
} from "./ticketer/handler";
export {
  createMemoryIdempotencyStore,
  type IdempotencyStore,
  type MemoryIdempotencyStoreOptions,
  type StoredAnswer,
} from "./ticketer/idempotency";
export {
  actorSchema,
  type CloseTicketBody,
  closeTicketSchema,
  type HistoryBody,
  historySchema,
  type OpenTicketBody,
  openTicketSchema,
  type ReopenTicketBody,
  reopenTicketSchema,
  type TicketMessageBody,
  ticketAttachmentSchema,
  ticketMessageSchema,
} from "./ticketer/schemas";
export {
  type SignTicketerCallbackInput,
  signTicketerCallback,
  TICKETER_TOLERANCE_S,
  type TicketerCallbackHeaders,
  type VerifiedTicketerCallback,
  type VerifyTicketerCallbackInput,
  verifyTicketerCallback,
} from "./ticketer/signature";
export { BOT_LINE_PREFIX } from "./ticketer/ticket-lines";
export {
  type FlowChatBody,
  type FlowWebhookResult,
  type FlowWebhookShape,
  type ParsedFlowWebhook,
  parseFlowWebhook,
  RapidProWebhookError,
  type ToChatBodyOptions,
  toChatBody,
} from "./webhook/parse";
