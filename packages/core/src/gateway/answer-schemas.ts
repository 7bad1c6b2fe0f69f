import { z } from "zod";
import { ERROR_STATUS } from "../errors/bridge-error";

/** The answers of the gateway API, as schemas: they feed the OpenAPI document. */

export const errorAnswerSchema = z.object({
  error: z.object({
    code: z.enum(Object.keys(ERROR_STATUS) as [keyof typeof ERROR_STATUS, ...(keyof typeof ERROR_STATUS)[]]),
    message: z.string(),
    field: z.string().optional(),
    state: z.string().optional(),
  }),
});

export const tokenAnswerSchema = z.object({
  token: z.string(),
  expires_in: z.number().int(),
  expires_at: z.string(),
});

const conversationState = z.enum(["requested", "hunting", "connected", "closed"]);
const messageStatus = z.enum(["accepted", "sent", "delivered", "read", "failed"]);

export const acceptAnswerSchema = z.object({
  status: z.literal("accepted"),
  uuid: z.string(),
  conversation_id: z.string(),
  message_id: z.string(),
  conversation_state: conversationState,
  duplicate: z.literal(true).optional().describe("present, true, when the message was a duplicate (200)"),
});

export const closeAnswerSchema = z.object({
  conversation_id: z.string(),
  state: z.literal("closed"),
  closed_by: z.enum(["chatbot", "helpline", "system"]),
  reason: z.string().nullable(),
  changed: z.boolean(),
});

export const ackAnswerSchema = z.object({
  conversation_id: z.string(),
  message_id: z.string(),
  status: messageStatus,
  changed: z.boolean(),
});

export const messageViewSchema = z.object({
  uuid: z.string(),
  chat_session: z.string(),
  message_id: z.string(),
  chat_source: z.enum(["WENI", "OUTBOX", "HELPLINE"]),
  direction: z.enum(["to_helpline", "to_chatbot"]),
  status: messageStatus,
  chat_message: z.string().nullable(),
  attachments: z.array(z.object({ url: z.string(), content_type: z.string() })),
  sender_name: z.string().nullable(),
  chat_receiver: z.string().nullable(),
  last_error: z.object({ code: z.string(), message: z.string() }).nullable(),
  replayed_at: z
    .string()
    .nullable()
    .describe("when its dead-lettered delivery was last replayed: the one step back, from failed to accepted"),
  created_at: z.string(),
  updated_at: z.string(),
});

export const listAnswerSchema = z.object({
  results: z.array(messageViewSchema),
  next_cursor: z.number().int().nullable(),
});

export const conversationAnswerSchema = z.object({
  conversation_id: z.string(),
  state: conversationState,
  origin: z.enum(["webhook", "ticketer"]),
  helpline: z.string(),
  chat_sender: z.string(),
  counselor_name: z.string().nullable(),
  closed_by: z.enum(["chatbot", "helpline", "system"]).nullable(),
  close_reason: z.string().nullable(),
  closed_at: z.string().nullable(),
  hunt_count: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
  messages: z.array(messageViewSchema),
});

export const healthAnswerSchema = z.object({ status: z.enum(["ok", "unavailable"]) });

export const readinessAnswerSchema = z.object({
  status: z.enum(["ready", "unavailable", "stopping"]),
  outbox_pending: z
    .number()
    .int()
    .nullable()
    .describe("jobs waiting or in flight; null when the store does not answer"),
  oldest_pending_age_s: z.number().int().nullable().describe("age of the oldest pending job, seconds (0 when none)"),
  dead_letters: z.number().int().nullable(),
});

export const deadLetterViewSchema = z.object({
  id: z.number().int().describe("the job's id: what replay takes"),
  conversation_id: z.string(),
  message_id: z.string().nullable().describe("the message's (or the acknowledged message's) message_id"),
  kind: z.enum(["message", "close", "ack", "notice"]),
  target: z.enum(["helpline", "chatbot"]),
  attempts: z.number().int(),
  last_error: z.object({ code: z.string(), status: z.number().int().nullable() }),
  failed_at: z.string(),
});

export const deadLetterListAnswerSchema = z.object({
  results: z.array(deadLetterViewSchema),
  next_cursor: z.number().int().nullable(),
});

export const replayAnswerSchema = z.object({ id: z.number().int(), status: z.literal("queued") });

export const replayAllAnswerSchema = z.object({ replayed: z.number().int() });

export const overviewAnswerSchema = z.object({
  conversations: z.object(
    Object.fromEntries(conversationState.options.map((s) => [s, z.number().int()])) as Record<
      z.infer<typeof conversationState>,
      z.ZodNumber
    >,
  ),
  outbox_pending: z.number().int().describe("jobs waiting or in flight"),
  oldest_pending_age_s: z.number().int().describe("age of the oldest pending job, seconds (0 when none)"),
  dead_letters: z.number().int(),
});

export const recentConversationsAnswerSchema = z.object({
  results: z.array(
    z.object({
      conversation_id: z.string(),
      state: conversationState,
      origin: z.enum(["webhook", "ticketer"]),
      helpline: z.string(),
      counselor_name: z.string().nullable().describe("the counselor's pseudonym, once known"),
      created_at: z.string(),
      updated_at: z.string().describe("when the conversation last changed (state, counselor, close): newest first"),
      last_activity_at: z
        .string()
        .describe("the later of updated_at and its newest message's time; the list is not ordered by it"),
      closed_at: z.string().nullable(),
      messages: z
        .object(
          Object.fromEntries(messageStatus.options.map((s) => [s, z.number().int()])) as Record<
            z.infer<typeof messageStatus>,
            z.ZodNumber
          >,
        )
        .describe("how many of its messages are in each status"),
    }),
  ),
});
