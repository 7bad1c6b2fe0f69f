import { context } from "@opentelemetry/api";
import {
  type Attachment,
  type ClosedBy,
  type Conversation,
  type ConversationOrigin,
  DEFAULT_CHANNEL,
  type Message,
  type MessageDirection,
  type OutboxLane,
} from "../domain/model";
import {
  applyConversationEvent,
  type ConversationEffect,
  type ConversationEvent,
  messageTransition,
} from "../domain/state-machine";
import { BridgeError } from "../errors/bridge-error";
import { OpenChsBridgeError } from "../errors/openchs-bridge-error";
import type { Clock } from "../ports/clock";
import type {
  AcceptResult,
  CloseResult,
  OpenConversationInput,
  OpenConversationResult,
  ReopenConversationInput,
  ReopenConversationResult,
} from "../ports/conversations-port";
import { sha256HexSync } from "../signing/hash";
import { StoreConflictError, StoreUnavailableError } from "../store/errors";
import type { Store, StoreTx } from "../store/store";
import { captureTraceContext } from "../tracing/stored-context";
import { type BridgeEventMap, type BridgeEvents, closedEvent } from "./events";
import { ConversationTargets, type TargetOptions } from "./targets";

/** A client message (from the chatbot), however it arrived. */
export interface InboundClientMessage {
  conversationId: string;
  messageId?: string | undefined;
  text?: string | undefined;
  attachments?: Attachment[] | undefined;
  senderName?: string | undefined;
  /** The reply address; required when the conversation is new. */
  contact?: string | undefined;
  receiver?: string | undefined;
  /** `chat_channel`: the first message's becomes the conversation's channel (default `WENI`). */
  channel?: string | undefined;
  location?: string | undefined;
  risk?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  origin?: ConversationOrigin | undefined;
  ticket?: Conversation["ticket"];
}

/** A counselor reply (from the helpline). */
export interface InboundCounselorMessage {
  conversationId: string;
  messageId?: string | undefined;
  text?: string | undefined;
  attachments?: Attachment[] | undefined;
  counselorName?: string | undefined;
  counselorExtension?: string | undefined;
  /** `chat_channel` as the helpline echoed it: kept with the message, whatever it is. */
  channel?: string | undefined;
}

export interface AckInput {
  conversationId: string;
  messageId: string;
  status: "delivered" | "read" | "failed";
  /** Who acknowledges: the chatbot acks counselor messages, the helpline acks client messages. */
  by: "chatbot" | "helpline";
  counselorName?: string | undefined;
  reason?: string | undefined;
}

export interface AckResult {
  conversation_id: string;
  message_id: string;
  status: Message["status"];
  changed: boolean;
}

/** What the router sees of the first client message of a conversation. */
export interface RouteInput {
  conversationId: string;
  receiver?: string | undefined;
  location?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** What the service needs of the bridge's options. */
export interface ConversationOptions extends TargetOptions {
  store: Store;
  clock: Clock;
  /** Picks the helpline key of a new conversation. */
  route: (input: RouteInput) => string | undefined;
  duplicateWindowMs: number;
  /** Put message text in event payloads. */
  includeText: boolean;
}

type Emit = <K extends keyof BridgeEventMap>(name: K, payload: BridgeEventMap[K]) => void;

/**
 * The bridge's operations on conversations, shared by the HTTP handler, the programmatic API and the
 * ticketer: each runs in one store transaction (state machine decision, message, outbox job), then
 * emits events and wakes the delivery loop. Nothing is answered before the transaction commits.
 */
export class ConversationService {
  private readonly emit: Emit;
  /** Which helpline and chatbot target serve a conversation. */
  readonly targets: ConversationTargets;

  constructor(
    private readonly options: ConversationOptions,
    events: BridgeEvents,
    private readonly wake: () => void,
  ) {
    this.targets = new ConversationTargets(options);
    this.emit = (name, payload) => {
      (events.emit as (n: string, p: unknown) => boolean)(name, payload);
    };
  }

