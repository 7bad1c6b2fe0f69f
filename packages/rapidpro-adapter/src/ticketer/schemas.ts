import { z } from "zod";

/**
 * The Weni generic ticketer contract v1 (`weni-ai/mailroom:services/tickets/generic/`), service side:
 * the bodies mailroom posts to the ticketer. Unknown fields are kept; `null` reads as absent.
 */

const opt = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === null ? undefined : v), schema.optional());
const text = z.string();
const id = z.union([z.string().min(1), z.number().int()]).transform(String);

/** An actor: `sender` of a message, `closed_by` of a close. */
export const actorSchema = z.looseObject({
  type: opt(text),
  id: opt(id),
  name: opt(text),
  email: opt(text),
});

/** An attachment; `content_type` is optional in the contract (mailroom then sniffs the URL). */
export const ticketAttachmentSchema = z.looseObject({
  url: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }),
  content_type: opt(text),
  filename: opt(text),
  size: opt(z.number()),
});

/** `POST /v1/tickets`. */
export const openTicketSchema = z.looseObject({
  ticket_id: id,
  topic: opt(z.looseObject({ uuid: opt(text), name: opt(text), queue_uuid: opt(text) })),
  contact: z.looseObject({
    uuid: z.string().min(1, "contact.uuid is required"),
    name: opt(text),
    urn: opt(text),
    urns: opt(z.array(text)),
    language: opt(text),
  }),
  body: opt(text),
  assignee: opt(z.looseObject({ email: opt(text), name: opt(text) })),
  metadata: opt(z.record(z.string(), z.unknown())),
  opened_at: opt(text),
});

/** The open body as parsed. */
export type OpenTicketBody = z.output<typeof openTicketSchema>;

/** `POST /v1/tickets/{external_id}/messages`. */
export const ticketMessageSchema = z.looseObject({
  ticket_id: opt(id),
  external_id: opt(id),
  message_id: opt(id),
  direction: opt(text),
  sender: opt(actorSchema),
  text: opt(text),
  attachments: opt(z.array(ticketAttachmentSchema)),
  metadata: opt(z.record(z.string(), z.unknown())),
  sent_at: opt(text),
});

/** The message body as parsed. */
export type TicketMessageBody = z.output<typeof ticketMessageSchema>;

/** `POST /v1/tickets/{external_id}/close`. */
export const closeTicketSchema = z.looseObject({
  ticket_id: opt(id),
  external_id: opt(id),
  closed_by: opt(actorSchema),
  reason: opt(text),
  metadata: opt(z.record(z.string(), z.unknown())),
  closed_at: opt(text),
});

/** The close body as parsed. */
export type CloseTicketBody = z.output<typeof closeTicketSchema>;

/** `POST /v1/tickets/{external_id}/reopen`. */
export const reopenTicketSchema = z.looseObject({
  ticket_id: opt(id),
  external_id: opt(id),
  reopened_by: opt(actorSchema),
  metadata: opt(z.record(z.string(), z.unknown())),
  reopened_at: opt(text),
});

/** The reopen body as parsed. */
export type ReopenTicketBody = z.output<typeof reopenTicketSchema>;

/** `POST /v1/tickets/{external_id}/history`. */
export const historySchema = z.looseObject({
  ticket_id: opt(id),
  external_id: opt(id),
  contact: opt(z.looseObject({ uuid: opt(text), name: opt(text) })),
  messages: z.array(
    z.looseObject({
      message_id: opt(id),
      direction: opt(text),
      sender: opt(actorSchema),
      text: opt(text),
      attachments: opt(z.array(ticketAttachmentSchema)),
      sent_at: opt(text),
    }),
  ),
  metadata: opt(z.record(z.string(), z.unknown())),
});

/** The history body as parsed. */
export type HistoryBody = z.output<typeof historySchema>;
