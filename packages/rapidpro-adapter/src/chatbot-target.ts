import type {
  AckNotice,
  ChatbotMessage,
  ChatbotTarget,
  CloseNotice,
  DeliveryContext,
  UnavailableNotice,
} from "@openchs-bridge/core";
import { createUpstreamHttp, type RetryPolicy, staticAuth, type UpstreamHttp } from "@openchs-bridge/core/upstream";
import type { RapidProClient } from "./client/client";
import { parseReplyAddress, replyRecipients } from "./client/reply-address";
import { describeRapidProError, RapidProError, validationError } from "./errors";
import { configError, isFilled, parseUrlOption, renderTemplate } from "./internal/shared";

const FACTORY = "createRapidProChatbotTarget";

/** The default text of a counselor reply: `"{name}: {text}"`, or just the text when there is no name. */
export const DEFAULT_TEXT_TEMPLATE = "{name}: {text}";

/** Where the chatbot's delivery acks go (`CHATBOT_ACK_URL`, `CHATBOT_ACK_TOKEN`). */
export interface ChatbotAckOptions {
  /** The ack endpoint: each ack is a `POST` to this URL. */
  url: string;
  /** Sent as `Authorization: <scheme> <token>`. Keep credentials out of `url`. */
  token?: string | undefined;
  /** The scheme of `token`. Default `Token`. */
  scheme?: string | undefined;
  /** Extra headers of every ack. */
  headers?: Record<string, string> | undefined;
  /** Builds the body. Default `{"conversation_id","message_id","status","timestamp"}` (plus `reason` on `failed`). */
  body?: ((ack: AckNotice) => unknown) | undefined;
}

/** Options of {@link createRapidProChatbotTarget}. */
export interface RapidProChatbotTargetOptions {
  /** The RapidPro client replies and flow starts go through. */
  client: Pick<RapidProClient, "sendText" | "flowStarts" | "flavour">;
  /** UUID of the flow started when the helpline closes or hunting is given up (`RAPIDPRO_CLOSE_FLOW`). */
  closeFlow: string;
  /**
   * UUID of the flow started when the helpline is unavailable for a new conversation
   * (`RAPIDPRO_UNAVAILABLE_FLOW`), with `params.reason` `helpline_unavailable`. Default `closeFlow`:
   * one flow can branch on `@trigger.params.reason`.
   */
  unavailableFlow?: string | undefined;
  /**
   * The text sent for a counselor reply: a template with `{name}` (the counselor's pseudonym) and
   * `{text}`, or a function. Default `"{name}: {text}"`; without a pseudonym, just the text.
   */
  textTemplate?: string | ((message: ChatbotMessage) => string) | undefined;
  /**
   * How attachments travel. `append` (default): their URLs are appended to the text, one per line,
   * on every flavour. `messages`: on nyaruka ≥ 8.2 they are passed to `POST messages.json` as
   * `<content-type>:<url>`, which RapidPro accepts only for media of its own workspace (uploaded to
   * `media.json`); elsewhere they are appended.
   */
  attachments?: "append" | "messages" | undefined;
  /** Delivery acks to the chatbot; `sendAck` exists only when this is set. */
  ack?: ChatbotAckOptions | undefined;
  /** A `fetch` for the ack endpoint (tests, proxies). */
  fetch?: typeof fetch | undefined;
  /** Per-attempt timeout of an ack, in ms. Default 15000. */
  ackTimeoutMs?: number | undefined;
  /** Retry policy of acks (they are idempotent, so they are retried). */
  ackRetry?: Partial<RetryPolicy> | false | undefined;
}

/**
 * The bridge's `ChatbotTarget` for conversations opened by a flow webhook (style A). The reply
 * address is the conversation's `chat_sender`, read by {@link parseReplyAddress}: a contact UUID,
 * a URN, or a phone number (as `tel:+<digits>`).
 * - `deliverMessage`: the counselor's reply, rendered by the text template, goes to the contact by
 *   `sendText` (`POST messages.json` for a contact UUID on nyaruka ≥ 8.2, a broadcast with
 *   `contacts` or `urns` otherwise), sent once per attempt: the bridge's outbox retries what is retriable.
 * - `notifyClose`: starts `closeFlow` for the address (`contacts` or `urns`) with `params`
 *   `{"conversation_id","closed_by","reason"}`, so the flow hands the child back to the bot. A close
 *   by the chatbot itself is not echoed back to it.
 * - `notifyUnavailable`: starts `unavailableFlow` (default `closeFlow`) for the address with `params`
 *   `{"conversation_id","reason":"helpline_unavailable"}`: the helpline has not taken the
 *   conversation in time, delivery goes on, and the bot keeps the child company meanwhile.
 * - `sendAck` (only with `ack`): posts each ack to the chatbot's ack endpoint.
 * Every call passes the delivery's `signal`; failures are {@link RapidProError}s.
 */
