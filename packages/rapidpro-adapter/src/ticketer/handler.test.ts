import {
  type AcceptResult,
  BridgeError,
  type ClientMessageInput,
  type CloseInput,
  type ConversationsPort,
  type OpenConversationInput,
} from "@openchs-bridge/core";
import { describe, expect, it } from "vitest";
import { createTicketerHandler, defaultConversationIdFor, type TicketerHandlerOptions } from "./handler";
import { createMemoryIdempotencyStore } from "./idempotency";

const TOKEN = "ticketer-api-token-0123456789";
const TICKET = "0f4d2c8a-2c83-4f2c-9f7d-1d4f70d50e71";
const EXTERNAL = "t_0f4d2c8a2c834f2c9f7d1d4f70d50e71";
const CONTACT = "7ad9d98e-321f-4c61-9a50-79b1c7d7f621";

/**
 * An in-memory ConversationsPort with the semantics the bridge documents: open is idempotent, a
 * message id takes effect once, a closed conversation refuses messages (409), closing twice is a
 * no-op, an unknown conversation without a contact cannot be started.
 */
function memoryConversations() {
  type Conv = { input: OpenConversationInput; state: "requested" | "closed"; reason?: string | undefined };
  const conversations = new Map<string, Conv>();
  const accepted: ClientMessageInput[] = [];
  const byMessageId = new Map<string, string>();
  const closes: CloseInput[] = [];
  const failures: Error[] = [];
  let seq = 0;
  const failIfScripted = () => {
    const failure = failures.shift();
    if (failure) throw failure;
  };
  const port: ConversationsPort = {
    async open(input) {
      failIfScripted();
      const existing = conversations.get(input.conversationId);
      if (existing) {
        return { conversationId: input.conversationId, created: false, state: existing.state, createdAt: "t0" };
      }
      conversations.set(input.conversationId, { input, state: "requested" });
      return { conversationId: input.conversationId, created: true, state: "requested", createdAt: "t0" };
    },
    async acceptClientMessage(input): Promise<AcceptResult> {
      failIfScripted();
      const conversation = conversations.get(input.conversationId);
      // As the core does: a message for an unknown conversation without a contact.
      if (!conversation) throw new BridgeError("conversation_not_found", "no conversation with that id");
      const key = `${input.conversationId}/${input.messageId}`;
      const known = input.messageId !== undefined ? byMessageId.get(key) : undefined;
      const base = {
        status: "accepted" as const,
        conversation_id: input.conversationId,
        message_id: input.messageId ?? "auto",
        conversation_state: conversation.state,
      };
      if (known) return { ...base, duplicate: true, uuid: known };
      if (conversation.state === "closed") {
        throw new BridgeError("conversation_closed", "closed", { state: "closed" });
      }
      const uuid = `msg-${++seq}`;
      if (input.messageId !== undefined) byMessageId.set(key, uuid);
      accepted.push(input);
      return { ...base, duplicate: false, uuid };
    },
    async close(input) {
      failIfScripted();
      const conversation = conversations.get(input.conversationId);
      if (!conversation) throw new BridgeError("conversation_not_found", "no conversation with that chat_session");
      const changed = conversation.state !== "closed";
      if (changed) {
        conversation.state = "closed";
        conversation.reason = input.reason;
        closes.push(input);
      }
      return { conversationId: input.conversationId, state: "closed", changed, closedBy: "chatbot" };
    },
  };
  return { port, conversations, accepted, closes, failNext: (e: Error) => failures.push(e) };
}