  private nowIso(): string {
    return new Date(this.options.clock.now()).toISOString();
  }

  async acceptClientMessage(input: InboundClientMessage): Promise<AcceptResult> {
    const textHash = sha256HexSync(messageFingerprint(input.text, input.attachments));
    const outcome = await this.withRetryOnConflict(async (tx) => {
      const now = this.options.clock.now();
      const at = new Date(now).toISOString();
      let conversation = await tx.getConversation(input.conversationId);
      const duplicate = await this.findDuplicate(
        tx,
        input.conversationId,
        "to_helpline",
        input.messageId,
        textHash,
        now,
      );
      if (duplicate) return { duplicate, conversation: conversation!, created: false };

      let created = false;
      if (!conversation) {
        // Without a reply address this cannot be the first message: the conversation is unknown.
        if (!input.contact) throw new BridgeError("conversation_not_found", "no conversation with that id");
        conversation = this.newConversation(
          { ...input, contact: input.contact, clientName: input.senderName, origin: input.origin ?? "webhook" },
          at,
        );
        await tx.insertConversation(conversation);
        created = true;
      } else {
        this.check(conversation, { type: "client_message" });
      }
      const message = await tx.insertMessage(
        this.newMessage(conversation, input.messageId, "to_helpline", "WENI", input, textHash, now),
      );
      await this.enqueue(tx, conversation.id, "helpline", "message", {}, message.uuid, at);
      return { duplicate: undefined, message, conversation, created };
    });
    return this.finishAccept(outcome, input.text);
  }

  async acceptCounselorMessage(input: InboundCounselorMessage): Promise<AcceptResult> {
    const textHash = sha256HexSync(messageFingerprint(input.text, input.attachments));
    let connected = false;
    const outcome = await this.withRetryOnConflict(async (tx) => {
      const now = this.options.clock.now();
      const at = new Date(now).toISOString();
      const conversation = await this.requireConversation(tx, input.conversationId);
      const duplicate = await this.findDuplicate(tx, conversation.id, "to_chatbot", input.messageId, textHash, now);
      if (duplicate) return { duplicate, conversation, created: false };
      const next = this.check(conversation, {
        type: "counselor_reply",
        counselorName: input.counselorName,
        counselorExtension: input.counselorExtension,
      });
      connected = next.changed && conversation.state !== "connected";
      const current = next.changed ? await this.save(tx, conversation, next.conversation, at) : conversation;
      const message = await tx.insertMessage(
        this.newMessage(
          current,
          input.messageId,
          "to_chatbot",
          "OUTBOX",
          {
            text: input.text,
            attachments: input.attachments,
            senderName: input.counselorName,
            receiver: input.counselorExtension,
            channel: input.channel,
          },
          textHash,
          now,
        ),
      );
      await this.enqueue(tx, conversation.id, "chatbot", "message", {}, message.uuid, at);
      return { duplicate: undefined, message, conversation: current, created: false };
    });
    if (connected) {
      this.emit("conversation.connected", {
        conversationId: outcome.conversation.id,
        counselorName: outcome.conversation.counselorName,
      });
    }
    return this.finishAccept(outcome, input.text);
  }

  async close(conversationId: string, closedBy: ClosedBy, reason: string | undefined): Promise<CloseResult> {
    const result = await this.withRetryOnConflict(async (tx) => {
      const conversation = await this.requireConversation(tx, conversationId);
      return this.applyAndEnqueue(tx, conversation, { type: "close", closedBy, reason, at: this.nowIso() });
    });
    const c = result.conversation;
    if (result.changed) {
      this.emit("conversation.closed", closedEvent(c, this.options.includeText));
      this.wake();
    }
    return {
      conversationId: c.id,
      state: "closed",
      changed: result.changed,
      closedBy: c.closedBy!,
      ...(c.closeReason !== undefined ? { reason: c.closeReason } : {}),
    };
  }

