import { type ConversationsPort, isBridgeError, sha256HexSync, timingSafeEqualStrings } from "@openchs-bridge/core";
import { describeSchemaIssues } from "@openchs-bridge/core/upstream";
import type { z } from "zod";
import { configError, isFilled } from "../internal/shared";
import { TICKETER_ERRORS, type TicketerErrorCode, TicketerFailure, ticketerErrorBody } from "./failure";
import { createMemoryIdempotencyStore, type IdempotencyStore, type StoredAnswer } from "./idempotency";
import {
  closeTicketSchema,
  historySchema,
  type OpenTicketBody,
  openTicketSchema,
  type ReopenTicketBody,
  reopenTicketSchema,
  ticketMessageSchema,
} from "./schemas";
import { lineMessageId, toClientLine } from "./ticket-lines";

const FACTORY = "createTicketerHandler";

/** The bridge's conversation ids, and what the helpline's close route admits (`\w+`): `t_` + hex by default. */
const CONVERSATION_ID = /^[A-Za-z0-9_-]{1,100}$/;
/** A conversation a reopen starts: what the helpline's close route admits (`\w+`), since the bridge names it. */
const TICKET_CONVERSATION_ID = /^\w{1,100}$/;

/** The default conversation id of a ticket: `t_` + the ticket UUID without hyphens (`[A-Za-z0-9_]` only). */
export function defaultConversationIdFor(ticketId: string): string {
  return `t_${ticketId.replace(/[^A-Za-z0-9_]/g, "")}`.slice(0, 100);
}

/**
 * The default id of the conversation a reopen starts: the ticket's `external_id`, `_r`, and the
 * reopen's time to the millisecond (`t_0f4d…_r20260520T150500123`): `[A-Za-z0-9_]` only, at most
 * 100 characters, the same for every retry of one reopen when mailroom sends `reopened_at`. Without
 * it (or with an unreadable one) the time of the call is used, so a retry gets another id; that is
 * harmless: a retry finds the conversation the first call opened still open, and opens nothing.
 */
export function defaultReopenedConversationIdFor(externalId: string, reopenedAt: Date): string {
  const stamp = reopenedAt.toISOString().replace(/[-:.Z]/g, "");
  return `${externalId.slice(0, 100 - stamp.length - 2)}_r${stamp}`;
}

/** What the reopen hook is given, after the reopen. */
export interface TicketReopenInput {
  /** The ticket's `external_id`, which mailroom keeps: it names the first conversation. */
  externalId: string;
  /** The conversation that answers for the ticket now. */
  conversationId: string;
  /** False when that conversation was still open and nothing was created. */
  created: boolean;
  /** The closed conversation a new one continues. */
  reopenedFrom?: string | undefined;
  body: ReopenTicketBody;
}

/** Options of {@link createTicketerHandler}. */
export interface TicketerHandlerOptions {
  /** The Bearer token mailroom sends (`api_token`; `TICKETER_API_TOKEN`). Several during a rotation. */
  apiToken: string | readonly string[];
  /** The bridge's conversations (`createBridge(...).conversations`, or any implementation of the port). */
  conversations: ConversationsPort;
  /** Where answers are kept for `Idempotency-Key` replays. Default: in memory. */
  idempotency?: IdempotencyStore | undefined;
  /** How long an answer is replayed. Default 24 h. */
  idempotencyTtlMs?: number | undefined;
  /** Maps a ticket id to the conversation id (the `external_id`). Default {@link defaultConversationIdFor}. */
  conversationIdFor?: ((ticketId: string) => string) | undefined;
  /** The helpline routing key (`receiver`) of a new ticket. Default: the topic's name. */
  routingKey?: ((ticket: OpenTicketBody) => string | undefined) | undefined;
  /**
   * Whether `…/reopen` is honoured (default true): a reopened ticket continues in a new conversation
   * linked to its closed one. False answers 422 `reopen_not_supported`, which mailroom takes as an
   * error (the ticket then stays closed on its side).
   */
  supportsReopen?: boolean | undefined;
  /** Called after each successful reopen (to tell someone, say). Its failure fails the call (500). */
  onReopen?: ((input: TicketReopenInput) => Promise<void>) | undefined;
  /** The id of the conversation a reopen starts. Default {@link defaultReopenedConversationIdFor}. */
  reopenedConversationIdFor?: ((externalId: string, reopenedAt: Date) => string) | undefined;
  /**
   * Whether the bot's lines of the history (`direction: "outgoing"`, on `…/history` or one by one on
   * `…/messages`) reach the helpline, marked `[bot] ` (default `include`), or only the contact's (`skip`).
   */
  historyOutgoing?: "include" | "skip" | undefined;
  /** The path prefix of the routes, as the request sees it. Default `/v1/` (the bridge strips `{base}ticketer`). */
  basePath?: string | undefined;
  /** Largest body accepted, in bytes. Default 1 MiB. */
  maxBodyBytes?: number | undefined;
}

