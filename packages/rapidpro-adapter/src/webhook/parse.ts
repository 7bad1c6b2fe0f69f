import { type Attachment, BridgeError } from "@openchs-bridge/core";
import { describeSchemaIssues } from "@openchs-bridge/core/upstream";
import type { z } from "zod";
import {
  bridgeWebhookSchema,
  editorWebhookSchema,
  type flowAttachmentSchema,
  type flowInputSchema,
  legacyWebhookSchema,
} from "./schemas";

/** Which body template a flow webhook used. */
export type FlowWebhookShape = "editor" | "legacy" | "bridge";

/** A flow result as the bodies carry it. */
export interface FlowWebhookResult {
  value: string | undefined;
  category: string | undefined;
}

/** What {@link parseFlowWebhook} reads from any of the three bodies. */
export interface ParsedFlowWebhook {
  shape: FlowWebhookShape;
  /** The RapidPro contact UUID: where replies go (`contact.uuid`, or `chat_sender`). */
  contactUuid: string;
  /** The contact's URN (e.g. `whatsapp:2547…`), when the body has it. A personal detail: do not forward it. */
  urn?: string | undefined;
  /** The contact's name, when the body has a non-empty one. May be a real name: do not forward it by default. */
  name?: string | undefined;
  /** The message text (`input.text`, or `chat_message`). */
  text?: string | undefined;
  /**
   * Attachments, each `{url, content_type}` (goflow's `"<type>:<url>"` strings are split). A shared
   * location keeps its scheme: `{"url":"geo:-1.28,36.81","content_type":"geo"}`.
   */
  attachments: Attachment[];
  /** The run UUID (`run.uuid`), when the body has it. */
  runUuid?: string | undefined;
  /** The flow UUID (`flow.uuid`), when the body has it. */
  flowUuid?: string | undefined;
  /** The message's own id: `input.uuid`, or the bridge body's `message_id`. The idempotency key. */
  messageId?: string | undefined;
  /** Flow results by key. */
  results: Record<string, FlowWebhookResult>;
  /** The bridge body's own fields (shape `bridge` only). */
  bridge?:
    | {
        session: string;
        receiver?: string | undefined;
        channel?: string | undefined;
        source?: string | undefined;
        senderName?: string | undefined;
        location?: string | undefined;
        risk?: string | undefined;
        metadata?: Record<string, unknown> | undefined;
      }
    | undefined;
}

/**
 * A flow webhook body the bridge cannot use. A `BridgeError` (`invalid_json`, `missing_field`,
 * `invalid_field`): answer it as it is (400) and the flow takes its Failure exit. The message names
 * the field and what the flow author should change; it never quotes the body.
 */
export class RapidProWebhookError extends BridgeError {
  override name = "RapidProWebhookError";
  /** The shape recognised, when one was. */
  readonly shape: FlowWebhookShape | undefined;

  constructor(
    code: "invalid_json" | "missing_field" | "invalid_field",
    message: string,
    init: { field?: string | undefined; shape?: FlowWebhookShape | undefined } = {},
  ) {
    super(code, message, { field: init.field });
    this.shape = init.shape;
  }
}

/**
 * Reads what a "Call Webhook" action posted: the editor's default body, the legacy body, or the
 * bridge body (see {@link FlowWebhookShape}), given as the parsed JSON or the raw text/bytes.
 * Extracts the contact UUID (required: it is the reply address), URN, name, input text,
 * attachments, run and flow UUIDs, the message id and the results. Throws a
 * {@link RapidProWebhookError} naming what is missing.
 */
export function parseFlowWebhook(body: unknown): ParsedFlowWebhook {
  const data = asJson(body);
  if (!isRecord(data)) {
    throw new RapidProWebhookError("invalid_json", "the webhook body must be a JSON object");
  }
  if ("chat_session" in data) return parseBridge(data);
  if ("path" in data && "run" in data) return parseLegacy(data);
  if ("contact" in data) return parseEditor(data);
  throw new RapidProWebhookError(
    "missing_field",
    'unrecognised webhook body: expected the flow editor default ("contact", "flow", "results"), the legacy body ' +
      '("contact", "flow", "path", "results", "run", "input") or the bridge body ("chat_session", "chat_sender", …); ' +
      "see the flow template in docs/rapidpro.md",
    { field: "contact" },
  );
}

function parseEditor(data: Record<string, unknown>): ParsedFlowWebhook {
  const body = check(editorWebhookSchema, data, "editor");
  const input = typeof body.input === "string" ? { text: body.input } : body.input;
  return {
    shape: "editor",
    contactUuid: requireText(body.contact.uuid, "contact.uuid", "editor"),
    ...optional("urn", body.contact.urn ?? urnText(input?.urn)),
    ...optional("name", body.contact.name),
    ...optional("text", input?.text),
    attachments: attachments(input?.attachments, "input.attachments", "editor"),
    ...optional("runUuid", body.run?.uuid),
    ...optional("flowUuid", body.flow?.uuid),
    ...optional("messageId", input?.uuid),
    results: results(body.results),
  };
}

