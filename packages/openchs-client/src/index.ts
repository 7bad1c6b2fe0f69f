/**
 * `@openchs-bridge/openchs-client`: typed, runtime-neutral clients of the two OpenCHS APIs (the
 * gateway API and the helpline core API), and the bridge's helpline target built on them.
 *
 * @packageDocumentation
 */

export {
  asLoginError,
  describeGatewayError,
  describeHelplineError,
  isOpenChsError,
  type OpenChsCaseCreated,
  OpenChsCaseError,
  type OpenChsCaseStep,
  OpenChsError,
  type OpenChsService,
} from "./errors";
export {
  type AckBody,
  type AckResult,
  type ChatPage,
  type CloseChatBody,
  type CloseChatResult,
  createOpenChsGatewayClient,
  type GatewayAttachment,
  type GatewayChatBody,
  type GatewayChatRecord,
  type GatewayConversation,
  type GatewayConversationMessage,
  type GatewayCredentials,
  type GatewayDeliveryError,
  type GatewayToken,
  type ListChatsQuery,
  type OpenChsGatewayClient,
  type OpenChsGatewayClientOptions,
  type SendChatResult,
} from "./gateway/client";
export type {
  CaseInput,
  CaseKeys,
  ClientInput,
  CompleteCaseCaseInput,
  CompleteCaseIds,
  CompleteCaseInput,
  HelplineId,
  HelplinePersonInput,
  HelplineValue,
  PerpetratorInput,
  ReporterInput,
} from "./helpline/cases";
export {
  type CategoryFilters,
  createOpenChsHelplineClient,
  DEFAULT_SESSION_TTL_MS,
  type HelplineCategory,
  type OpenChsHelplineClient,
  type OpenChsHelplineClientOptions,
  type SendMessageResult,
} from "./helpline/client";
export {
  buildMessageBody,
  type HelplineAttachment,
  type HelplineMessageBody,
  type HelplineMessageInput,
  type MessageEncoding,
} from "./helpline/message";
export {
  createOpenChsHelplineTarget,
  DEFAULT_RENOTIFY_PREFIX,
  type OpenChsHelplineTargetOptions,
  type RenotifyRound,
} from "./helpline-target";
export type { CallOptions, TransportOptions } from "./internal/shared";