  async ack(input: AckInput): Promise<AckResult> {
    const direction: MessageDirection = input.by === "helpline" ? "to_helpline" : "to_chatbot";
    let connectedConversation: Conversation | undefined;
    const outcome = await this.withRetryOnConflict(async (tx) => {
      const at = this.nowIso();
      const conversation = await this.requireConversation(tx, input.conversationId);
      const message = await tx.getMessageByMessageId(conversation.id, direction, input.messageId);
      if (!message) {
        throw new BridgeError("message_not_found", `no ${direction.replace("_", " ")} message with that message_id`, {
          field: "message_id",
        });
      }
      if (messageTransition(message.status, input.status) === "noop") return { message, changed: false };
      const updated: Message = { ...message, status: input.status, updatedAt: at };
      await tx.updateMessage(updated);
      if (input.by === "helpline" && input.status === "read") {
        const next = applyConversationEvent(conversation, {
          type: "counselor_read",
          counselorName: input.counselorName,
        });
        if (next.ok && next.changed) {
          if (conversation.state !== "connected") connectedConversation = next.conversation;
          await this.save(tx, conversation, next.conversation, at);
        }
      }
      // Forward to the other side's ack endpoint, if it has one.
      const lane: OutboxLane = input.by === "helpline" ? "ack:chatbot" : "ack:helpline";
      if (this.targets.hasAckEndpoint(conversation, lane)) {
        await this.enqueue(
          tx,
          conversation.id,
          lane,
          "ack",
          {
            messageId: message.messageId,
            status: input.status,
            timestamp: at,
            ...(input.counselorName ? { counselorName: input.counselorName } : {}),
            ...(input.reason ? { reason: input.reason } : {}),
          },
          undefined,
          at,
        );
      }
      return { message: updated, changed: true };
    });
    const m = outcome.message;
    if (outcome.changed) {
      const base = this.messageEventBase(m);
      if (m.status === "delivered") this.emit("message.delivered", base);
      if (m.status === "read") this.emit("message.read", { ...base, counselorName: input.counselorName });
      if (m.status === "failed") {
        this.emit("message.failed", {
          ...base,
          error: { code: "refused_by_receiver", message: "the receiver reported the message failed" },
        });
      }
      this.wake();
    }
    if (connectedConversation) {
      this.emit("conversation.connected", {
        conversationId: connectedConversation.id,
        counselorName: connectedConversation.counselorName,
      });
    }
    return { conversation_id: m.conversationId, message_id: m.messageId, status: m.status, changed: outcome.changed };
  }

  /**
   * Applies an event to a stored conversation inside a transaction and enqueues what its effects
   * ask for (close notices, re-notifications). Used by close and by the hunting loop.
   */
  async applyAndEnqueue(
    tx: StoreTx,
    conversation: Conversation,
    event: ConversationEvent,
    /** For `hunt_timeout`: the message to re-send (looked up before the transaction). */
    renotifyMessageUuid?: string,
  ): Promise<{ conversation: Conversation; changed: boolean; effects: ConversationEffect[] }> {
    const next = this.check(conversation, event);
    if (!next.changed) return { conversation, changed: false, effects: [] };
    const at = this.nowIso();
    const saved = await this.save(tx, conversation, next.conversation, at);
    for (const effect of next.effects) {
      if (effect.type === "notify_close") {
        const payload = {
          closedBy: effect.closedBy,
          ...(effect.reason !== undefined ? { reason: effect.reason } : {}),
        };
        // Tell the side that did not close; a system close (hunting given up) tells both.
        if (effect.closedBy !== "helpline")
          await this.enqueue(tx, saved.id, "helpline", "close", payload, undefined, at);
        if (effect.closedBy !== "chatbot") await this.enqueue(tx, saved.id, "chatbot", "close", payload, undefined, at);
      } else if (effect.type === "renotify") {
        if (renotifyMessageUuid) {
          const payload = { round: effect.round, of: effect.of };
          await this.enqueue(tx, saved.id, "helpline", "renotify", payload, renotifyMessageUuid, at);
        }
      }
    }
    return { conversation: saved, changed: true, effects: next.effects };
  }