function parseLegacy(data: Record<string, unknown>): ParsedFlowWebhook {
  const body = check(legacyWebhookSchema, data, "legacy");
  const input = body.input;
  return {
    shape: "legacy",
    contactUuid: requireText(body.contact.uuid, "contact.uuid", "legacy"),
    ...optional("urn", body.contact.urn ?? urnText(input?.urn)),
    ...optional("name", body.contact.name),
    ...optional("text", input?.text),
    attachments: attachments(input?.attachments, "input.attachments", "legacy"),
    ...optional("runUuid", body.run.uuid),
    ...optional("flowUuid", body.flow?.uuid),
    ...optional("messageId", input?.uuid),
    results: results(body.results),
  };
}

function parseBridge(data: Record<string, unknown>): ParsedFlowWebhook {
  const body = check(bridgeWebhookSchema, data, "bridge");
  if (body.chat_source !== undefined && body.chat_source !== "WENI") {
    throw new RapidProWebhookError(
      "invalid_field",
      'a flow webhook speaks for the chatbot: chat_source must be "WENI"',
      {
        field: "chat_source",
        shape: "bridge",
      },
    );
  }
  const metadata = body.metadata;
  return {
    shape: "bridge",
    contactUuid: requireText(body.chat_sender, "chat_sender", "bridge"),
    ...optional("name", body.sender_name),
    ...optional("text", body.chat_message),
    attachments: attachments(body.attachments, "attachments", "bridge"),
    ...optional("runUuid", typeof metadata?.run_uuid === "string" ? metadata.run_uuid : undefined),
    ...optional("flowUuid", typeof metadata?.flow_uuid === "string" ? metadata.flow_uuid : undefined),
    ...optional("messageId", body.message_id),
    results: {},
    bridge: {
      session: body.chat_session,
      ...optional("receiver", body.chat_receiver),
      ...optional("channel", body.chat_channel),
      ...optional("source", body.chat_source),
      ...optional("senderName", body.sender_name),
      ...optional("location", body.location),
      ...optional("risk", body.risk),
      ...(metadata !== undefined ? { metadata } : {}),
    },
  };
}

