import { OpenChsError } from "../errors";
import { utf8ToBase64 } from "../internal/base64";

/** How `msg/` carries the text: as is (classic servers), or base64 of UTF-8 with `mime` (2025 servers). */
export type MessageEncoding = "plain" | "base64";

/** An attachment of a client message. Only `url` and `content_type` are required. */
export interface HelplineAttachment {
  url: string;
  content_type: string;
  /** Default: the last segment of the URL's path. */
  filename?: string | undefined;
  /** Size in bytes, when known. */
  size?: number | undefined;
}

/** A client message for `POST msg/`. */
export interface HelplineMessageInput {
  /** The helpline channel. Default `chat`. */
  channel?: string | undefined;
  /** The conversation: the helpline groups messages by it. */
  session_id: string;
  /** The message's id: the helpline's `src_uid`, and the idempotency key of the call. */
  message_id: string;
  /** The client's address (the chatbot contact). */
  from: string;
  /** The text. May be empty when there are attachments. */
  message?: string | undefined;
  /** When the message was sent: a Date, epoch milliseconds, or an ISO-8601 string. Default: now. */
  timestamp?: Date | number | string | undefined;
  attachments?: readonly HelplineAttachment[] | undefined;
}

/** The JSON body posted to `msg/`. */
export type HelplineMessageBody = Record<string, string | number>;

/**
 * Builds the `msg/` body.
 *
 * - `plain`: `message` is the text as is; `timestamp` is unix seconds (`"1680783378"`, or with
 *   milliseconds `"1680783378.123"`), as the classic helpline's own examples send it.
 * - `base64`: `message` is the base64 of the UTF-8 text, with `mime: "text/plain"` and an ISO
 *   timestamp, as the 2025 gateway sends it.
 * - Attachments (both modes): the first one becomes `media_url`, `media_mime`, `media_filename` and
 *   (when known) `media_size`; the server has room for one. So that nothing is lost, every further
 *   attachment is added to the text as a line `[attachment] <url>`, and an attachment-only message
 *   carries `[attachment] <url>` of the first as its text (`message` is mandatory on the helpline).
 * - A shared location (`geo:<lat>,<long>`, as goflow sends it) is no media file: it is added to the
 *   text as a line `[location] <lat>,<long>`, never put in `media_url`.
 */
export function buildMessageBody(
  input: HelplineMessageInput,
  encoding: MessageEncoding,
  now: number,
): HelplineMessageBody {
  for (const field of ["session_id", "message_id", "from"] as const) {
    if (typeof input[field] !== "string" || input[field] === "") invalid(field, "is required (a non-empty string)");
  }
  const channel = input.channel ?? "chat";
  if (typeof channel !== "string" || channel === "") invalid("channel", "must be a non-empty string");
  const attachments = input.attachments ?? [];
  for (const [i, attachment] of attachments.entries()) {
    if (!attachment || typeof attachment.url !== "string" || attachment.url === "") {
      invalid(`attachments[${i}].url`, "is required");
    }
  }
  const ms = timestampMs(input.timestamp, now);

  // The one media slot takes the first file; every other attachment becomes a line of the text.
  const media = attachments.find((a) => !isLocation(a));
  const lines = attachments
    .filter((a) => a !== media)
    .map((a) => (isLocation(a) ? `[location] ${a.url.slice(GEO.length)}` : `[attachment] ${a.url}`));
  let text = input.message ?? "";
  if (text === "" && media) text = `[attachment] ${media.url}`;
  if (text === "" && lines.length === 0) invalid("message", "is required unless there are attachments");
  if (lines.length) text = text === "" ? lines.join("\n") : `${text}\n${lines.join("\n")}`;

  const body: HelplineMessageBody = {
    channel,
    session_id: input.session_id,
    message_id: input.message_id,
    from: input.from,
    message: encoding === "base64" ? utf8ToBase64(text) : text,
    timestamp: encoding === "base64" ? new Date(ms).toISOString() : String(ms / 1000),
  };
  if (encoding === "base64") body.mime = "text/plain";
  if (media) {
    body.media_url = media.url;
    body.media_mime = media.content_type;
    body.media_filename = media.filename ?? filenameOf(media.url);
    if (typeof media.size === "number" && Number.isFinite(media.size)) body.media_size = media.size;
  }
  return body;
}

const GEO = "geo:";

/** A shared location: a `geo:` URL, whatever content type it came with. */
function isLocation(attachment: HelplineAttachment): boolean {
  return attachment.url.toLowerCase().startsWith(GEO);
}

function timestampMs(value: HelplineMessageInput["timestamp"], now: number): number {
  if (value === undefined) return now;
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === "number") ms = value;
  else if (/^\d+(\.\d+)?$/.test(value.trim())) ms = Number(value.trim()) * 1000;
  else ms = Date.parse(value);
  if (!Number.isFinite(ms)) invalid("timestamp", "must be a Date, epoch milliseconds or an ISO-8601 string");
  return ms;
}

function filenameOf(url: string): string {
  try {
    const segment = new URL(url).pathname.split("/").filter(Boolean).pop();
    return segment ? decodeURIComponent(segment) : "attachment";
  } catch {
    return "attachment";
  }
}

function invalid(field: string, rule: string): never {
  throw new OpenChsError("openchs-helpline", {
    code: "validation",
    field,
    message: `OpenCHS helpline msg/: ${field} ${rule}`,
  });
}
