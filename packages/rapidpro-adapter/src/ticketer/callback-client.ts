import type {
  ChatbotMessage,
  ChatbotTarget,
  CloseNotice,
  DeliveryContext,
  UnavailableNotice,
  UpstreamErrorInit,
} from "@openchs-bridge/core";
import { createUpstreamHttp } from "@openchs-bridge/core/upstream";
import { z } from "zod";
import { describeMailroomError, isRapidProError, RapidProError, validationError } from "../errors";
import {
  type CallOptions,
  configError,
  headerSafe,
  isFilled,
  parseUrlOption,
  type TransportOptions,
} from "../internal/shared";
import { signTicketerCallback } from "./signature";

const FACTORY = "createTicketerCallbackClient";
const SERVICE = "mailroom";

/** Options of {@link createTicketerCallbackClient}. */
export interface TicketerCallbackClientOptions extends TransportOptions {
  /**
   * Mailroom's callback base for this ticketer, `…/event_callback/{ticketer_uuid}`
   * (`TICKETER_CALLBACK_URL`); the client posts to `…/messages` and `…/tickets/close` below it.
   */
  callbackUrl: string;
  /** The ticketer's `webhook_secret` (`TICKETER_WEBHOOK_SECRET`): every body is signed with it. */
  secret: string;
  /** Extra headers of every callback. */
  headers?: Record<string, string> | undefined;
  /** Time source for `X-Webhook-Timestamp` and default `sent_at`/`closed_at`, epoch ms (tests). */
  now?: (() => number) | undefined;
  /** Allow a plain-http `callbackUrl` other than localhost (a sandbox). */
  allowHttp?: boolean | undefined;
}

/** An actor of a callback. */
export interface CallbackActor {
  /** `agent` for a counselor, `system` for the bridge itself (contract: platform, agent, contact, flow, system). */
  type: "agent" | "system" | "platform" | "contact" | "flow" | (string & {});
  id?: string | undefined;
  name?: string | undefined;
  email?: string | undefined;
}

