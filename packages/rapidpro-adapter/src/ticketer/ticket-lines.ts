import { type Attachment, sha256HexSync } from "@openchs-bridge/core";
import type { z } from "zod";
import { isFilled } from "../internal/shared";
import { TicketerFailure } from "./failure";
import type { actorSchema, ticketAttachmentSchema } from "./schemas";

/** How the counselor tells the bot's lines from the child's: their text starts with it. */
export const BOT_LINE_PREFIX = "[bot]";

/** A line of a ticket's conversation as mailroom posts it: to `…/messages`, or in `…/history`. */
export interface TicketLine {
  message_id?: string | undefined;
  direction?: string | undefined;
  sender?: z.output<typeof actorSchema> | undefined;
  text?: string | undefined;
  attachments?: z.output<typeof ticketAttachmentSchema>[] | undefined;
  sent_at?: string | undefined;
}

/** A line as the helpline gets it: a client message of the conversation. */
export interface ClientLine {
  /** `direction: "outgoing"`: the bot's own line, history the counselor reads as context. */
  fromBot: boolean;
  text?: string | undefined;
  attachments: Attachment[];
  /** The contact's name for the child's lines; none for the bot's (they are not the child's words). */
  senderName?: string | undefined;
}

/**
 * Reads one line. Mailroom sends the contact's lines as `incoming` and, in history (batched, or one
 * by one on `…/messages`), the bot's own as `outgoing` with `sender.type` `bot`
 * (weni-ai/mailroom `services/tickets/generic/history.go`). The bridge has no author for a client
 * message other than the child, so a bot line is a client message whose text starts `[bot] ` (an
 * attachment-only one is `[bot]`). Undefined when the line has nothing to show; any other
 * `direction` is `400 invalid_payload` naming `{field}direction`.
 */
export function toClientLine(line: TicketLine, field = ""): ClientLine | undefined {
  const direction = line.direction ?? "incoming";
  if (direction !== "incoming" && direction !== "outgoing") {
    throw new TicketerFailure("invalid_payload", 'direction must be "incoming" or "outgoing"', {
      field: `${field}direction`,
    });
  }
  const fromBot = direction === "outgoing";
  const attachments = (line.attachments ?? []).map((a) => ({
    url: a.url,
    content_type: a.content_type || (a.url.startsWith("geo:") ? "geo" : "application/octet-stream"),
  }));
  const said = isFilled(line.text) ? line.text : undefined;
  const text = fromBot
    ? said !== undefined
      ? `${BOT_LINE_PREFIX} ${said}`
      : attachments.length > 0
        ? BOT_LINE_PREFIX
        : undefined
    : said;
  if (text === undefined && attachments.length === 0) return undefined;
  return {
    fromBot,
    ...(text !== undefined ? { text } : {}),
    attachments,
    ...(!fromBot && isFilled(line.sender?.name) ? { senderName: line.sender.name } : {}),
  };
}

/**
 * The dedupe key of a line: its `message_id` (mailroom's message UUID, the same in history and in
 * forwards), else what was given (an `Idempotency-Key`), else a digest of what the line is, so a
 * history batch sent again (mailroom retries its history task) takes effect once.
 */
export function lineMessageId(line: TicketLine, fallback?: string): string {
  if (isFilled(line.message_id)) return line.message_id;
  if (isFilled(fallback)) return fallback;
  const what = JSON.stringify([
    line.direction ?? "incoming",
    line.sent_at ?? "",
    line.text ?? "",
    (line.attachments ?? []).map((a) => a.url),
  ]);
  return `line-${sha256HexSync(what).slice(0, 32)}`;
}
