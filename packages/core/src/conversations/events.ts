import { EventEmitter } from "eventemitter3";
import type { ClosedBy, ConversationOrigin, MessageDirection, OutboxJobKind, OutboxLane } from "../domain/model";

/** A failure as events carry it: a stable code and a message without secrets or message text. */
export interface EventError {
  code: string;
  message: string;
  status?: number | undefined;
}

/** What every `message.*` event carries. */
export interface MessageEventBase {
  conversationId: string;
  messageId: string;
  uuid: string;
  direction: MessageDirection;
  /** Only when the bridge was created with `events.includeText: true`. */
  text?: string | undefined;
}

/** Every event the bridge emits, with its payload. Payloads never hold secrets, nor text unless enabled. */
export interface BridgeEventMap {
  "conversation.requested": { conversationId: string; helpline: string; origin: ConversationOrigin };
  "conversation.hunting": { conversationId: string; huntDeadline: number | undefined };
  "conversation.connected": { conversationId: string; counselorName?: string | undefined };
  /**
   * `reason` is the bridge's own code when `closedBy` is `system` (e.g. `no_counselor`). A reason
   * given by the chatbot or a counselor is free text, so it is there only with `events.includeText`.
   */
  "conversation.closed": { conversationId: string; closedBy: ClosedBy; reason?: string | undefined };
  /**
   * The helpline has not accepted the conversation's first message within `unavailableNotice.afterS`:
   * a notice to the chatbot is queued (once per conversation) while delivery goes on. `since`: when
   * the first message arrived (ISO).
   */
  "conversation.unavailable_notice": { conversationId: string; since: string };
  "message.accepted": MessageEventBase & { duplicate: false };
  "message.duplicate": MessageEventBase;
  "message.sent": MessageEventBase & { attempts: number };
  "message.delivered": MessageEventBase;
  "message.read": MessageEventBase & { counselorName?: string | undefined };
  "message.failed": MessageEventBase & { error: EventError };
  /**
   * A delivery attempt failed and will be tried again at `nextAttemptAt` (epoch ms): soon, within the
   * same claim (`quick: true`, `attempt` counts the attempts of this claim), or after a durable wait
   * on the bounded schedule (`quick: false`, `attempt` counts the claims that failed).
   */
  "delivery.retry": {
    jobId: number;
    conversationId: string;
    lane: OutboxLane;
    kind: OutboxJobKind;
    quick: boolean;
    attempt: number;
    nextAttemptAt: number;
    error: EventError;
  };
  /** A job was delivered (any kind: message, close, ack, notice); `attempts` of its last round. */
  "delivery.sent": { jobId: number; conversationId: string; lane: OutboxLane; kind: OutboxJobKind; attempts: number };
  /** A job gave up (retries exhausted or refused): the dead letter. */
  "delivery.dead_letter": {
    jobId: number;
    conversationId: string;
    lane: OutboxLane;
    kind: OutboxJobKind;
    attempts: number;
    messageId?: string | undefined;
    error: EventError;
  };
  "hunt.timeout": { conversationId: string; round: number; of: number; exhausted: boolean };
  /**
   * A retention sweep deleted `conversations` closed before `closedBefore` (ISO), with their messages
   * and `deadLetters` (their dead jobs), and kept `pendingSkipped` closed ones that still have a job
   * on its way. Emitted when any of the three is not zero.
   */
  "retention.purged": { conversations: number; deadLetters: number; pendingSkipped: number; closedBefore: string };
  /** The housekeeping sweep deleted `count` expired access tokens. */
  "tokens.purged": { count: number };
  /** An operator replayed a dead letter: the job is queued again in its lane (ids only, never text). */
  "dead_letter.replayed": { jobId: number; conversationId: string; kind: string; lane: string };
  /**
   * A refused credential: a login (`invalid_credentials`, `rate_limited`), a token, a signature.
   * `consumer` only when it names a configured consumer (never a mistyped username, which may be a
   * password); `address`, the client's, only with `events.includeText` (it is personal data).
   */
  "auth.failure": { reason: string; consumer?: string | undefined; address?: string | undefined };
  /**
   * The gateway answered a request. `route` is the route's template below the base path (e.g.
   * `chat/{session}/close`), never the concrete path; `other` for a path that is none of the bridge's.
   * `ms`: from the request reaching the handler to the answer being ready.
   */
  "http.request": { route: string; method: string; status: number; ms: number };
  /** Something in the background work failed unexpectedly (e.g. the store); the work is retried. */
  error: { where: string; error: EventError };
}

/** The `conversation.closed` payload of a closed conversation: free-text reasons only when text is on. */
export function closedEvent(
  conversation: { id: string; closedBy?: ClosedBy | undefined; closeReason?: string | undefined },
  includeText: boolean,
): BridgeEventMap["conversation.closed"] {
  const closedBy = conversation.closedBy!; // set by every close transition
  const reason = closedBy === "system" || includeText ? conversation.closeReason : undefined;
  return { conversationId: conversation.id, closedBy, ...(reason !== undefined ? { reason } : {}) };
}

/** A listener of one event. */
export type Listener<T> = (payload: T) => void;

/** eventemitter3 with the one event map: `bridge.events.on("message.sent", (e) => …)` is fully typed. */
export type BridgeEvents = EventEmitter<{ [K in keyof BridgeEventMap]: Listener<BridgeEventMap[K]> }>;

export function createBridgeEvents(): BridgeEvents {
  return new EventEmitter() as BridgeEvents;
}

/** Reduces any thrown value to an `EventError` (no stack, no cause chain, no request body). */
export function toEventError(error: unknown): EventError {
  if (error && typeof error === "object") {
    const e = error as { code?: unknown; message?: unknown; status?: unknown };
    return {
      code: typeof e.code === "string" ? e.code : "error",
      message: typeof e.message === "string" ? e.message : "unknown error",
      status: typeof e.status === "number" ? e.status : undefined,
    };
  }
  return { code: "error", message: "unknown error" };
}