function setup(extra: Partial<TicketerHandlerOptions> = {}) {
  const memory = memoryConversations();
  const handler = createTicketerHandler({ apiToken: TOKEN, conversations: memory.port, ...extra });
  const call = async (
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
    method = "POST",
  ): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> => {
    const response = await handler(
      new Request(`https://bridge.test${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
        ...(method === "POST" ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
      }),
    );
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    return {
      status: response.status,
      json: (await response.json()) as Record<string, unknown>,
      headers: response.headers,
    };
  };
  return { ...memory, handler, call };
}

const openBody = (extra: Record<string, unknown> = {}) => ({
  ticket_id: TICKET,
  topic: { uuid: "a1d2b8c3-9e4f-4a5b-8c6d-7e8f9a0b1c2d", name: "KE", queue_uuid: "c4d5e6f7" },
  contact: { uuid: CONTACT, name: "Child 17", urn: "whatsapp:254700112233", urns: [], language: "swa" },
  body: "Child asked for a counselor",
  metadata: {
    webhook_base_url:
      "https://flows.weni.ai/mr/tickets/types/generic/event_callback/67dc9f8d-bd4d-4a97-8f8a-4d62625ff9e7",
  },
  opened_at: "2026-05-20T14:30:00Z",
  ...extra,
});

describe("ticketer: open", () => {
  it("opens a conversation with an [A-Za-z0-9_] id and delivers the body as the first client message", async () => {
    const t = setup();
    const res = await t.call("/v1/tickets", openBody(), { "idempotency-key": `open-${TICKET}` });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ external_id: EXTERNAL, status: "open", created_at: "t0" });
    expect(defaultConversationIdFor(TICKET)).toBe(EXTERNAL);
    expect(t.conversations.get(EXTERNAL)?.input).toEqual({
      origin: "ticketer",
      conversationId: EXTERNAL,
      contact: CONTACT,
      clientName: "Child 17",
      receiver: "KE",
      metadata: { ticket_id: TICKET, topic: "KE", queue_uuid: "c4d5e6f7", language: "swa" },
      ticket: { ticketId: TICKET, ticketerUuid: "67dc9f8d-bd4d-4a97-8f8a-4d62625ff9e7" },
    });
    expect(t.accepted).toEqual([
      {
        conversationId: EXTERNAL,
        messageId: `open-${TICKET}`,
        text: "Child asked for a counselor",
        senderName: "Child 17",
      },
    ]);
  });

  it("replays the first answer for the same Idempotency-Key, and answers 409 with details.external_id otherwise", async () => {
    const t = setup();
    const first = await t.call("/v1/tickets", openBody(), { "idempotency-key": `open-${TICKET}` });
    const replay = await t.call("/v1/tickets", openBody(), { "idempotency-key": `open-${TICKET}` });
    expect(replay.status).toBe(201);
    expect(replay.json).toEqual(first.json);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    const again = await t.call("/v1/tickets", openBody());
    expect(again.status).toBe(409);
    expect(again.json).toEqual({
      error: "ticket_already_open",
      message: "this ticket is open already",
      details: { external_id: EXTERNAL },
    });
    expect(t.accepted).toHaveLength(1);
  });

  it("a retry after a failure part way still delivers the body once", async () => {
    const t = setup();
    t.failNext(new Error("not yet")); // open itself fails: 500, not kept
    const failed = await t.call("/v1/tickets", openBody(), { "idempotency-key": "k" });
    expect(failed.status).toBe(500);
    expect(failed.json).toEqual({ error: "internal_error", message: "internal error" });
    const opened = await t.call("/v1/tickets", openBody(), { "idempotency-key": "k" });
    expect(opened.status).toBe(201);
    // The store failed while taking the body: 503, nothing kept; mailroom's retry completes it.
    const t2 = setup();
    t2.port.acceptClientMessage = (() => {
      const real = t2.port.acceptClientMessage.bind(t2.port);
      let calls = 0;
      return async (input: ClientMessageInput) => {
        if (++calls === 1) throw new BridgeError("store_unavailable", "down", { retryAfterS: 5 });
        return real(input);
      };
    })();
    const down = await t2.call("/v1/tickets", openBody(), { "idempotency-key": "k" });
    expect([down.status, down.json.error, down.headers.get("retry-after")]).toEqual([503, "service_unavailable", "5"]);
    const retried = await t2.call("/v1/tickets", openBody(), { "idempotency-key": "k" });
    expect(retried.status).toBe(409);
    expect(retried.json.details).toEqual({ external_id: EXTERNAL });
    expect(t2.accepted.map((m) => m.messageId)).toEqual([`open-${TICKET}`]);
  });

  it("opens without a first message when the body is empty; routing key and conversation id are options", async () => {
    const t = setup({
      routingKey: (ticket) => ticket.topic?.queue_uuid,
      conversationIdFor: (id) => `wk_${id.slice(0, 8)}`,
    });
    const res = await t.call("/v1/tickets", openBody({ body: "" }));
    expect(res.json.external_id).toBe("wk_0f4d2c8a");
    expect(t.conversations.get("wk_0f4d2c8a")?.input.receiver).toBe("c4d5e6f7");
    expect(t.accepted).toHaveLength(0);
  });

  it("refuses an open of a ticket whose conversation is closed (no external_id for mailroom to reuse)", async () => {
    const t = setup();
    await t.call("/v1/tickets", openBody());
    await t.call(`/v1/tickets/${EXTERNAL}/close`, { ticket_id: TICKET, external_id: EXTERNAL });
    const res = await t.call("/v1/tickets", openBody());
    expect([res.status, res.json.error]).toEqual([409, "ticket_closed"]);
    expect(res.json.details).toBeUndefined();
  });

  it("answers 400 invalid_payload naming the field", async () => {
    const t = setup();
    const noContact = await t.call("/v1/tickets", { ticket_id: TICKET, contact: { name: "x" } });
    expect(noContact.status).toBe(400);
    expect(noContact.json).toMatchObject({ error: "invalid_payload", details: { field: "contact.uuid" } });
    const notJson = await t.call("/v1/tickets", "{nope");
    expect([notJson.status, notJson.json.error]).toEqual([400, "invalid_payload"]);
    expect(t.conversations.size).toBe(0);
  });
});

describe("ticketer: messages and history", () => {
  it("accepts a forwarded message with its message_id as the dedupe key", async () => {
    const t = setup();
    await t.call("/v1/tickets", openBody({ body: "" }));
    const body = {
      ticket_id: TICKET,
      external_id: EXTERNAL,
      message_id: "msg-789",
      direction: "incoming",
      sender: { type: "contact", id: CONTACT, name: "Child 17" },
      text: "are you there?",
      attachments: [{ url: "https://files.test/a.jpg", content_type: "image/jpeg" }, { url: "https://files.test/b" }],
      sent_at: "2026-05-20T14:32:00Z",
    };
    const first = await t.call(`/v1/tickets/${EXTERNAL}/messages`, body, { "idempotency-key": "forward-msg-789" });
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ message_external_id: "msg-1", status: "received" });
    const again = await t.call(`/v1/tickets/${EXTERNAL}/messages`, body);
    expect(again.json).toEqual({ message_external_id: "msg-1", status: "received", duplicate: true });
    expect(t.accepted).toEqual([
      {
        conversationId: EXTERNAL,
        messageId: "msg-789",
        text: "are you there?",
        attachments: [
          { url: "https://files.test/a.jpg", content_type: "image/jpeg" },
          { url: "https://files.test/b", content_type: "application/octet-stream" },
        ],
        senderName: "Child 17",
      },
    ]);
  });

  it("uses the Idempotency-Key as message id when the body has none", async () => {
    const t = setup();
    await t.call("/v1/tickets", openBody({ body: "" }));
    await t.call(`/v1/tickets/${EXTERNAL}/messages`, { text: "hi" }, { "idempotency-key": "forward-abc" });
    expect(t.accepted[0]?.messageId).toBe("forward-abc");
  });

  it("answers 404 ticket_not_found for an unknown ticket, 409 ticket_closed after close, 400 for bad bodies", async () => {
    const t = setup();
    const unknown = await t.call("/v1/tickets/t_nope/messages", { text: "hi" });
    expect([unknown.status, unknown.json.error, unknown.json.details]).toEqual([
      404,
      "ticket_not_found",
      { external_id: "t_nope" },
    ]);
    await t.call("/v1/tickets", openBody({ body: "" }));
    const empty = await t.call(`/v1/tickets/${EXTERNAL}/messages`, { text: "", attachments: [] });
    expect([empty.status, empty.json.error]).toEqual([400, "invalid_payload"]);
    const outgoing = await t.call(`/v1/tickets/${EXTERNAL}/messages`, { text: "x", direction: "outgoing" });
    expect(outgoing.status).toBe(400);
    const mismatch = await t.call(`/v1/tickets/${EXTERNAL}/messages`, { text: "x", external_id: "t_other" });
    expect(mismatch.json).toMatchObject({ error: "invalid_payload", details: { field: "external_id" } });
    const ftp = await t.call(`/v1/tickets/${EXTERNAL}/messages`, { attachments: [{ url: "ftp://x/y" }] });
    expect(ftp.json).toMatchObject({ error: "invalid_payload", details: { field: "attachments[0].url" } });
    await t.call(`/v1/tickets/${EXTERNAL}/close`, {});
    const closed = await t.call(`/v1/tickets/${EXTERNAL}/messages`, { text: "hello?" });
    expect([closed.status, closed.json.error]).toEqual([409, "ticket_closed"]);
  });

  it("delivers history in sent_at order, the bot's lines marked, deduped with forwarded messages", async () => {
    const t = setup();
    await t.call("/v1/tickets", openBody({ body: "" }));
    await t.call(`/v1/tickets/${EXTERNAL}/messages`, { message_id: "msg-003", text: "help" });
    const res = await t.call(`/v1/tickets/${EXTERNAL}/history`, {
      ticket_id: TICKET,
      external_id: EXTERNAL,
      messages: [
        { message_id: "msg-003", direction: "incoming", text: "help", sent_at: "2026-05-20T14:22:00Z" },
        { message_id: "msg-002", direction: "incoming", text: "I need to talk", sent_at: "2026-05-20T14:21:00Z" },
        {
          message_id: "msg-001",
          direction: "outgoing",
          sender: { type: "bot" },
          text: "Hi!",
          sent_at: "2026-05-20T14:20:00Z",
        },
        { message_id: "msg-000", direction: "incoming", text: "", sent_at: "2026-05-20T14:19:00Z" },
      ],
    });
    expect(res.json).toEqual({ status: "history_received", messages_received: 3 });
    expect(t.accepted.map((m) => [m.messageId, m.text])).toEqual([
      ["msg-003", "help"],
      ["msg-001", "[bot] Hi!"],
      ["msg-002", "I need to talk"],
    ]);
    const skip = setup({ historyOutgoing: "skip" });
    await skip.call("/v1/tickets", openBody({ body: "" }));
    await skip.call(`/v1/tickets/${EXTERNAL}/history`, {
      messages: [
        { message_id: "b", direction: "outgoing", text: "Hi!" },
        { message_id: "c", text: "yo" },
      ],
    });
    expect(skip.accepted.map((m) => m.messageId)).toEqual(["c"]);
  });
});

describe("ticketer: close and reopen", () => {
  it("closes as closed_by chatbot with the reason; a second close is 409 ticket_already_closed", async () => {
    const t = setup();
    await t.call("/v1/tickets", openBody({ body: "" }));
    const body = {
      ticket_id: TICKET,
      external_id: EXTERNAL,
      closed_by: { type: "platform", id: "system" },
      reason: "resolved",
      closed_at: "2026-05-20T14:50:00Z",
    };
    const first = await t.call(`/v1/tickets/${EXTERNAL}/close`, body, { "idempotency-key": "close-1" });
    expect([first.status, first.json]).toEqual([200, { status: "closed" }]);
    const replay = await t.call(`/v1/tickets/${EXTERNAL}/close`, body, { "idempotency-key": "close-1" });
    expect(replay.status).toBe(200);
    const second = await t.call(`/v1/tickets/${EXTERNAL}/close`, body, { "idempotency-key": "close-2" });
    expect([second.status, second.json.error]).toEqual([409, "ticket_already_closed"]);
    expect(t.closes).toEqual([{ conversationId: EXTERNAL, closedBy: "chatbot", reason: "resolved" }]);
    const unknown = await t.call("/v1/tickets/t_nope/close", {});
    expect([unknown.status, unknown.json.error]).toEqual([404, "ticket_not_found"]);
  });

  it("answers 422 reopen_not_supported unless reopening is supported", async () => {
    const t = setup();
    const res = await t.call(`/v1/tickets/${EXTERNAL}/reopen`, { ticket_id: TICKET, external_id: EXTERNAL });
    expect([res.status, res.json.error]).toEqual([422, "reopen_not_supported"]);
    const reopened: string[] = [];
    const r = setup({
      supportsReopen: true,
      onReopen: async ({ externalId }) => {
        reopened.push(externalId);
      },
    });
    const ok = await r.call(`/v1/tickets/${EXTERNAL}/reopen`, {});
    expect([ok.status, ok.json, reopened]).toEqual([200, { status: "open" }, [EXTERNAL]]);
    expect(() => createTicketerHandler({ apiToken: TOKEN, conversations: t.port, supportsReopen: true })).toThrow(
      /onReopen/,
    );
  });
});

describe("ticketer: auth, idempotency and the HTTP edges", () => {
  it("requires the Bearer token, accepting any of a rotation list", async () => {
    const t = setup({ apiToken: ["old-token", TOKEN] });
    for (const authorization of [undefined, "Bearer wrong", `Token ${TOKEN}`, "Bearer ", `Bearer ${TOKEN}x`]) {
      const res = await t.handler(
        new Request("https://bridge.test/v1/tickets", {
          method: "POST",
          headers: authorization ? { authorization } : {},
          body: JSON.stringify(openBody()),
        }),
      );
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "unauthorized", message: "missing or invalid Bearer token" });
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
    expect(t.conversations.size).toBe(0);
    const old = await t.call("/v1/tickets", openBody(), { authorization: "Bearer old-token" });
    expect(old.status).toBe(201);
  });

  it("refuses an Idempotency-Key reused with another body", async () => {
    const t = setup();
    await t.call("/v1/tickets", openBody(), { "idempotency-key": "k1" });
    const other = await t.call("/v1/tickets", openBody({ body: "changed" }), { "idempotency-key": "k1" });
    expect([other.status, other.json.error]).toEqual([422, "idempotency_key_reused"]);
  });

  it("answers concurrent retries with one key once, from the first request", async () => {
    const t = setup();
    await t.call("/v1/tickets", openBody({ body: "" }));
    const body = { message_id: "m-1", text: "hi" };
    const [a, b, c] = await Promise.all([
      t.call(`/v1/tickets/${EXTERNAL}/messages`, body, { "idempotency-key": "forward-m-1" }),
      t.call(`/v1/tickets/${EXTERNAL}/messages`, body, { "idempotency-key": "forward-m-1" }),
      t.call(`/v1/tickets/${EXTERNAL}/messages`, body, { "idempotency-key": "forward-m-1" }),
    ]);
    expect([a!.json, b!.json, c!.json]).toEqual([
      { message_external_id: "msg-1", status: "received" },
      { message_external_id: "msg-1", status: "received" },
      { message_external_id: "msg-1", status: "received" },
    ]);
    expect(t.accepted).toHaveLength(1);
  });

  it("keeps answers only for their TTL", async () => {
    let now = 0;
    const store = createMemoryIdempotencyStore({ now: () => now });
    const t = setup({ idempotency: store, idempotencyTtlMs: 1000 });
    await t.call("/v1/tickets", openBody(), { "idempotency-key": "k" });
    now = 999;
    expect((await t.call("/v1/tickets", openBody(), { "idempotency-key": "k" })).status).toBe(201);
    now = 1001;
    expect((await t.call("/v1/tickets", openBody(), { "idempotency-key": "k" })).status).toBe(409);
  });

  it("routes: 404 elsewhere, 405 for other methods, trailing slash accepted, 413 over the size limit", async () => {
    const t = setup({ maxBodyBytes: 2048 });
    expect((await t.call("/v2/tickets", openBody())).status).toBe(404);
    expect((await t.call(`/v1/tickets/${EXTERNAL}/transfer`, {})).json.error).toBe("not_found");
    const get = await t.call("/v1/tickets", undefined, {}, "GET");
    expect([get.status, get.headers.get("allow")]).toEqual([405, "POST"]);
    expect((await t.call("/v1/tickets/", openBody())).status).toBe(201);
    const big = await t.call(`/v1/tickets/${EXTERNAL}/messages`, { text: "x".repeat(4096) });
    expect([big.status, big.json.error]).toEqual([413, "payload_too_large"]);
  });

  it("echoes X-Request-Id and never puts the token in an answer", async () => {
    const t = setup();
    const res = await t.call("/v1/tickets", openBody(), { "x-request-id": "9d81b7e2" });
    expect(res.headers.get("x-request-id")).toBe("9d81b7e2");
    const denied = await t.handler(
      new Request("https://bridge.test/v1/tickets", { method: "POST", headers: { authorization: "Bearer guess" } }),
    );
    expect(await denied.text()).not.toContain(TOKEN);
  });

  it("refuses bad configuration at construction", () => {
    const { port } = memoryConversations();
    expect(() => createTicketerHandler({ apiToken: "", conversations: port })).toThrow(/apiToken/);
    expect(() => createTicketerHandler({ apiToken: TOKEN, conversations: port, basePath: "v1" })).toThrow(/basePath/);
  });
});
