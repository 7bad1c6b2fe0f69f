import { z } from "zod";

/**
 * The bodies of the gateway API (PROTOCOL.md "style A"). Legacy names are kept; new fields are
 * optional so old callers still work. `null` is read as absent (Django clients send it), ids may
 * be numbers. Unknown fields are ignored, for forward compatibility.
 */

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === null ? undefined : v), schema.optional());

const idLike = z
  .union([z.string(), z.number().int()], { error: "expected a string or a whole number" })
  .transform(String)
  .pipe(z.string().min(1).max(200));

/**
 * A text field that a JSON number also fills, read as its decimal string: the documented Postman
 * example sends `"chat_sender": 23343411`.
 */
const textOrNumber = (max: number) =>
  z
    .union([z.string().max(max), z.number().int()], { error: "expected a string (or a whole number)" })
    .transform(String);

/** A conversation id: what `chat_session` may be, and the `{session}` of the paths. */
export const SESSION_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;
export const sessionSchema = z.string().regex(SESSION_PATTERN, "expected 1-100 characters of A-Z a-z 0-9 _ -");

/**
 * A shared location as goflow and courier write it: `geo:<lat>,<long>` in decimal degrees
 * (nyaruka/goflow `utils/attachment.go`). Bounds are checked by {@link isGeoUrl}.
 */
const GEO_URL = /^geo:(-?\d{1,3}(?:\.\d{1,15})?),(-?\d{1,3}(?:\.\d{1,15})?)$/;

/** Whether `url` is a `geo:<lat>,<long>` location with latitude in ±90 and longitude in ±180. */
export function isGeoUrl(url: string): boolean {
  const match = GEO_URL.exec(url);
  return match !== null && Math.abs(Number(match[1])) <= 90 && Math.abs(Number(match[2])) <= 180;
}

const ATTACHMENT_URL_RULE = "expected an http(s) URL, or a location geo:<lat>,<long>";

/**
 * Reads goflow's other spellings of an attachment as `{url, content_type}`: its string form
 * `"<content-type>:<url>"` (`"image/jpeg:https://…"`, `"geo:-1.28,36.81"`), and its parts of a
 * location (`{"content_type":"geo","url":"-1.28,36.81"}`), whose URL gets its `geo:` back.
 */
function attachmentInput(value: unknown): unknown {
  if (typeof value === "string") {
    if (value.startsWith("geo:")) return { url: value, content_type: "geo" };
    const colon = value.indexOf(":");
    return colon > 0 ? { url: value.slice(colon + 1), content_type: value.slice(0, colon) } : value;
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const { url, content_type } = value as { url?: unknown; content_type?: unknown };
    if (content_type === "geo" && typeof url === "string" && !url.startsWith("geo:")) {
      return { ...value, url: `geo:${url}` };
    }
  }
  return value;
}

export const attachmentSchema = z.preprocess(
  attachmentInput,
  z.object({
    url: z
      .union([z.url({ protocol: /^https?$/ }), z.string().regex(GEO_URL).refine(isGeoUrl)], {
        error: ATTACHMENT_URL_RULE,
      })
      .describe("an http(s) URL, or a shared location geo:<lat>,<long> (decimal degrees)"),
    content_type: z.string().min(1).max(255),
  }),
);

export const tokenBodySchema = z.object({
  username: z.string().min(1).max(150),
  password: z.string().min(1).max(1024),
});

export const chatBodySchema = z
  .object({
    chat_session: sessionSchema,
    chat_message: optional(z.string().max(100_000)),
    chat_sender: optional(textOrNumber(255)),
    chat_receiver: optional(textOrNumber(100)),
    chat_source: z.enum(["WENI", "OUTBOX"]),
    /**
     * Any short string. `WENI`: the conversation's channel (default `WENI`), given to the helpline on
     * `msg/`. `OUTBOX`: the helpline's echo of that channel (its PHP sends back whatever it was
     * given, e.g. `chat`): kept with the message, never refused.
     */
    chat_channel: optional(
      z.string().max(100).describe("any short string; WENI (default) names the conversation's channel"),
    ),
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

/** `GET admin/dead-letters` query. */
export const deadLetterQuerySchema = z.object({
  conversation_id: optional(sessionSchema),
  limit: optional(z.coerce.number().int().min(1).max(500)),
  cursor: optional(z.coerce.number().int().positive()),
});

/** `GET admin/conversations` query: the most recently updated conversations. */
export const recentConversationsQuerySchema = z.object({
  limit: optional(z.coerce.number().int().min(1).max(100)),
});

/** `POST admin/dead-letters/replay` body: every dead letter, or those of one conversation. */
export const replayAllBodySchema = z.object({
  conversation_id: optional(sessionSchema),
});