export function createRapidProChatbotTarget(options: RapidProChatbotTargetOptions): ChatbotTarget {
  if (!options?.client || typeof options.client.sendText !== "function") {
    configError(FACTORY, "`client` is required (createRapidProClient(...))");
  }
  if (!isFilled(options.closeFlow)) configError(FACTORY, "`closeFlow` is required: the UUID of the flow to start");
  const template = options.textTemplate ?? DEFAULT_TEXT_TEMPLATE;
  if (typeof template !== "string" && typeof template !== "function") {
    configError(FACTORY, "`textTemplate` must be a string or a function");
  }
  const attachmentMode = options.attachments ?? "append";
  if (attachmentMode !== "append" && attachmentMode !== "messages") {
    configError(FACTORY, '`attachments` must be "append" or "messages"');
  }
  if (options.unavailableFlow !== undefined && !isFilled(options.unavailableFlow)) {
    configError(FACTORY, "`unavailableFlow` must be a flow UUID when given (default: `closeFlow`)");
  }
  const { client, closeFlow } = options;
  const unavailableFlow = options.unavailableFlow ?? closeFlow;

  const target: ChatbotTarget = {
    async deliverMessage(message: ChatbotMessage, context: DeliveryContext) {
      let text = renderText(template, message);
      let mediaForMessages: string[] | undefined;
      if (message.attachments.length > 0) {
        // Only messages.json carries media, and it takes a contact UUID only: a URN address gets URLs.
        const byMessages =
          attachmentMode === "messages" &&
          parseReplyAddress(message.contact).kind === "contact" &&
          (await client.flavour({ signal: context.signal })) === "nyaruka";
        if (byMessages) {
          mediaForMessages = message.attachments.map((a) => `${a.content_type}:${a.url}`);
        } else {
          text = [text, ...message.attachments.map((a) => a.url)].filter((part) => part !== "").join("\n");
        }
      }
      if (text === "" && !mediaForMessages) {
        throw validationError("text", "the counselor message has neither text nor attachments: nothing to send");
      }
      await client.sendText(message.contact, text, {
        signal: context.signal,
        ...(mediaForMessages ? { attachments: mediaForMessages } : {}),
        ...(message.ticket?.ticketId ? { ticket: message.ticket.ticketId } : {}),
      });
    },

    async notifyClose(close: CloseNotice, context: DeliveryContext) {
      if (close.closedBy === "chatbot") return;
      await client.flowStarts.create(
        {
          flow: closeFlow,
          ...replyRecipients(close.contact),
          params: { conversation_id: close.conversationId, closed_by: close.closedBy, reason: close.reason ?? "" },
        },
        { signal: context.signal },
      );
    },

    async notifyUnavailable(notice: UnavailableNotice, context: DeliveryContext) {
      await client.flowStarts.create(
        {
          flow: unavailableFlow,
          ...replyRecipients(notice.contact),
          params: { conversation_id: notice.conversationId, reason: notice.reason },
        },
        { signal: context.signal },
      );
    },
  };

  if (options.ack) target.sendAck = createAckSender(options);
  return target;
}

function renderText(template: string | ((message: ChatbotMessage) => string), message: ChatbotMessage): string {
  if (typeof template === "function") return template(message);
  const text = message.text ?? "";
  if (!isFilled(message.counselorName)) return text;
  const rendered = renderTemplate(template, { name: message.counselorName, text });
  // An attachment-only reply: "{name}: " then the URLs on the next lines, without a dangling space.
  return text === "" ? rendered.trimEnd() : rendered;
}

function createAckSender(options: RapidProChatbotTargetOptions) {
  const ack = options.ack!;
  const url = parseUrlOption(FACTORY, "ack.url", ack.url, "https://chatbot.example.org/acks");
  // parseUrlOption adds a trailing slash for base URLs; an ack URL is posted to exactly as given.
  const exact = new URL(ack.url);
  if (ack.token !== undefined && !isFilled(ack.token)) configError(FACTORY, "`ack.token` must be non-empty");
  if (ack.body !== undefined && typeof ack.body !== "function") configError(FACTORY, "`ack.body` must be a function");
  const http: UpstreamHttp = createUpstreamHttp({
    label: "Chatbot ack endpoint",
    baseUrl: url.origin,
    timeoutMs: options.ackTimeoutMs,
    retry: options.ackRetry,
    fetch: options.fetch,
    headers: ack.headers,
    ...(ack.token !== undefined
      ? { auth: staticAuth({ authorization: `${ack.scheme ?? "Token"} ${ack.token}` }) }
      : {}),
    describeError: describeRapidProError,
    createError: (init) => new RapidProError("chatbot-ack", init),
  });
  const build = ack.body ?? defaultAckBody;
  return async (notice: AckNotice, context: DeliveryContext) => {
    await http.request({
      method: "POST",
      path: `${exact.pathname}${exact.search}`,
      json: build(notice),
      // An ack only moves a status forward: sending it twice is harmless, so it is retried.
      idempotent: true,
      signal: context.signal,
    });
  };
}

/** The default ack body: `{"conversation_id","message_id","status","timestamp"}`, plus `reason` on `failed`. */
export function defaultAckBody(ack: AckNotice): Record<string, string> {
  return {
    conversation_id: ack.conversationId,
    message_id: ack.messageId,
    status: ack.status,
    timestamp: ack.timestamp,
    ...(ack.status === "failed" && ack.reason !== undefined ? { reason: ack.reason } : {}),
  };
}