  /** The client message a hunting re-notification re-sends: the oldest one no counselor has read. */
  async oldestUnreadClientMessage(conversationId: string): Promise<Message | undefined> {
    const messages = await this.options.store.conversationMessages(conversationId);
    const client = messages.filter((m) => m.direction === "to_helpline");
    return client.find((m) => m.status !== "read" && m.status !== "failed") ?? client.at(-1);
  }

  /**
   * Opens a conversation without a message (style B: a mailroom ticket opened). Opening one that
   * exists is not an error: `created` is false.
   */
  async open(input: OpenConversationInput): Promise<OpenConversationResult> {
    const at = this.nowIso();
    let created = false;
    const conversation = await this.withRetryOnConflict(async (tx) => {
      created = false;
      const existing = await tx.getConversation(input.conversationId);
      if (existing) return existing;
      const fresh = this.newConversation(input, at);
      await tx.insertConversation(fresh);
      created = true;
      return fresh;
    });
    if (created) {
      this.emit("conversation.requested", {
        conversationId: conversation.id,
        helpline: conversation.helpline,
        origin: conversation.origin,
      });
    }
    return { conversationId: conversation.id, created, state: conversation.state, createdAt: conversation.createdAt };
  }

  /** A new conversation in `requested`, routed to the helpline that serves it. */
  private newConversation(
    input: Omit<OpenConversationInput, "contact"> & {
      contact: string;
      risk?: string | undefined;
      channel?: string | undefined;
    },
    at: string,
  ): Conversation {
    return {
      id: input.conversationId,
      state: "requested",
      origin: input.origin,
      helpline: this.pickHelpline(input),
      contact: input.contact,
      // An empty chat_channel is no channel: the legacy gateway's default then.
      channel: input.channel || DEFAULT_CHANNEL,
      clientName: input.clientName,
      location: input.location,
      risk: input.risk,
      metadata: input.metadata,
      ticket: input.ticket,
      huntCount: 0,
      createdAt: at,
      updatedAt: at,
      version: 1,
    };
  }

  private pickHelpline(input: {
    conversationId: string;
    receiver?: string | undefined;
    location?: string | undefined;
    metadata?: Record<string, unknown> | undefined;
  }): string {
    const key = this.options.route({
      conversationId: input.conversationId,
      receiver: input.receiver,
      location: input.location,
      metadata: input.metadata,
    });
    if (key === undefined || !this.targets.hasHelpline(key)) {
      throw new BridgeError("invalid_field", "no helpline serves this conversation's routing key", {
        field: input.receiver !== undefined ? "chat_receiver" : "location",
      });
    }
    return key;
  }

  private check(conversation: Conversation, event: ConversationEvent) {
    const result = applyConversationEvent(conversation, event);
    if (!result.ok) {
      throw new BridgeError(result.code, result.message, { state: result.state });
    }
    return result;
  }

  private async save(tx: StoreTx, before: Conversation, next: Conversation, at: string): Promise<Conversation> {
    const saved = { ...next, version: before.version + 1, updatedAt: at };
    if (!(await tx.updateConversation(saved, before.version))) throw new VersionConflict();
    return saved;
  }

  private async requireConversation(tx: StoreTx, id: string): Promise<Conversation> {
    const conversation = await tx.getConversation(id);
    if (!conversation) throw new BridgeError("conversation_not_found", "no conversation with that chat_session");
    return conversation;
  }

  private async findDuplicate(
    tx: StoreTx,
    conversationId: string,
    direction: MessageDirection,
    messageId: string | undefined,
    textHash: string,
    now: number,
  ): Promise<Message | undefined> {
    if (messageId !== undefined) return tx.getMessageByMessageId(conversationId, direction, messageId);
    if (this.options.duplicateWindowMs === 0) return undefined;
    return tx.findRecentByTextHash(conversationId, direction, textHash, now - this.options.duplicateWindowMs);
  }

