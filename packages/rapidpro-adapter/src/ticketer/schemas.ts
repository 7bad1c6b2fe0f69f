import { isGeoUrl } from "@openchs-bridge/core";
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

/**
 * Mailroom sends a contact's shared location as goflow splits it, `{"content_type":"geo","url":
 * "-1.28,36.81"}` (weni-ai/mailroom `services/tickets/generic/history.go` `attachmentsFromMsg`): its
 * URL gets its `geo:` back, so the location reaches the helpline as the gateway gives it one.
 */
function locationUrl(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const { url, content_type } = value as { url?: unknown; content_type?: unknown };
  if (content_type === "geo" && typeof url === "string" && !url.startsWith("geo:"))
    return { ...value, url: `geo:${url}` };
  return value;
}

/** An attachment; `content_type` is optional in the contract (mailroom then sniffs the URL). */
export const ticketAttachmentSchema = z.preprocess(
  locationUrl,
  z.looseObject({
    url: z.union([z.url({ protocol: /^https?$/ }), z.string().refine(isGeoUrl)], {
      error: "expected an http(s) URL, or a location geo:<lat>,<long>",
    }),
    content_type: opt(text),
    filename: opt(text),
    size: opt(z.number()),
  }),
);

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