/** Options of {@link toChatBody}. */
export interface ToChatBodyOptions {
  /**
   * The conversation id (`chat_session`): 1–100 of `[A-Za-z0-9_-]`; use `[A-Za-z0-9_]` only if the
   * helpline must close it (its close route admits no `-`), e.g. the run UUID without hyphens.
   * Default for a bridge body: its own `chat_session`; else required.
   */
  session?: string | undefined;
  /** The message's idempotency key. Default: the body's `input.uuid` / `message_id`. */
  messageId?: string | undefined;
  /** `chat_receiver`: a helpline routing key. */
  receiver?: string | undefined;
  /** The client's pseudonym. The contact's RapidPro name is never sent by default (it may be a real name). */
  senderName?: string | undefined;
  location?: string | undefined;
  risk?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** The gateway's `POST chat/` body for a client message (`chat_source` `WENI`). */
export interface FlowChatBody {
  chat_session: string;
  chat_message?: string | undefined;
  chat_sender: string;
  chat_receiver?: string | undefined;
  chat_source: "WENI";
  chat_channel: string;
  message_id?: string | undefined;
  sender_name?: string | undefined;
  attachments?: Attachment[] | undefined;
  location?: string | undefined;
  risk?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

const SESSION = /^[A-Za-z0-9_-]{1,100}$/;

/** What the gateway takes as an attachment: an http(s) URL, or a shared location `geo:<lat>,<long>`. */
const FORWARDED_URL = /^(https?:\/\/|geo:)/i;

/**
 * Maps a parsed webhook body to the gateway's `POST chat/` body, so editor and legacy flows can feed
 * the bridge through a small adapter route. http(s) attachments and shared locations (`geo:` URLs)
 * are passed as attachments (the gateway accepts both, and gives the helpline a location as a
 * `[location]` line); any other kind is kept as a text line, never dropped. Throws a
 * {@link RapidProWebhookError} when there is no text and no attachment (the editor's default body
 * has no `input`: add it).
 */
export function toChatBody(parsed: ParsedFlowWebhook, options: ToChatBodyOptions = {}): FlowChatBody {
  const session = options.session ?? parsed.bridge?.session;
  if (session === undefined || !SESSION.test(session)) {
    throw new RapidProWebhookError(
      session === undefined ? "missing_field" : "invalid_field",
      "session (chat_session) must be 1-100 characters of A-Z a-z 0-9 _ -",
      { field: "chat_session", shape: parsed.shape },
    );
  }
  const forwarded = parsed.attachments.filter((a) => FORWARDED_URL.test(a.url));
  const other = parsed.attachments.filter((a) => !FORWARDED_URL.test(a.url));
  const lines = [parsed.text ?? "", ...other.map((a) => `[${a.content_type}: ${a.url}]`)].filter((l) => l !== "");
  const text = lines.join("\n");
  if (text === "" && forwarded.length === 0) {
    throw new RapidProWebhookError(
      "missing_field",
      parsed.shape === "editor"
        ? 'the webhook body has no message text: add "input", input to the flow\'s webhook body (or use the bridge body of docs/rapidpro.md)'
        : "the webhook body has no message text and no attachment",
      { field: parsed.shape === "bridge" ? "chat_message" : "input.text", shape: parsed.shape },
    );
  }
  const b = parsed.bridge;
  return {
    chat_session: session,
    ...(text !== "" ? { chat_message: text } : {}),
    chat_sender: parsed.contactUuid,
    chat_source: "WENI",
    chat_channel: b?.channel ?? "WENI",
    ...optional("chat_receiver", options.receiver ?? b?.receiver),
    ...optional("message_id", options.messageId ?? parsed.messageId),
    ...optional("sender_name", options.senderName ?? b?.senderName),
    ...(forwarded.length ? { attachments: forwarded } : {}),
    ...optional("location", options.location ?? b?.location),
    ...optional("risk", options.risk ?? b?.risk),
    ...((options.metadata ?? b?.metadata) !== undefined ? { metadata: options.metadata ?? b?.metadata } : {}),
  };
}

function check<T extends z.ZodType>(schema: T, data: unknown, shape: FlowWebhookShape): z.output<T> {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".");
  throw new RapidProWebhookError(
    "invalid_field",
    `the ${shape} webhook body is malformed: ${describeSchemaIssues(parsed.error)}`,
    {
      field: field.replace(/\.\[/g, "["),
      shape,
    },
  );
}

function requireText(value: string | undefined, field: string, shape: FlowWebhookShape): string {
  if (value === undefined || value.trim() === "") {
    const hint =
      shape === "bridge"
        ? "chat_sender must be the contact UUID (@contact.uuid): replies go there"
        : `${field} is missing: the body must carry the contact UUID (@contact.uuid), where replies go`;
    throw new RapidProWebhookError("missing_field", hint, { field, shape });
  }
  return value;
}

function attachments(
  values: z.output<typeof flowAttachmentSchema>[] | undefined,
  field: string,
  shape: FlowWebhookShape,
): Attachment[] {
  return (values ?? []).map((value, i) => {
    if (typeof value !== "string")
      return withGeoScheme({ url: value.url, content_type: value.content_type || "application/octet-stream" });
    // "<content-type>:<url>": the content type has no ':' (a URL does), e.g. "image/jpeg:https://…", "geo:-1.2,36.8".
    const colon = value.indexOf(":");
    const url = value.slice(colon + 1);
    if (url === "") {
      throw new RapidProWebhookError("invalid_field", "an attachment has no URL", { field: `${field}[${i}]`, shape });
    }
    return withGeoScheme({ url, content_type: value.slice(0, colon) });
  });
}

/**
 * goflow splits a location `"geo:-1.28,36.81"` into content type `geo` and URL `-1.28,36.81`
 * (nyaruka/goflow `utils/attachment.go`); the URL gets its scheme back, so it reads as a location.
 */
function withGeoScheme(attachment: Attachment): Attachment {
  if (attachment.content_type !== "geo" || /^geo:/i.test(attachment.url)) return attachment;
  return { ...attachment, url: `geo:${attachment.url}` };
}

function urnText(urn: z.output<typeof flowInputSchema>["urn"]): string | undefined {
  if (urn === undefined || typeof urn === "string") return urn;
  return urn.scheme && urn.path ? `${urn.scheme}:${urn.path}` : undefined;
}

function results(values: z.output<typeof editorWebhookSchema>["results"]): Record<string, FlowWebhookResult> {
  const out: Record<string, FlowWebhookResult> = {};
  for (const [key, value] of Object.entries(values ?? {})) {
    if (typeof value === "string") {
      out[key] = { value, category: undefined };
      continue;
    }
    const raw = value.value;
    out[key] = {
      value: raw === undefined ? undefined : typeof raw === "string" ? raw : JSON.stringify(raw),
      category: value.category,
    };
  }
  return out;
}

/** `{key: value}` when the value is a non-empty string, else `{}` (for optional properties). */
function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return value !== undefined && value !== "" ? ({ [key]: value } as { [P in K]: string }) : {};
}

function asJson(body: unknown): unknown {
  let text: string | undefined;
  if (typeof body === "string") text = body;
  else if (body instanceof Uint8Array || body instanceof ArrayBuffer) text = new TextDecoder().decode(body);
  if (text === undefined) return body;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RapidProWebhookError("invalid_json", "the webhook body is not valid JSON");
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