  private newMessage(
    conversation: Conversation,
    messageId: string | undefined,
    direction: MessageDirection,
    source: Message["source"],
    content: {
      text?: string | undefined;
      attachments?: Attachment[] | undefined;
      senderName?: string | undefined;
      receiver?: string | undefined;
      channel?: string | undefined;
    },
    textHash: string,
    now: number,
  ) {
    const uuid = crypto.randomUUID();
    const at = new Date(now).toISOString();
    return {
      uuid,
      conversationId: conversation.id,
      messageId: messageId ?? `auto-${uuid}`,
      messageIdGiven: messageId !== undefined,
      direction,
      source,
      text: content.text,
      attachments: content.attachments ?? [],
      senderName: content.senderName,
      receiver: content.receiver,
      ...(content.channel ? { channel: content.channel } : {}),
      textHash,
      status: "accepted" as const,
      createdAtMs: now,
      createdAt: at,
      updatedAt: at,
      attempts: 0,
      acceptedState: conversation.state,
    };
  }

  private async enqueue(
    tx: StoreTx,
    conversationId: string,
    lane: OutboxLane,
    kind: "message" | "close" | "ack" | "renotify",
    payload: Record<string, unknown>,
    messageUuid: string | undefined,
    at: string,
  ): Promise<void> {
    await tx.enqueueJob({
      conversationId,
      lane,
      kind,
      messageUuid,
      payload,
      attempts: 0,
      nextAttemptAt: this.options.clock.now(),
      createdAt: at,
      traceContext: captureTraceContext(),
    });
  }

  private finishAccept(
    outcome: { duplicate?: Message | undefined; message?: Message; conversation: Conversation; created: boolean },
    text: string | undefined,
  ): AcceptResult {
    const m = (outcome.duplicate ?? outcome.message)!;
    const result: AcceptResult = {
      status: "accepted",
      duplicate: outcome.duplicate !== undefined,
      uuid: m.uuid,
      conversation_id: m.conversationId,
      message_id: m.messageId,
      conversation_state: m.acceptedState,
    };
    const base = this.messageEventBase(m, text);
    if (outcome.duplicate) {
      this.emit("message.duplicate", base);
      return result;
    }
    if (outcome.created) {
      this.emit("conversation.requested", {
        conversationId: outcome.conversation.id,
        helpline: outcome.conversation.helpline,
        origin: outcome.conversation.origin,
      });
    }
    this.emit("message.accepted", { ...base, duplicate: false });
    this.wake();
    return result;
  }

  messageEventBase(m: Message, text: string | undefined = m.text) {
    return {
      conversationId: m.conversationId,
      messageId: m.messageId,
      uuid: m.uuid,
      direction: m.direction,
      ...(this.options.includeText && text !== undefined ? { text } : {}),
    };
  }

