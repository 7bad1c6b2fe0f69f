/**
 * `@openchs-bridge/openchs-client`: typed, runtime-neutral clients of the OpenCHS helpline core API
 * (the bridge's upstream) and of the bridge's own API (`createBridgeApiClient`, for the helpline's
 * side and tests; the legacy gateway serves the same API), and the bridge's helpline target.
 *
 * @packageDocumentation
 */

export {
  type AckBody,
  type AckResult,
  type BridgeApiClient,
  type BridgeApiClientOptions,
  type ChatPage,
  type CloseChatBody,
  type CloseChatResult,
  createBridgeApiClient,
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
} from "./bridge-api/client";
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
