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
  /** Style B: the ticket; `externalId` is the `external_id` mailroom was given (default: `conversationId`). */
  ticket?: { ticketId: string; ticketerUuid?: string | undefined; externalId?: string | undefined } | undefined;
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

/** Reopening a ticket's conversation without HTTP (style B: mailroom reopened a ticket). */
export interface ReopenConversationInput {
  /**
   * The ticket's conversation: the one it opened, or any a reopen linked to it. Reopen links are
   * followed to the newest, which is the one reopened.
   */
  conversationId: string;
  /** The id of the new conversation, used when the newest one is closed (1–100 of `[A-Za-z0-9_-]`). */
  newConversationId: string;
  /** Merged into the new conversation's metadata (which also gets `reopened_from`). */
  metadata?: Record<string, unknown> | undefined;
}

export interface ReopenConversationResult {
  /** The conversation that answers for the ticket now: the new one, or the one still open. */
  conversationId: string;
  /** False when the newest conversation was still open: nothing was created (the caller answers success). */
  created: boolean;
  state: ConversationState;
  createdAt: string;
  /** The conversation this one continues, when it was opened by a reopen. */
  reopenedFrom?: string | undefined;
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
  /**
   * A closed conversation is final, so reopening makes a NEW conversation for the same contact
   * (same helpline, channel, ticket), linked to the closed one (`reopenedFrom` / `reopenedTo`,
   * `metadata.reopened_from`). When the newest conversation of the chain is still open, nothing is
   * created. `conversation_not_found` when there is no such conversation.
   */
  reopen(input: ReopenConversationInput): Promise<ReopenConversationResult>;
  /**
   * The conversation that answers now for `conversationId`: itself, or the newest one reopens
   * linked to it; undefined when there is no such conversation.
   */
  current(conversationId: string): Promise<string | undefined>;
}