  /**
   * Runs a transaction, retrying a few times when a concurrent writer won a race (a unique key or a
   * version check): the next run sees the winner's write (e.g. the message is then a duplicate).
   */
  async withRetryOnConflict<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        // Bound to the caller's trace context: a store may run `fn` later, from another caller's
        // continuation, and the jobs `fn` queues must carry this request's trace.
        return await this.options.store.transaction(context.bind(context.active(), fn));
      } catch (error) {
        if (error instanceof BridgeError) throw error;
        if ((error instanceof StoreConflictError || error instanceof VersionConflict) && attempt < 5) continue;
        if (error instanceof StoreConflictError || error instanceof VersionConflict) {
          throw new BridgeError("invalid_transition", "the conversation changed concurrently; try again");
        }
        throw new BridgeError("store_unavailable", "the store is unavailable; nothing was accepted", {
          retryAfterS: 5,
          cause: error instanceof StoreUnavailableError ? error : undefined,
        });
      }
    }
  }

  /**
   * Reopens a ticket's conversation (style B: mailroom reopened the ticket). Closed is final, so a
   * NEW conversation continues the newest one of the chain when that one is closed: same contact,
   * helpline, channel and ticket, back in `requested` (hunting starts with its first message),
   * linked both ways (`reopenedFrom`, `reopenedTo`) and with `metadata.reopened_from` for the
   * helpline. When the newest one is still open, nothing is created. One transaction, so a retry
   * either finds the link made or makes it.
   */
  async reopen(input: ReopenConversationInput): Promise<ReopenConversationResult> {
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(input.newConversationId)) {
      throw new BridgeError("invalid_field", "the new conversation id must be 1-100 of [A-Za-z0-9_-]", {
        field: "conversation_id",
      });
    }
    let created = false;
    const conversation = await this.withRetryOnConflict(async (tx) => {
      created = false;
      const at = this.nowIso();
      const named = await this.requireConversation(tx, input.conversationId);
      const newest = await this.newestOf(tx, named);
      if (newest.state !== "closed") return newest;
      if (!this.targets.hasHelpline(newest.helpline)) {
        throw new BridgeError("invalid_field", "the helpline that served this conversation is not configured", {
          field: "helpline",
        });
      }
      if (await tx.getConversation(input.newConversationId)) {
        throw new BridgeError("invalid_field", "a conversation with the new conversation id exists already", {
          field: "conversation_id",
        });
      }
      // Everything that says who and where (contact, helpline, channel, ticket…) carries over;
      // everything of the old one's life (state, counselor, hunting, close) starts again.
      const fresh: Conversation = {
        ...newest,
        id: input.newConversationId,
        state: "requested",
        metadata: { ...newest.metadata, ...input.metadata, reopened_from: newest.id },
        // Mailroom keeps naming the ticket by the external_id it was given: the callbacks of the
        // new conversation must too (the named conversation's id, for tickets stored without one).
        ...(newest.ticket ? { ticket: { ...newest.ticket, externalId: newest.ticket.externalId ?? named.id } } : {}),
        reopenedFrom: newest.id,
        reopenedTo: undefined,
        counselorName: undefined,
        counselorExtension: undefined,
        huntCount: 0,
        huntDeadline: undefined,
        closedBy: undefined,
        closeReason: undefined,
        closedAt: undefined,
        createdAt: at,
        updatedAt: at,
        version: 1,
      };
      await tx.insertConversation(fresh);
      await this.save(tx, newest, { ...newest, reopenedTo: fresh.id }, at);
      created = true;
      return fresh;
    });
    if (created) {
      this.emit("conversation.requested", {
        conversationId: conversation.id,
        helpline: conversation.helpline,
        origin: conversation.origin,
      });
    }
    return {
      conversationId: conversation.id,
      created,
      state: conversation.state,
      createdAt: conversation.createdAt,
      ...(conversation.reopenedFrom !== undefined ? { reopenedFrom: conversation.reopenedFrom } : {}),
    };
  }

  /** The conversation that answers now for `conversationId` (reopen links followed); undefined when unknown. */
  async current(conversationId: string): Promise<string | undefined> {
    return this.withRetryOnConflict(async (tx) => {
      const conversation = await tx.getConversation(conversationId);
      return conversation ? (await this.newestOf(tx, conversation)).id : undefined;
    });
  }

  /** Follows `reopenedTo` links to the newest conversation of a chain. */
  private async newestOf(tx: StoreTx, conversation: Conversation): Promise<Conversation> {
    let newest = conversation;
    // Bounded: one link per reopen, and a cycle (a corrupted store) must not hang a request.
    for (let hops = 0; newest.reopenedTo !== undefined && hops < 1000; hops++) {
      const next = await tx.getConversation(newest.reopenedTo);
      if (!next) break; // erased on request: the chain ends at the last one kept
      newest = next;
    }
    return newest;
  }
}

/** A conditional update lost to a concurrent writer. */
export class VersionConflict extends OpenChsBridgeError {
  override name = "VersionConflict";
  constructor() {
    super("version_conflict", "the record was changed by a concurrent writer");
  }
}

/** What the identical-text rule compares: the text and the attachment URLs. */
function messageFingerprint(text: string | undefined, attachments: Attachment[] | undefined): string {
  return JSON.stringify([text ?? "", (attachments ?? []).map((a) => a.url)]);
}