type Route =
  | { name: "open" }
  | { name: "messages" | "close" | "reopen" | "history"; externalId: string }
  | { name: "unknown" };

/**
 * The service side of Weni's generic ticketer, as a Web handler `(request) => Promise<Response>`
 * for mailroom's calls (`base_url` = `https://<host>/api/ticketer`):
 * - `POST /v1/tickets` opens a conversation (`external_id` = `conversationIdFor(ticket_id)`) and
 *   delivers a non-empty `body` as its first client message (`open-<ticket_id>`). A ticket already
 *   open answers 409 `ticket_already_open` with `details.external_id`, which mailroom takes as success.
 * - `…/messages` accepts a client message (its `message_id` is the dedupe key), the bot's own
 *   lines (`direction: "outgoing"`, history sent one by one) marked `[bot] `;
 * - `…/history` accepts earlier messages, the bot's included, in `sent_at` order (oldest first);
 * - `…/close` closes the conversation (`closed_by` `chatbot`; mailroom's own close comes as
 *   `platform`/`system` without a reason); already closed is 409 `ticket_already_closed`;
 * - `…/reopen` continues a closed ticket in a NEW conversation, linked to the closed one; the
 *   `external_id` stays (mailroom keeps it), and every later call for it reaches the newest
 *   conversation. Reopening a ticket whose conversation is open changes nothing (200).
 * Every call needs `Authorization: Bearer <apiToken>` (constant-time compare, else 401
 * `unauthorized`). A repeated `Idempotency-Key` replays the first answer (5xx are not kept, so they
 * are retried for real). Errors are `{"error","message"}`: 400 `invalid_payload`, 404 `ticket_not_found`,
 * 409, 413 `payload_too_large`, 422, 503 `service_unavailable`.
 */
