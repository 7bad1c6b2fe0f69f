/**
 * The bridge's data: conversations, their messages, and the outbox jobs that carry them.
 * Plain JSON-able objects, so every store can persist them as they are.
 */

export type ConversationState = "requested" | "hunting" | "connected" | "closed";

/** Who ended a conversation. `system`: the bridge itself (hunting given up, retention). */
export type ClosedBy = "chatbot" | "helpline" | "system";

/** How the chatbot side reached the bridge, and so how replies go back. */
export type ConversationOrigin = "webhook" | "ticketer";

export type MessageStatus = "accepted" | "sent" | "delivered" | "read" | "failed";

/** `to_helpline`: a client message from the chatbot; `to_chatbot`: a counselor reply. */
export type MessageDirection = "to_helpline" | "to_chatbot";

/** The `chat_source` values of the gateway API. `HELPLINE` appears on close and ack only. */
export type ChatSource = "WENI" | "OUTBOX" | "HELPLINE";

export interface Attachment {
  url: string;
  content_type: string;
}

export interface Conversation {
  /** The `chat_session`: 1–100 chars of `[A-Za-z0-9_-]`. */
  id: string;
  state: ConversationState;
  origin: ConversationOrigin;
  /** Routing key of the helpline target that serves this conversation. */
  helpline: string;
  /** The chatbot's reply address: the RapidPro contact UUID (`chat_sender`). */
  contact: string;
  /**
   * The conversation's channel: the `chat_channel` of its first client message (`WENI` when it had
   * none). Given to the helpline as `channel` on `msg/`, which the helpline echoes back as
   * `chat_channel` on counselor replies. Absent on conversations stored before it existed: read as
   * `WENI` (see {@link conversationChannel}).
   */
  channel?: string | undefined;
  /** The client's pseudonym, when the chatbot gave one. */
  clientName?: string | undefined;
  /** The counselor's pseudonym, known once a counselor read or replied. */
  counselorName?: string | undefined;
  /** The counselor's extension (`chat_receiver` of an OUTBOX message). */
  counselorExtension?: string | undefined;
  location?: string | undefined;
  risk?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  /**
   * Style B only: the mailroom ticket this conversation answers. `externalId` is the ticket's
   * `external_id` in mailroom, which names the ticket in callbacks: the id of the conversation the
   * ticket opened, kept by the conversations its reopens start (absent on ones stored before it
   * existed: then the conversation id).
   */
  ticket?: { ticketId: string; ticketerUuid?: string | undefined; externalId?: string | undefined } | undefined;
  /** Opened by a reopen of the ticket: the (closed) conversation this one continues. */
  reopenedFrom?: string | undefined;
  /** Closed, then reopened: the conversation that continues this one (see `reopenedFrom`). */
  reopenedTo?: string | undefined;
  /** How many times hunting was re-notified. */
  huntCount: number;
  /** Epoch ms when the current hunt times out; set while `hunting`. */
  huntDeadline?: number | undefined;
  closedBy?: ClosedBy | undefined;
  closeReason?: string | undefined;
  closedAt?: string | undefined;
  /**
   * When the chatbot was told the helpline is unavailable (ISO), so it is told once per conversation.
   */
  unavailableNoticeAt?: string | undefined;
  createdAt: string;
  updatedAt: string;
  /** Incremented by every update; stores reject an update whose expected version is stale. */
  version: number;
}

/** The channel the legacy gateway gave the helpline, and the default of a conversation's channel. */
export const DEFAULT_CHANNEL = "WENI";

/** A conversation's channel, `WENI` for one stored before conversations remembered theirs. */
export function conversationChannel(conversation: Pick<Conversation, "channel">): string {
  return conversation.channel || DEFAULT_CHANNEL;
}

