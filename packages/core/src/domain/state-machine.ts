import type { ClosedBy, Conversation, ConversationState, MessageStatus } from "./model";

/**
 * The conversation and message state machines of PROTOCOL.md, as pure functions: no I/O, no clock
 * (times come in the events). The bridge applies an event, stores the result, and carries out the
 * effects it returns.
 *
 * ```
 *  requested ──delivered to helpline──▶ hunting ──counselor read/reply──▶ connected
 *      │                                 │  ▲ hunt timeout: re-notify, up to N        │
 *      └────────── close (either side, or hunting given up) ──────────────────────────┴──▶ closed
 * ```
 */

export type ConversationEvent =
  /** A client message was stored (the first one opens the conversation in `requested`). */
  | { type: "client_message" }
  /** A counselor reply arrived from the helpline. */
  | { type: "counselor_reply"; counselorName?: string | undefined; counselorExtension?: string | undefined }
  /** The helpline accepted a client message: hunting starts (or goes on). */
  | { type: "delivered_to_helpline"; huntDeadline: number }
  /** A counselor read a client message (helpline `read` ack). */
  | { type: "counselor_read"; counselorName?: string | undefined }
  /** The hunt deadline passed without a read. */
  | {
      type: "hunt_timeout";
      /** Deadline of the next round, if there is one. */
      nextDeadline: number;
      huntMax: number;
      onExhausted: "close" | "wait";
      at: string;
    }
  | { type: "close"; closedBy: ClosedBy; reason?: string | undefined; at: string };

/** What the bridge must do after storing the new conversation. */
export type ConversationEffect =
  /** Re-send the pending message to the helpline, round `round` of `of`. */
  | { type: "renotify"; round: number; of: number }
  /** Tell the side that did not close (`closedBy` says who did). */
  | { type: "notify_close"; closedBy: ClosedBy; reason?: string | undefined };

export type TransitionResult =
  | { ok: true; conversation: Conversation; changed: boolean; effects: ConversationEffect[] }
  | { ok: false; code: "conversation_closed" | "invalid_transition"; state: ConversationState; message: string };

/** The reason a conversation closes with when hunting is given up. */
export const NO_COUNSELOR = "no_counselor";

/** Every allowed change of conversation state (a state to itself is always a no-op). */
export const CONVERSATION_TRANSITIONS: Readonly<Record<ConversationState, readonly ConversationState[]>> = {
  requested: ["hunting", "connected", "closed"],
  hunting: ["connected", "closed"],
  connected: ["closed"],
  closed: [],
};

export function canTransition(from: ConversationState, to: ConversationState): boolean {
  return from === to || CONVERSATION_TRANSITIONS[from].includes(to);
}

const unchanged = (conversation: Conversation): TransitionResult => ({
  ok: true,
  conversation,
  changed: false,
  effects: [],
});

const closedError = (conversation: Conversation): TransitionResult => ({
  ok: false,
  code: "conversation_closed",
  state: "closed",
  message: `conversation ${conversation.id} is closed`,
});

/**
 * Applies one event. Returns a new conversation (the input is not modified); `changed` says whether
 * it differs and must be stored. `version` is left to the store layer.
 */
export function applyConversationEvent(conversation: Conversation, event: ConversationEvent): TransitionResult {
  const state = conversation.state;
  switch (event.type) {
    case "client_message":
      return state === "closed" ? closedError(conversation) : unchanged(conversation);

    case "counselor_reply": {
      if (state === "closed") return closedError(conversation);
      const next: Conversation = {
        ...conversation,
        state: "connected",
        huntDeadline: undefined,
        counselorName: event.counselorName ?? conversation.counselorName,
        counselorExtension: event.counselorExtension ?? conversation.counselorExtension,
      };
      return { ok: true, conversation: next, changed: differs(conversation, next), effects: [] };
    }

    case "delivered_to_helpline":
      // Only the first delivery starts hunting; later messages find it hunting or connected already.
      if (state !== "requested") return unchanged(conversation);
      return {
        ok: true,
        conversation: { ...conversation, state: "hunting", huntDeadline: event.huntDeadline },
        changed: true,
        effects: [],
      };

    case "counselor_read": {
      // A read after a close changes nothing: the message status is still updated by the caller.
      if (state === "closed") return unchanged(conversation);
      const next: Conversation = {
        ...conversation,
        state: "connected",
        huntDeadline: undefined,
        counselorName: event.counselorName ?? conversation.counselorName,
      };
      return { ok: true, conversation: next, changed: differs(conversation, next), effects: [] };
    }

    case "hunt_timeout": {
      if (state !== "hunting" || conversation.huntDeadline === undefined) return unchanged(conversation);
      if (conversation.huntCount < event.huntMax) {
        const round = conversation.huntCount + 1;
        return {
          ok: true,
          conversation: { ...conversation, huntCount: round, huntDeadline: event.nextDeadline },
          changed: true,
          effects: [{ type: "renotify", round, of: event.huntMax }],
        };
      }
      if (event.onExhausted === "wait") {
        // Keep hunting with no further deadline: the helpline may still pick it up.
        return { ok: true, conversation: { ...conversation, huntDeadline: undefined }, changed: true, effects: [] };
      }
      return closeConversation(conversation, "system", NO_COUNSELOR, event.at);
    }

    case "close":
      return closeConversation(conversation, event.closedBy, event.reason, event.at);
  }
}

function closeConversation(
  conversation: Conversation,
  closedBy: ClosedBy,
  reason: string | undefined,
  at: string,
): TransitionResult {
  // Closing twice is a no-op: the first close stands.
  if (conversation.state === "closed") return unchanged(conversation);
  return {
    ok: true,
    conversation: {
      ...conversation,
      state: "closed",
      closedBy,
      closeReason: reason,
      closedAt: at,
      huntDeadline: undefined,
    },
    changed: true,
    effects: [{ type: "notify_close", closedBy, reason }],
  };
}

function differs(a: Conversation, b: Conversation): boolean {
  return (
    a.state !== b.state ||
    a.huntDeadline !== b.huntDeadline ||
    a.counselorName !== b.counselorName ||
    a.counselorExtension !== b.counselorExtension
  );
}

/** Message statuses in the order they move: a status never goes back. */
const RANK: Readonly<Record<MessageStatus, number>> = { accepted: 0, sent: 1, delivered: 2, read: 3, failed: -1 };

export type MessageTransition = "apply" | "noop";

/**
 * Whether a message in `current` may move to `next`.
 * - forward along `accepted → sent → delivered → read` applies; the same status or a lower one is a
 *   no-op (acks are idempotent and never move a status back);
 * - `failed` applies from `accepted` or `sent` (retries exhausted, or refused);
 * - from `failed`, only the receiver's own `delivered`/`read` applies: it has the message after all,
 *   and the status must tell the truth.
 */
export function messageTransition(current: MessageStatus, next: MessageStatus): MessageTransition {
  if (current === next) return "noop";
  if (next === "failed") return current === "accepted" || current === "sent" ? "apply" : "noop";
  if (current === "failed") return next === "delivered" || next === "read" ? "apply" : "noop";
  return RANK[next] > RANK[current] ? "apply" : "noop";
}