/** A counselor message for the contact: `POST …/messages`. */
export interface AgentMessageInput {
  /** The ticket's `external_id`: the bridge's conversation id. */
  external_id: string;
  /** The message's id on the ticketer side (the bridge's message id): mailroom's dedupe key. */
  message_external_id: string;
  sender: CallbackActor;
  text?: string | undefined;
  attachments?: { url: string; content_type?: string | undefined }[] | undefined;
  /** RFC 3339. Default now. */
  sent_at?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** A close from the ticketer side: `POST …/tickets/close`. */
export interface TicketCloseInput {
  external_id: string;
  closed_by: CallbackActor;
  /** Contract values: `resolved`, `abandoned`, `transferred`, `expired`, `cancelled`, `other`. */
  reason?: string | undefined;
  /** RFC 3339. Default now. */
  closed_at?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** Mailroom's answer to `…/messages`. */
export interface AgentMessageResult {
  status: string | undefined;
  ticket_uuid: string | undefined;
  message_uuid: string | undefined;
}

/** Mailroom's answer to `…/tickets/close`; `alreadyClosed` when it answered 409. */
export interface TicketCloseResult {
  status: "closed";
  alreadyClosed: boolean;
}

/** The ticketer → mailroom callbacks, signed. */
export interface TicketerCallbackClient {
  /** `POST …/messages`. Retried (with `Idempotency-Key: message-<message_external_id>`). */
  sendMessage(input: AgentMessageInput, options?: CallOptions): Promise<AgentMessageResult>;
  /** `POST …/tickets/close`. Retried (with `Idempotency-Key: close-<external_id>-<closed_at>`); a 409 (already closed) is success. */
  closeTicket(input: TicketCloseInput, options?: CallOptions): Promise<TicketCloseResult>;
}

const answerSchema = z
  .looseObject({
    status: z.string().nullish(),
    ticket_uuid: z.string().nullish(),
    message_uuid: z.string().nullish(),
  })
  .nullish();

/**
 * Creates the client of mailroom's generic-ticketer callbacks. Each body is serialised once,
 * signed over those exact bytes (`X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, body)>`,
 * `X-Webhook-Timestamp`) and sent with `X-Request-Id`. Failures are {@link RapidProError}s of
 * service `mailroom` (`{"error","message"}` bodies read), the secret never in them.
 */
export function createTicketerCallbackClient(options: TicketerCallbackClientOptions): TicketerCallbackClient {
  const base = parseUrlOption(
    FACTORY,
    "callbackUrl",
    options.callbackUrl,
    "https://flows.example.org/mr/tickets/types/generic/event_callback/<ticketer uuid>",
  );
  if (
    base.protocol !== "https:" &&
    !["localhost", "127.0.0.1", "[::1]"].includes(base.hostname) &&
    !options.allowHttp
  ) {
    configError(FACTORY, "`callbackUrl` must use https (`allowHttp` for a sandbox)");
  }
  base.search = "";
  if (!isFilled(options.secret)) configError(FACTORY, "`secret` is required: the ticketer's webhook_secret");
  const now = options.now ?? Date.now;
  const createError = (init: UpstreamErrorInit) => new RapidProError(SERVICE, init);
  const http = createUpstreamHttp({
    label: "Mailroom ticketer callback",
    baseUrl: base.toString(),
    timeoutMs: options.timeoutMs,
    retry: options.retry,
    fetch: options.fetch,
    headers: options.headers,
    describeError: describeMailroomError,
    createError,
  });

  async function post(path: string, body: Record<string, unknown>, key: string, callOptions?: CallOptions) {
    const raw = JSON.stringify(body);
    const signature = await signTicketerCallback({ body: raw, secret: options.secret, now: now() });
    const response = await http.request({
      method: "POST",
      path,
      body: raw,
      headers: {
        "content-type": "application/json",
        ...signature,
        "X-Request-Id": crypto.randomUUID(),
        "Idempotency-Key": headerSafe(key),
      },
      schema: answerSchema,
      signal: callOptions?.signal,
    });
    return response.data;
  }

  const iso = () => new Date(now()).toISOString().replace(/\.\d{3}Z$/, "Z");

  return {
    async sendMessage(input, callOptions) {
      if (!isFilled(input.external_id)) throw validationError("external_id", "external_id is required", SERVICE);
      if (!isFilled(input.message_external_id)) {
        throw validationError("message_external_id", "message_external_id is required", SERVICE);
      }
      if (!isFilled(input.sender?.type)) throw validationError("sender.type", "sender.type is required", SERVICE);
      const attachments = input.attachments ?? [];
      if (!isFilled(input.text) && attachments.length === 0) {
        throw validationError("text", "text or attachments is required", SERVICE);
      }
      const body = {
        external_id: input.external_id,
        message_external_id: input.message_external_id,
        direction: "outgoing",
        sender: compact(input.sender),
        ...(isFilled(input.text) ? { text: input.text } : {}),
        attachments: attachments.map((a) => compact({ url: a.url, content_type: a.content_type })),
        ...(input.metadata ? { metadata: input.metadata } : {}),
        sent_at: input.sent_at ?? iso(),
      };
      const data = await post("messages", body, `message-${input.message_external_id}`, callOptions);
      return {
        status: data?.status ?? undefined,
        ticket_uuid: data?.ticket_uuid ?? undefined,
        message_uuid: data?.message_uuid ?? undefined,
      };
    },

    async closeTicket(input, callOptions) {
      if (!isFilled(input.external_id)) throw validationError("external_id", "external_id is required", SERVICE);
      if (!isFilled(input.closed_by?.type))
        throw validationError("closed_by.type", "closed_by.type is required", SERVICE);
      const body = {
        external_id: input.external_id,
        closed_by: compact(input.closed_by),
        ...(isFilled(input.reason) ? { reason: input.reason } : {}),
        ...(input.metadata ? { metadata: input.metadata } : {}),
        closed_at: input.closed_at ?? iso(),
      };
      try {
        // One key per close, not per ticket: a reopened ticket is closed again, and must not be
        // taken for a repeat of its first close.
        await post("tickets/close", body, `close-${input.external_id}-${body.closed_at}`, callOptions);
        return { status: "closed", alreadyClosed: false };
      } catch (error) {
        if (isRapidProError(error, "conflict")) return { status: "closed", alreadyClosed: true };
        throw error;
      }
    },
  };
}

function compact<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== "")) as Partial<T>;
}

/** The `reason` values of the generic ticketer contract. */
export const TICKET_CLOSE_REASONS = ["resolved", "abandoned", "transferred", "expired", "cancelled", "other"] as const;

