import type { Attachment, ClosedBy, ConversationState } from "../domain/model";

/** Opening a conversation without HTTP (style B: a mailroom ticket opened). */
export interface OpenConversationInput {
  conversationId: string;
  origin: "webhook" | "ticketer";
  /** RapidPro contact UUID: the reply address. */
  contact: string;
  clientName?: string | undefined;
  /** Routing: `chat_receiver`-like key; the bridge's router picks the helpline from it. */
  receiver?: string | undefined;
  location?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  ticket?: { ticketId: string; ticketerUuid?: string | undefined } | undefined;
}

export interface OpenConversationResult {
  conversationId: string;
  /** False when it was already open (the caller answers "already done"). */
  created: boolean;
  state: ConversationState;
  createdAt: string;
}

/** A client message without HTTP. */
export interface ClientMessageInput {
  conversationId: string;
  /** The sender's id for this message: the dedupe key. */
  messageId?: string | undefined;
  text?: string | undefined;
  attachments?: Attachment[] | undefined;
  senderName?: string | undefined;
  /** Only needed when the conversation may be new (style A semantics). */
  contact?: string | undefined;
}

export interface AcceptResult {
  status: "accepted";
  duplicate: boolean;
  uuid: string;
  conversation_id: string;
  message_id: string;
  conversation_state: ConversationState;
}

export interface CloseInput {
  conversationId: string;
  closedBy: ClosedBy;
  reason?: string | undefined;
}

export interface CloseResult {
  conversationId: string;
  state: "closed";
  /** False when it was closed already (closing twice is a no-op). */
  changed: boolean;
  closedBy: ClosedBy;
  reason?: string | undefined;
}

/**
 * What the bridge offers to code that feeds it without the gateway HTTP API: the Weni generic
 * ticketer handlers in `@openchs-bridge/rapidpro-adapter`, or a host's own code. Failures are
 * `BridgeError`s (`conversation_not_found`, `conversation_closed`, `invalid_field`, …).
 */
export interface ConversationsPort {
  open(input: OpenConversationInput): Promise<OpenConversationResult>;
  acceptClientMessage(input: ClientMessageInput): Promise<AcceptResult>;
  close(input: CloseInput): Promise<CloseResult>;
}
