import { z } from "zod";
import { idLike } from "../internal/shared";

/**
 * Answers of the bridge's API (the gateway API), in both versions: the bridge and the legacy Django
 * gateway (`openchlsystem/api-gateway`) it replaces. Unknown fields are kept
 * (`looseObject`), so a newer server adding fields never breaks a client.
 */

const text = z.string().nullish();

/** `POST token/`: DRF's `{"token"}`, or the bridge's `{"token","expires_in","expires_at"}`. */
export const tokenAnswerSchema = z.looseObject({
  token: z.string().min(1),
  expires_in: z.number().nonnegative().nullish(),
  expires_at: z.string().nullish(),
});

const attachments = z.array(z.looseObject({ url: z.string(), content_type: z.string().nullish() })).nullish();
const lastError = z.looseObject({ code: z.string(), message: z.string().nullish() }).nullish();

/**
 * One chat message as `GET chat/` lists it: the legacy model's fields; the bridge adds its
 * `message_id`, `direction`, delivery `status` and times. Everything but the object itself is optional.
 */
export const chatRecordSchema = z.looseObject({
  id: idLike.nullish(),
  uuid: idLike.nullish(),
  chat_session: text,
  chat_message: text,
  chat_sender: text,
  chat_receiver: text,
  chat_source: text,
  chat_channel: text,
  message_id: idLike.nullish(),
  direction: text,
  status: text,
  sender_name: text,
  attachments,
  last_error: lastError,
  created_at: text,
  updated_at: text,
});

/** `GET chat/`: a plain array (legacy, unpaginated) or a page `{results, next_cursor}` (bridge). */
export const listAnswerSchema = z.union(
  [
    z.array(chatRecordSchema),
    z.looseObject({
      results: z.array(chatRecordSchema),
      next_cursor: z.union([z.string(), z.number()]).nullish(),
    }),
  ],
  { error: "expected an array of chat messages (legacy) or {results, next_cursor} (bridge)" },
);

const conversationState = z.enum(["requested", "hunting", "connected", "closed"]);

/** `POST chat/`: legacy `{"status":"success","uuid"}` or the bridge's `{"status":"accepted",…}`. */
export const sendAnswerSchema = z.discriminatedUnion(
  "status",
  [
    z.looseObject({
      status: z.literal("accepted"),
      uuid: idLike,
      conversation_id: z.string(),
      message_id: idLike,
      conversation_state: conversationState,
      duplicate: z.boolean().optional(),
    }),
    z.looseObject({
      status: z.literal("success"),
      uuid: idLike.nullish(),
    }),
  ],
  {
    error:
      'expected {"status":"accepted","uuid","conversation_id","message_id","conversation_state"} (bridge) or {"status":"success","uuid"} (legacy)',
  },
);

/** `POST chat/{session}/close/`: the legacy gateway's answer is not documented; the bridge's names the state. */
export const closeAnswerSchema = z
  .looseObject({
    status: text,
    state: text,
    conversation_id: text,
    changed: z.boolean().nullish(),
    closed_by: text,
    reason: text,
  })
  .optional();

/** `POST chat/{session}/ack/` (bridge only). */
export const ackAnswerSchema = z
  .looseObject({
    conversation_id: text,
    message_id: idLike.nullish(),
    status: text,
    changed: z.boolean().nullish(),
  })
  .optional();

/** A message of `GET chat/{session}/`, with its delivery status. */
export const conversationMessageSchema = z.looseObject({
  message_id: idLike,
  status: z.enum(["accepted", "sent", "delivered", "read", "failed"]),
  uuid: idLike.nullish(),
  chat_session: text,
  chat_source: text,
  direction: text,
  chat_message: text,
  attachments,
  sender_name: text,
  chat_receiver: text,
  last_error: lastError,
  created_at: text,
  updated_at: text,
});

/** `GET chat/{session}/` (bridge only): the conversation, its state, counselor pseudonym and messages. */
export const conversationAnswerSchema = z.looseObject({
  conversation_id: z.string(),
  state: conversationState,
  origin: text,
  helpline: text,
  chat_sender: text,
  counselor_name: text,
  closed_by: text,
  close_reason: text,
  closed_at: text,
  hunt_count: z.number().nullish(),
  created_at: text,
  updated_at: text,
  messages: z.array(conversationMessageSchema),
});