/** Options of {@link createTicketerChatbotTarget}. */
export interface TicketerChatbotTargetOptions {
  /** The signed callback client (`createTicketerCallbackClient`). */
  callback: TicketerCallbackClient;
  /**
   * Maps a bridge close to the contract's `reason`. Default: a contract value passes as is,
   * `no_counselor` (hunting given up) is `expired`, no reason is `resolved` for a helpline close and
   * `other` for the system; anything else is `other`, the original in `metadata.reason_text`.
   */
  mapReason?: ((close: CloseNotice) => string) | undefined;
  /**
   * The text sent to the contact when the helpline is unavailable for a new conversation
   * (`BRIDGE_UNAVAILABLE_TEXT`); else the bridge's `unavailableNotice.text`. With neither, nothing is
   * sent: mailroom has no flow to start, so the text is all the child gets.
   */
  unavailableText?: string | undefined;
}

/**
 * The bridge's `ChatbotTarget` for conversations opened by the Weni ticketer (style B): replies
 * and closes go back through mailroom's callbacks, not RapidPro's API.
 * - `deliverMessage` → `…/messages`, sender `{"type":"agent","id":<extension or "helpline">,"name":<pseudonym>}`,
 *   `message_external_id` the bridge's message id, `external_id` the ticket's (`ticket.externalId`:
 *   the conversation the ticket opened, also after a reopen moved it to a new conversation; else
 *   the conversation id).
 * - `notifyClose` → `…/tickets/close`, `closed_by.type` `agent` (helpline) or `system` (hunting given
 *   up); a close that came from mailroom itself is not echoed back.
 * - `notifyUnavailable` → `…/messages` with the unavailable text (when one is configured), sender
 *   `{"type":"agent","id":"bridge"}` (the one sender type mailroom's contract documents for this
 *   callback, as for counselor replies), `message_external_id` `unavailable-<conversation id>` (so
 *   mailroom drops a repeat), `metadata.reason` `helpline_unavailable`. The ticket stays open.
 */
export function createTicketerChatbotTarget(options: TicketerChatbotTargetOptions): ChatbotTarget {
  const { callback } = options;
  if (!callback || typeof callback.sendMessage !== "function") {
    configError("createTicketerChatbotTarget", "`callback` is required (createTicketerCallbackClient(...))");
  }
  const mapReason = options.mapReason ?? defaultReason;
  if (options.unavailableText !== undefined && !isFilled(options.unavailableText)) {
    configError("createTicketerChatbotTarget", "`unavailableText` must be non-empty when given");
  }
  return {
    async deliverMessage(message: ChatbotMessage, context: DeliveryContext) {
      await callback.sendMessage(
        {
          external_id: message.ticket?.externalId ?? message.conversationId,
          message_external_id: message.messageId,
          sender: {
            type: "agent",
            id: isFilled(message.counselorExtension) ? message.counselorExtension : "helpline",
            ...(isFilled(message.counselorName) ? { name: message.counselorName } : {}),
          },
          ...(isFilled(message.text) ? { text: message.text } : {}),
          attachments: message.attachments.map((a) => ({ url: a.url, content_type: a.content_type })),
          sent_at: message.sentAt,
        },
        { signal: context.signal },
      );
    },

    async notifyClose(close: CloseNotice, context: DeliveryContext) {
      if (close.closedBy === "chatbot") return;
      const reason = mapReason(close);
      const keepText = isFilled(close.reason) && close.reason !== reason && close.reason !== "no_counselor";
      await callback.closeTicket(
        {
          external_id: close.ticket?.externalId ?? close.conversationId,
          closed_by:
            close.closedBy === "helpline" ? { type: "agent", id: "helpline" } : { type: "system", id: "bridge" },
          reason,
          closed_at: close.closedAt,
          ...(keepText ? { metadata: { reason_text: close.reason!.slice(0, 200) } } : {}),
        },
        { signal: context.signal },
      );
    },

    async notifyUnavailable(notice: UnavailableNotice, context: DeliveryContext) {
      const text = options.unavailableText ?? notice.text;
      if (!isFilled(text)) return;
      await callback.sendMessage(
        {
          external_id: notice.ticket?.externalId ?? notice.conversationId,
          message_external_id: `unavailable-${notice.conversationId}`,
          sender: { type: "agent", id: "bridge" },
          text,
          metadata: { reason: notice.reason },
        },
        { signal: context.signal },
      );
    },
  };
}

function defaultReason(close: CloseNotice): string {
  const reason = close.reason;
  if (reason !== undefined && (TICKET_CLOSE_REASONS as readonly string[]).includes(reason)) return reason;
  if (reason === "no_counselor") return "expired";
  if (!isFilled(reason)) return close.closedBy === "helpline" ? "resolved" : "other";
  return "other";
}
