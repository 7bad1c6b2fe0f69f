import { z } from "zod";

/**
 * The bodies of the gateway API (PROTOCOL.md "style A"). Legacy names are kept; new fields are
 * optional so old callers still work. `null` is read as absent (Django clients send it), ids may
 * be numbers. Unknown fields are ignored, for forward compatibility.
 */

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === null ? undefined : v), schema.optional());

const idLike = z.union([z.string(), z.number().int()]).transform(String).pipe(z.string().min(1).max(200));

/** A conversation id: what `chat_session` may be, and the `{session}` of the paths. */
export const SESSION_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;
export const sessionSchema = z.string().regex(SESSION_PATTERN, "expected 1-100 characters of A-Z a-z 0-9 _ -");

export const attachmentSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  content_type: z.string().min(1).max(255),
});

export const tokenBodySchema = z.object({
  username: z.string().min(1).max(150),
  password: z.string().min(1).max(1024),
});

export const chatBodySchema = z
  .object({
    chat_session: sessionSchema,
    chat_message: optional(z.string().max(100_000)),
    chat_sender: optional(z.string().max(255)),
    chat_receiver: optional(z.string().max(100)),
    chat_source: z.enum(["WENI", "OUTBOX"]),
    chat_channel: optional(z.enum(["WENI", "FACEBOOK", "WHATSAPP"])),
    message_id: optional(idLike),
    sender_name: optional(z.string().max(100)),
    attachments: optional(z.array(attachmentSchema).max(20)),
    location: optional(z.string().max(100)),
    risk: optional(z.string().max(50)),
    metadata: optional(z.record(z.string(), z.unknown())),
  })
  .superRefine((body, ctx) => {
    if ((body.chat_message === undefined || body.chat_message === "") && !body.attachments?.length) {
      ctx.addIssue({
        code: "custom",
        path: ["chat_message"],
        message: "required unless attachments are given",
        input: undefined,
      });
    }
    if (body.chat_source === "WENI" && !body.chat_sender) {
      ctx.addIssue({
        code: "custom",
        path: ["chat_sender"],
        message: "required for chat_source WENI: the contact UUID replies go to",
        input: undefined,
      });
    }
  });

export type ChatBody = z.output<typeof chatBodySchema>;

export const closeBodySchema = z.object({
  /** Optional when the consumer speaks for one side only: the legacy gateway ignored the body. */
  chat_source: optional(z.enum(["WENI", "HELPLINE", "OUTBOX"])),
  reason: optional(z.string().max(200)),
});

export const ackBodySchema = z.object({
  message_id: idLike,
  status: z.enum(["delivered", "read", "failed"]),
  chat_source: optional(z.enum(["WENI", "HELPLINE", "OUTBOX"])),
  /** On a helpline `read`: the counselor's pseudonym. */
  sender_name: optional(z.string().max(100)),
  /** On `failed`: why, as a short code. */
  reason: optional(z.string().max(200)),
});

export const listQuerySchema = z.object({
  session: optional(sessionSchema),
  limit: optional(z.coerce.number().int().min(1).max(500)),
  cursor: optional(z.coerce.number().int().positive()),
});