export function createTicketerHandler(options: TicketerHandlerOptions): (request: Request) => Promise<Response> {
  const tokens = typeof options.apiToken === "string" ? [options.apiToken] : [...(options.apiToken ?? [])];
  const tokenHashes = tokens.map((token) => sha256HexSync(token));
  if (tokens.length === 0 || tokens.some((t) => !isFilled(t))) {
    configError(FACTORY, "`apiToken` is required: the Bearer token mailroom sends (TICKETER_API_TOKEN)");
  }
  const { conversations } = options;
  if (!conversations || typeof conversations.open !== "function") {
    configError(FACTORY, "`conversations` is required (createBridge(...).conversations)");
  }
  if (options.onReopen !== undefined && typeof options.onReopen !== "function") {
    configError(FACTORY, "`onReopen` must be a function");
  }
  if (typeof conversations.reopen !== "function" || typeof conversations.current !== "function") {
    configError(FACTORY, "`conversations` must implement reopen and current (createBridge(...).conversations)");
  }
  const basePath = options.basePath ?? "/v1/";
  if (!basePath.startsWith("/") || !basePath.endsWith("/")) {
    configError(FACTORY, "`basePath` must start and end with / (e.g. /v1/)");
  }
  const idempotency = options.idempotency ?? createMemoryIdempotencyStore();
  const ttlMs = options.idempotencyTtlMs ?? 24 * 3600 * 1000;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const conversationIdFor = options.conversationIdFor ?? defaultConversationIdFor;
  const routingKey = options.routingKey ?? ((ticket: OpenTicketBody) => ticket.topic?.name);
  const historyOutgoing = options.historyOutgoing ?? "include";
  const supportsReopen = options.supportsReopen ?? true;
  const reopenedConversationIdFor = options.reopenedConversationIdFor ?? defaultReopenedConversationIdFor;
  const inFlight = new Map<string, Promise<StoredAnswer>>();

  function matchRoute(pathname: string): Route | undefined {
    if (!pathname.startsWith(basePath)) return undefined;
    const parts = pathname.slice(basePath.length).replace(/\/$/, "").split("/");
    if (parts[0] !== "tickets") return undefined;
    if (parts.length === 1) return { name: "open" };
    if (parts.length !== 3) return undefined;
    let externalId: string;
    try {
      externalId = decodeURIComponent(parts[1]!);
    } catch {
      return { name: "unknown" };
    }
    const action = parts[2];
    if (action === "messages" || action === "close" || action === "reopen" || action === "history") {
      return { name: action, externalId };
    }
    return undefined;
  }

  function authorized(request: Request): boolean {
    const header = request.headers.get("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const presented = match?.[1] ?? "";
    // Every configured token is compared, so timing says nothing about which (if any) matched; and
    // as hashes, so it says nothing about their length either.
    const presentedHash = sha256HexSync(presented);
    let ok = false;
    for (const hash of tokenHashes) ok = timingSafeEqualStrings(presentedHash, hash) || ok;
    return ok && presented !== "";
  }

  async function handle(route: Route, body: unknown, request: Request): Promise<StoredAnswer> {
    switch (route.name) {
      case "open":
        return open(parse(openTicketSchema, body));
      case "messages":
        return message(route.externalId, body, request);
      case "close":
        return close(route.externalId, body);
      case "reopen":
        return reopen(route.externalId, body);
      case "history":
        return history(route.externalId, body);
      default:
        throw new TicketerFailure("ticket_not_found", "no such ticket");
    }
  }

  async function open(ticket: OpenTicketBody): Promise<StoredAnswer> {
    const conversationId = conversationIdFor(ticket.ticket_id);
    if (typeof conversationId !== "string" || !CONVERSATION_ID.test(conversationId)) {
      throw new TicketerFailure("internal_error", "conversationIdFor gave an id outside [A-Za-z0-9_-]{1,100}");
    }
    const receiver = routingKey(ticket);
    const metadata = compact({
      ticket_id: ticket.ticket_id,
      topic: ticket.topic?.name,
      queue_uuid: ticket.topic?.queue_uuid,
      language: ticket.contact.language,
    });
    const ticketerUuid = ticketerUuidOf(ticket.metadata);
    const result = await conversations.open({
      origin: "ticketer",
      conversationId,
      contact: ticket.contact.uuid,
      ...(isFilled(ticket.contact.name) ? { clientName: ticket.contact.name } : {}),
      ...(isFilled(receiver) ? { receiver } : {}),
      metadata,
      ticket: { ticketId: ticket.ticket_id, externalId: conversationId, ...(ticketerUuid ? { ticketerUuid } : {}) },
    });
    if (result.state === "closed") {
      // No details.external_id: mailroom would take a 409 carrying one as "open already" (success).
      throw new TicketerFailure("ticket_closed", "the conversation of this ticket is closed already");
    }
    // Delivered on every open, first or repeated: the message id makes it take effect once, and a
    // repeat after a failure part way still gets the body to the helpline.
    if (isFilled(ticket.body)) {
      await conversations.acceptClientMessage({
        conversationId,
        messageId: `open-${ticket.ticket_id}`,
        text: ticket.body,
        ...(isFilled(ticket.contact.name) ? { senderName: ticket.contact.name } : {}),
      });
    }
    if (!result.created) {
      throw new TicketerFailure("ticket_already_open", "this ticket is open already", {
        external_id: conversationId,
      });
    }
    return answer(201, { external_id: conversationId, status: "open", created_at: result.createdAt });
  }

  /** The conversation that answers for a ticket now (a reopen moves it on); 404 when there is none. */
  async function currentOf(externalId: string): Promise<string> {
    const current = await conversations.current(externalId);
    if (current === undefined)
      throw new TicketerFailure("ticket_not_found", "no such ticket", { external_id: externalId });
    return current;
  }

  async function message(externalId: string, raw: unknown, request: Request): Promise<StoredAnswer> {
    const body = parse(ticketMessageSchema, raw);
    sameTicket(externalId, body.external_id);
    const line = toClientLine(body);
    if (line?.fromBot && historyOutgoing === "skip") return answer(200, { status: "ignored" });
    if (!line) {
      // A bot line with nothing to show (a template or a quick-reply-only message) is no error:
      // one sent as history, refused, would make mailroom drop the rest of the history.
      if (body.direction === "outgoing") return answer(200, { status: "ignored" });
      throw new TicketerFailure("invalid_payload", "text or attachments is required", { field: "text" });
    }
    const key = request.headers.get("idempotency-key");
    const messageId = body.message_id ?? (isFilled(key) ? key : undefined);
    const result = await conversations.acceptClientMessage({
      conversationId: await currentOf(externalId),
      ...(messageId !== undefined ? { messageId } : {}),
      ...(line.text !== undefined ? { text: line.text } : {}),
      attachments: line.attachments,
      ...(line.senderName !== undefined ? { senderName: line.senderName } : {}),
    });
    return answer(200, {
      message_external_id: result.uuid,
      status: "received",
      ...(result.duplicate ? { duplicate: true } : {}),
    });
  }

  async function close(externalId: string, raw: unknown): Promise<StoredAnswer> {
    const body = parse(closeTicketSchema, raw);
    sameTicket(externalId, body.external_id);
    // Mailroom's own close (`closed_by` platform/system, no reason) closes like any other.
    const result = await conversations.close({
      conversationId: await currentOf(externalId),
      closedBy: "chatbot",
      ...(isFilled(body.reason) ? { reason: body.reason } : {}),
    });
    if (!result.changed) {
      throw new TicketerFailure("ticket_already_closed", "this ticket is closed already", {
        external_id: externalId,
      });
    }
    return answer(200, { status: "closed" });
  }

  async function reopen(externalId: string, raw: unknown): Promise<StoredAnswer> {
    const body = parse(reopenTicketSchema, raw);
    sameTicket(externalId, body.external_id);
    if (!supportsReopen) {
      throw new TicketerFailure("reopen_not_supported", "this ticketer does not support reopening tickets");
    }
    const at = body.reopened_at !== undefined ? new Date(body.reopened_at) : new Date();
    const reopenedAt = Number.isNaN(at.getTime()) ? new Date() : at;
    const newConversationId = reopenedConversationIdFor(externalId, reopenedAt);
    if (typeof newConversationId !== "string" || !TICKET_CONVERSATION_ID.test(newConversationId)) {
      throw new TicketerFailure("internal_error", "reopenedConversationIdFor gave an id outside [A-Za-z0-9_]{1,100}");
    }
    // Mailroom keeps the ticket's external_id after a reopen (weni-ai/mailroom
    // `services/tickets/generic/service.go` Reopen): it stays the key, the bridge follows the link.
    const result = await conversations.reopen({
      conversationId: externalId,
      newConversationId,
      metadata: compact({ reopened_at: body.reopened_at, reopened_by: body.reopened_by?.type }),
    });
    await options.onReopen?.({
      externalId,
      conversationId: result.conversationId,
      created: result.created,
      ...(result.reopenedFrom !== undefined ? { reopenedFrom: result.reopenedFrom } : {}),
      body,
    });
    return answer(200, {
      external_id: externalId,
      status: "open",
      created_at: result.createdAt,
      conversation_id: result.conversationId,
      ...(result.reopenedFrom !== undefined ? { reopened_from: result.reopenedFrom } : {}),
    });
  }

  async function history(externalId: string, raw: unknown): Promise<StoredAnswer> {
    const body = parse(historySchema, raw);
    sameTicket(externalId, body.external_id);
    // Every line is read before any is taken, so a bad one refuses the batch without half of it.
    const lines = body.messages.map((m, index) => ({ m, index, line: toClientLine(m, `messages[${index}].`) }));
    const conversationId = await currentOf(externalId);
    // Mailroom sends oldest first; sorting by sent_at keeps that and mends a batch that is not.
    // Lines without a readable time keep their place after the dated ones.
    const ordered = lines
      .map((entry) => ({ ...entry, at: entry.m.sent_at ? Date.parse(entry.m.sent_at) : Number.NaN }))
      .sort((a, b) => (Number.isNaN(a.at) ? 1 : 0) - (Number.isNaN(b.at) ? 1 : 0) || a.at - b.at || a.index - b.index);
    let received = 0;
    for (const { m, line } of ordered) {
      if (!line || (line.fromBot && historyOutgoing === "skip")) continue;
      await conversations.acceptClientMessage({
        conversationId,
        messageId: lineMessageId(m),
        ...(line.text !== undefined ? { text: line.text } : {}),
        attachments: line.attachments,
        ...(line.senderName !== undefined ? { senderName: line.senderName } : {}),
      });
      received++;
    }
    return answer(200, { status: "history_received", messages_received: received });
  }

  return async (request: Request): Promise<Response> => {
    let route: Route | undefined;
    try {
      route = matchRoute(new URL(request.url).pathname);
    } catch {
      route = undefined;
    }
    if (!route) return send(errorAnswer("not_found", "no such route"), request);
    if (request.method !== "POST") {
      return send(errorAnswer("method_not_allowed", "use POST"), request, {
        allow: "POST",
      });
    }
    if (!authorized(request)) {
      return send(errorAnswer("unauthorized", "missing or invalid Bearer token"), request, {
        "www-authenticate": 'Bearer realm="ticketer"',
      });
    }
    let raw: Uint8Array;
    try {
      raw = await readLimited(request, maxBodyBytes);
    } catch (error) {
      return send(failureAnswer(error), request, failureHeaders(error));
    }
    const key = request.headers.get("idempotency-key");
    const fingerprint = await sha256Hex(raw);
    const run = async (): Promise<StoredAnswer> => {
      try {
        const body = parseJson(raw);
        const result = await handle(route, body, request);
        return { ...result, fingerprint };
      } catch (error) {
        return { ...failureAnswer(error, route), fingerprint };
      }
    };
    if (!isFilled(key)) return send(await run(), request);

    const cacheKey = `${route.name} ${"externalId" in route ? route.externalId : ""} ${key}`;
    const replay = async (): Promise<StoredAnswer | undefined> => {
      const stored = await idempotency.get(cacheKey);
      if (!stored) return undefined;
      if (stored.fingerprint !== fingerprint) {
        return keyReused(fingerprint);
      }
      return stored;
    };
    const earlier = await replay();
    if (earlier) return send(earlier, request, earlier.status === 422 ? {} : { "idempotent-replayed": "true" });
    // One at a time per key: a retry that arrives while the first is still running waits for its answer.
    let pending = inFlight.get(cacheKey);
    if (pending) {
      const first = await pending;
      if (first.fingerprint !== fingerprint) {
        return send(keyReused(fingerprint), request);
      }
      return send(first, request, { "idempotent-replayed": "true" });
    }
    pending = (async () => {
      const result = await run();
      if (result.status < 500 && result.status !== 429) await idempotency.set(cacheKey, result, ttlMs);
      return result;
    })();
    inFlight.set(cacheKey, pending);
    try {
      return send(await pending, request);
    } finally {
      inFlight.delete(cacheKey);
    }
  };
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".") ?? "";
  throw new TicketerFailure("invalid_payload", describeSchemaIssues(parsed.error), {
    ...(field ? { field: field.replace(/\.\[/g, "[") } : {}),
  });
}

function sameTicket(externalId: string, inBody: string | undefined): void {
  if (inBody !== undefined && inBody !== externalId) {
    throw new TicketerFailure("invalid_payload", "external_id of the body differs from the one in the path", {
      field: "external_id",
    });
  }
}

function ticketerUuidOf(metadata: Record<string, unknown> | undefined): string | undefined {
  const url = metadata?.webhook_base_url;
  if (typeof url !== "string") return undefined;
  const match = /\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/?$/i.exec(url);
  return match?.[1];
}

function compact(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter((e): e is [string, string] => isFilled(e[1])));
}