export interface Message {
  /** The bridge's own id for this message (a UUID), returned as `uuid` in the 201 answer. */
  uuid: string;
  conversationId: string;
  /**
   * The sender's `message_id`, or one the bridge assigned (`auto-<uuid>`) when it had none. Unique per
   * conversation and direction: each side names its own messages.
   */
  messageId: string;
  /** Whether `messageId` came from the sender (and so is an idempotency key). */
  messageIdGiven: boolean;
  direction: MessageDirection;
  source: ChatSource;
  text?: string | undefined;
  attachments: Attachment[];
  /** Pseudonym of the sender (client or counselor). */
  senderName?: string | undefined;
  /** `chat_receiver` as sent. */
  receiver?: string | undefined;
  /** `chat_channel` as sent, whatever its value (the helpline echoes the one the bridge gave it). */
  channel?: string | undefined;
  /** SHA-256 hex of the text, for the 5 s identical-text rule when `message_id` is absent. */
  textHash: string;
  status: MessageStatus;
  /** Store-assigned, strictly increasing across the store; orders listings and pages. */
  seq: number;
  /** Epoch ms, from the bridge's clock. */
  createdAtMs: number;
  createdAt: string;
  updatedAt: string;
  /** Last delivery failure, without message text or secrets. */
  lastError?: { code: string; message: string } | undefined;
  /** Attempts made to deliver it so far. */
  attempts: number;
  /** The conversation's state in the first answer, replayed with a duplicate. */
  acceptedState: ConversationState;
  /**
   * When its dead-lettered delivery was last replayed (ISO): a replay sets a `failed` message back to
   * `accepted`, the one backward step of its status.
   */
  replayedAt?: string | undefined;
}

/**
 * Work the delivery loop must do, in order per `(conversationId, lane)`.
 * - `helpline` / `chatbot`: messages and close notices to that side, strictly ordered.
 * - `ack`: acknowledgements forwarded to a side's ack endpoint; a lane of their own so a slow ack
 *   endpoint never holds messages back.
 */
export type OutboxLane = "helpline" | "chatbot" | "ack:helpline" | "ack:chatbot";

/** `notice`: the helpline-unavailable notice to the chatbot (lane `chatbot`). */
export type OutboxJobKind = "message" | "close" | "ack" | "renotify" | "notice";

/**
 * `pending`: waiting or in flight; `dead`: out of retries, kept (not claimed, not holding its lane)
 * until it is replayed or purged with its conversation.
 */
export type OutboxJobState = "pending" | "dead";

/** Why a job's last attempt failed: a stable code and the upstream HTTP status, never message text. */
export interface OutboxJobError {
  code: string;
  status?: number | undefined;
}

export interface OutboxJob {
  /** Store-assigned, strictly increasing: the FIFO order within a lane. */
  id: number;
  conversationId: string;
  lane: OutboxLane;
  kind: OutboxJobKind;
  /** For `message` and `renotify` jobs: the message's bridge uuid. */
  messageUuid?: string | undefined;
  /** Kind-specific data (close: closedBy/reason; ack: messageId/status). JSON-able. */
  payload: Record<string, unknown>;
  /** Attempts made so far (persisted, so a restart continues the schedule). */
  attempts: number;
  /** Epoch ms before which the job must not be attempted. */
  nextAttemptAt: number;
  createdAt: string;
  /** Who holds it now and until when (epoch ms); a lapsed lease may be claimed again. */
  leaseOwner?: string | undefined;
  leaseUntil?: number | undefined;
  /** Absent means `pending`. */
  state?: OutboxJobState | undefined;
  /**
   * Epoch ms of the first failed attempt round, set on the first reschedule: the retry horizon
   * counts from it.
   */
  firstAttemptAt?: number | undefined;
  /** Epoch ms when it was dead-lettered. */
  deadAt?: number | undefined;
  /** The last attempt's failure. */
  lastError?: OutboxJobError | undefined;
  /** Epoch ms of its last replay. */
  replayedAt?: number | undefined;
  /**
   * The trace of the request that queued it (W3C strings), so its delivery joins that trace after a
   * restart or on another instance. Absent when tracing was off. Ids only, no text.
   */
  traceContext?: StoredTraceContext | undefined;
}

/** A span context as W3C Trace Context headers carry it. */
export interface StoredTraceContext {
  traceparent: string;
  tracestate?: string | undefined;
}

/** A consumer's access token, as stored: only the SHA-256 of the token, never the token. */
export interface StoredToken {
  hash: string;
  consumer: string;
  /** Epoch ms. */
  expiresAt: number;
  createdAt: string;
  revoked: boolean;
}
