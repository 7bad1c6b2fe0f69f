import type { DeadLetter } from "../conversations/dead-letters";
import type { Conversation, Message } from "../domain/model";
import type { CloseResult } from "../ports/conversations-port";
import type { ConversationCounts, ConversationSummary } from "../store/store";

/*
 * The wire views of the gateway: every snake_case answer of the bridge's own API built here, from
 * the domain's camelCase records, so the field names of the protocol (docs/protocol.md, the OpenAPI
 * document's answer schemas) are written in one place. The error body is `errorBody` (errors/).
 */

/** A conversation as the API shows it. */
export function conversationView(c: Conversation) {
  return {
    conversation_id: c.id,
    state: c.state,
    origin: c.origin,
    helpline: c.helpline,
    chat_sender: c.contact,
    counselor_name: c.counselorName ?? null,
    closed_by: c.closedBy ?? null,
    close_reason: c.closeReason ?? null,
    closed_at: c.closedAt ?? null,
    hunt_count: c.huntCount,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

/** A message as the API shows it (legacy field names where they exist). */
export function messageView(m: Message) {
  return {
    uuid: m.uuid,
    chat_session: m.conversationId,
    message_id: m.messageId,
    chat_source: m.source,
    direction: m.direction,
    status: m.status,
    chat_message: m.text ?? null,
    attachments: m.attachments,
    sender_name: m.senderName ?? null,
    chat_receiver: m.receiver ?? null,
    last_error: m.lastError ?? null,
    replayed_at: m.replayedAt ?? null,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
  };
}

/** A conversation with its messages, oldest first: `GET chat/{session}/`. */
export function conversationWithMessagesView(c: Conversation, messages: readonly Message[]) {
  return { ...conversationView(c), messages: messages.map(messageView) };
}

/** The answer to `close/`. */
export function closeView(result: CloseResult) {
  return {
    conversation_id: result.conversationId,
    state: result.state,
    closed_by: result.closedBy,
    reason: result.reason ?? null,
    changed: result.changed,
  };
}

/** A dead letter as the admin API shows it. */
export function deadLetterView(d: DeadLetter) {
  return {
    id: d.id,
    conversation_id: d.conversationId,
    message_id: d.messageId ?? null,
    kind: d.kind,
    target: d.target,
    attempts: d.attempts,
    last_error: { code: d.lastError.code, status: d.lastError.status ?? null },
    failed_at: d.failedAt,
  };
}

/** `GET admin/overview`: conversations by state and the outbox figures (as `ready` gives them). Counts only. */
export function overviewView(
  conversations: ConversationCounts,
  outbox: { outbox_pending: number; oldest_pending_age_s: number; dead_letters: number },
) {
  return {
    conversations: { ...conversations },
    outbox_pending: outbox.outbox_pending,
    oldest_pending_age_s: outbox.oldest_pending_age_s,
    dead_letters: outbox.dead_letters,
  };
}

/**
 * A recent conversation as the admin API shows it (`GET admin/conversations`): ids, state, helpline,
 * the counselor's pseudonym, times and messages by status. Never the contact address (`chat_sender`),
 * the client's name, metadata or any message text.
 */
export function conversationSummaryView({ conversation: c, messageCounts, lastActivityAt }: ConversationSummary) {
  return {
    conversation_id: c.id,
    state: c.state,
    origin: c.origin,
    helpline: c.helpline,
    counselor_name: c.counselorName ?? null,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    last_activity_at: lastActivityAt,
    closed_at: c.closedAt ?? null,
    messages: { ...messageCounts },
  };
}

/** A page of results: `next_cursor` is null on the last page. */
export function pageView<T, C extends string | number>(results: T[], nextCursor: C | undefined) {
  return { results, next_cursor: nextCursor ?? null };
}