function answer(status: number, body: unknown): StoredAnswer {
  return { status, body: JSON.stringify(body), fingerprint: "" };
}

/** A stored error answer, its status from the ticketer's error table. */
function errorAnswer(code: TicketerErrorCode, message: string, details?: Record<string, unknown>): StoredAnswer {
  return { status: TICKETER_ERRORS[code].status, body: ticketerErrorBody(code, message, details), fingerprint: "" };
}

/** An Idempotency-Key sent again with another body (the fingerprint is the new body's). */
function keyReused(fingerprint: string): StoredAnswer {
  return {
    ...errorAnswer("idempotency_key_reused", "this Idempotency-Key was used with another body"),
    fingerprint,
  };
}

/** Maps a failure to the contract's error answer. Core `BridgeError`s keep their meaning; anything else is 500. */
function failureAnswer(error: unknown, route?: Route): StoredAnswer {
  if (error instanceof TicketerFailure) {
    return errorAnswer(error.code, error.message, error.details);
  }
  const externalId = route && "externalId" in route ? { external_id: route.externalId } : undefined;
  if (isBridgeError(error)) {
    const field = error.field !== undefined ? { field: error.field } : {};
    switch (error.code) {
      case "conversation_not_found":
        return errorAnswer("ticket_not_found", "no such ticket", externalId);
      case "missing_field":
      case "invalid_field":
      case "invalid_json":
        return errorAnswer("invalid_payload", error.message, field);
      case "conversation_closed":
        return errorAnswer("ticket_closed", "the conversation of this ticket is closed", externalId);
      case "invalid_transition":
        return errorAnswer("invalid_state", error.message, { ...externalId, state: error.state });
      case "payload_too_large":
        return errorAnswer("payload_too_large", error.message);
      case "rate_limited":
        return errorAnswer("rate_limited", error.message);
      case "store_unavailable":
        return errorAnswer("service_unavailable", "the bridge's store is unavailable; nothing was accepted");
      default:
        break;
    }
  }
  return errorAnswer("internal_error", "internal error");
}

function failureHeaders(error: unknown): Record<string, string> {
  if (error instanceof TicketerFailure && error.headers) return error.headers;
  return {};
}

function send(stored: StoredAnswer, request: Request, headers: Record<string, string> = {}): Response {
  const out = new Headers({ "content-type": "application/json; charset=utf-8", ...headers });
  const requestId = request.headers.get("x-request-id");
  if (requestId && /^[\x21-\x7e]{1,200}$/.test(requestId)) out.set("x-request-id", requestId);
  if (stored.status === 503 && !out.has("retry-after")) out.set("retry-after", "5");
  return new Response(stored.body, { status: stored.status, headers: out });
}

async function readLimited(request: Request, max: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  const tooLarge = () => new TicketerFailure("payload_too_large", `the body is over ${max} bytes`);
  if (Number.isFinite(declared) && declared > max) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function parseJson(raw: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw)) as unknown;
  } catch {
    throw new TicketerFailure("invalid_payload", "the body is not valid JSON");
  }
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new Uint8Array(bytes));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
