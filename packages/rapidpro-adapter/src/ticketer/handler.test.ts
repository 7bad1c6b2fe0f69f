import {
  type AcceptResult,
  BridgeError,
  type ClientMessageInput,
  type CloseInput,
  type ConversationsPort,
  type OpenConversationInput,
} from "@openchs-bridge/core";
import { describe, expect, it } from "vitest";
import {
  createTicketerHandler,
  defaultConversationIdFor,
  defaultReopenedConversationIdFor,
  type TicketerHandlerOptions,
  type TicketReopenInput,
} from "./handler";
import { createMemoryIdempotencyStore } from "./idempotency";

/** The port's reopen input (not re-exported by the core's index yet). */
type ReopenConversationInput = Parameters<ConversationsPort["reopen"]>[0];

const TOKEN = "ticketer-api-token-0123456789";
const TICKET = "0f4d2c8a-2c83-4f2c-9f7d-1d4f70d50e71";
const EXTERNAL = "t_0f4d2c8a2c834f2c9f7d1d4f70d50e71";
const CONTACT = "7ad9d98e-321f-4c61-9a50-79b1c7d7f621";

/**
 * An in-memory ConversationsPort with the semantics the bridge documents: open is idempotent, a
 * message id takes effect once, a closed conversation refuses messages (409), closing twice is a
 * no-op, an unknown conversation without a contact cannot be started, a reopen of a closed
 * conversation makes a new one linked to it (and of an open one, nothing).
 */
function memoryConversations() {
  type Conv = {
    input: OpenConversationInput;
    state: "requested" | "closed";
    reason?: string | undefined;
    reopenedTo?: string | undefined;
  };
  const conversations = new Map<string, Conv>();
  const accepted: ClientMessageInput[] = [];
  const byMessageId = new Map<string, string>();
  const closes: CloseInput[] = [];
  const reopens: ReopenConversationInput[] = [];
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
    async reopen(input) {
      failIfScripted();
      const id = newestOf(input.conversationId);
      const newest = id !== undefined ? conversations.get(id) : undefined;
      if (!id || !newest) throw new BridgeError("conversation_not_found", "no conversation with that chat_session");
      reopens.push(input);
      if (newest.state !== "closed")
        return { conversationId: id, created: false, state: newest.state, createdAt: "t0" };
      conversations.set(input.newConversationId, {
        input: {
          ...newest.input,
          conversationId: input.newConversationId,
          metadata: { ...newest.input.metadata, ...input.metadata, reopened_from: id },
        },
        state: "requested",
      });
      newest.reopenedTo = input.newConversationId;
      return {
        conversationId: input.newConversationId,
        created: true,
        state: "requested",
        createdAt: "t1",
        reopenedFrom: id,
      };
    },
    async current(id) {
      failIfScripted();
      return newestOf(id);
    },
  };
  function newestOf(id: string): string | undefined {
    let current = conversations.get(id) ? id : undefined;
    while (current !== undefined && conversations.get(current)?.reopenedTo !== undefined) {
      current = conversations.get(current)!.reopenedTo;
    }
    return current;
  }
  return { port, conversations, accepted, closes, reopens, failNext: (e: Error) => failures.push(e) };
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
      ticket: { ticketId: TICKET, externalId: EXTERNAL, ticketerUuid: "67dc9f8d-bd4d-4a97-8f8a-4d62625ff9e7" },
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
    const sideways = await t.call(`/v1/tickets/${EXTERNAL}/messages`, { text: "x", direction: "sideways" });
    expect(sideways.json).toMatchObject({ error: "invalid_payload", details: { field: "direction" } });
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

  it("answers 422 reopen_not_supported when reopening is turned off, and 404 for an unknown ticket", async () => {
    const off = setup({ supportsReopen: false });
    await off.call("/v1/tickets", openBody({ body: "" }));
    await off.call(`/v1/tickets/${EXTERNAL}/close`, {});
    const refused = await off.call(`/v1/tickets/${EXTERNAL}/reopen`, { ticket_id: TICKET, external_id: EXTERNAL });
    expect([refused.status, refused.json.error]).toEqual([422, "reopen_not_supported"]);
    expect(off.reopens).toEqual([]);
    const t = setup();
    const unknown = await t.call("/v1/tickets/t_nope/reopen", { ticket_id: TICKET, external_id: "t_nope" });
    expect([unknown.status, unknown.json.error]).toEqual([404, "ticket_not_found"]);
  });
});

/** The headers mailroom's Go client sends (weni-ai/mailroom `services/tickets/generic/client.go`). */
const mailroomHeaders = (idempotencyKey?: string): Record<string, string> => ({
  "user-agent": "Go-http-client/1.1",
  "x-api-version": "1",
  "x-request-id": crypto.randomUUID(),
  ...(idempotencyKey ? { "idempotency-key": idempotencyKey } : {}),
});

/** A line as mailroom builds it from a message (`history.go`): empty fields omitted, times in RFC 3339 with nanoseconds. */
const botLine = (id: string, text: string, at: string) => ({
  message_id: id,
  direction: "outgoing",
  sender: { type: "bot" },
  text,
  sent_at: at,
});
const childLine = (id: string, text: string, at: string) => ({
  message_id: id,
  direction: "incoming",
  sender: { type: "contact", id: CONTACT },
  text,
  sent_at: at,
});

describe("ticketer: mailroom as it really calls", () => {
  it("refuses a shared location outside the globe (latitude beyond ±90), as the gateway does", async () => {
    const t = setup();
    await t.call("/v1/tickets", openBody({ body: "" }), mailroomHeaders(`open-${TICKET}`));
    const res = await t.call(
      `/v1/tickets/${EXTERNAL}/messages`,
      {
        ticket_id: TICKET,
        external_id: EXTERNAL,
        message_id: "m-geo",
        direction: "incoming",
        sender: { type: "contact", id: CONTACT },
        attachments: [{ content_type: "geo", url: "91.5,36.81" }],
        sent_at: "2026-05-20T14:21:30Z",
      },
      mailroomHeaders(),
    );
    expect(res.status).toBe(400);
    expect(t.accepted).toEqual([]);
  });

  it("takes a history batch oldest first with the bot's lines marked, once, even sent again", async () => {
    const t = setup();
    await t.call("/v1/tickets", openBody({ body: "" }), mailroomHeaders(`open-${TICKET}`));
    const history = {
      ticket_id: TICKET,
      external_id: EXTERNAL,
      contact: { uuid: CONTACT, name: "Child 17", urn: "whatsapp:254700112233" },
      messages: [
        botLine("m-001", "Hello! How can I help?", "2026-05-20T14:20:00.100000000Z"),
        childLine("m-002", "I need to talk to someone", "2026-05-20T14:21:00.200000000Z"),
        {
          ...botLine("m-003", "Connecting you to a counselor", "2026-05-20T14:21:01.300000000Z"),
          attachments: [{ content_type: "image/png", url: "https://media.test/wait.png" }],
        },
        {
          message_id: "m-004",
          direction: "incoming",
          sender: { type: "contact", id: CONTACT },
          attachments: [{ content_type: "geo", url: "-1.28,36.81" }],
          sent_at: "2026-05-20T14:21:30.400000000Z",
        },
        { message_id: "m-005", direction: "outgoing", sender: { type: "bot" }, sent_at: "2026-05-20T14:21:31Z" },
      ],
    };
    const res = await t.call(`/v1/tickets/${EXTERNAL}/history`, history, mailroomHeaders());
    expect([res.status, res.json]).toEqual([200, { status: "history_received", messages_received: 4 }]);
    expect(t.accepted).toEqual([
      { conversationId: EXTERNAL, messageId: "m-001", text: "[bot] Hello! How can I help?", attachments: [] },
      { conversationId: EXTERNAL, messageId: "m-002", text: "I need to talk to someone", attachments: [] },
      {
        conversationId: EXTERNAL,
        messageId: "m-003",
        text: "[bot] Connecting you to a counselor",
        attachments: [{ url: "https://media.test/wait.png", content_type: "image/png" }],
      },
      {
        conversationId: EXTERNAL,
        messageId: "m-004",
        attachments: [{ url: "geo:-1.28,36.81", content_type: "geo" }],
      },
    ]);
    // Mailroom retries its history task after a failure: the same batch again delivers nothing new,
    // nor does a forward of a line history carried.
    const again = await t.call(`/v1/tickets/${EXTERNAL}/history`, history, mailroomHeaders());
    expect(again.status).toBe(200);
    const forward = await t.call(
      `/v1/tickets/${EXTERNAL}/messages`,
      { ticket_id: TICKET, external_id: EXTERNAL, ...childLine("m-002", "I need to talk to someone", "x") },
      mailroomHeaders("forward-m-002"),
    );
    expect(forward.json.duplicate).toBe(true);
    expect(t.accepted).toHaveLength(4);
  });

  it("takes history one by one on …/messages, bot lines included, never refusing a legitimate line", async () => {
    const t = setup();
    await t.call("/v1/tickets", openBody({ body: "" }));
    const lines = [
      botLine("m-001", "Hello! How can I help?", "2026-05-20T14:20:00.1Z"),
      {
        ...childLine("m-002", "I need to talk to someone", "2026-05-20T14:21:00.2Z"),
        sender: { type: "contact", id: CONTACT, name: "Child 17" },
      },
      // A bot line with nothing mailroom can show (a quick-reply-only message): no error, nothing delivered.
      { message_id: "m-003", direction: "outgoing", sender: { type: "bot" }, sent_at: "2026-05-20T14:21:01Z" },
      botLine("m-004", "A counselor will answer you here", "2026-05-20T14:21:02Z"),
    ];
    const answers = [];
    for (const line of lines) {
      const res = await t.call(
        `/v1/tickets/${EXTERNAL}/messages`,
        { ticket_id: TICKET, external_id: EXTERNAL, ...line },
        mailroomHeaders(),
      );
      answers.push([res.status, res.json.status]);
    }
    expect(answers).toEqual([
      [200, "received"],
      [200, "received"],
      [200, "ignored"],
      [200, "received"],
    ]);
    expect(t.accepted.map((m) => [m.messageId, m.text, m.senderName])).toEqual([
      ["m-001", "[bot] Hello! How can I help?", undefined],
      ["m-002", "I need to talk to someone", "Child 17"],
      ["m-004", "[bot] A counselor will answer you here", undefined],
    ]);
    const skip = setup({ historyOutgoing: "skip" });
    await skip.call("/v1/tickets", openBody({ body: "" }));
    const skipped = await skip.call(`/v1/tickets/${EXTERNAL}/messages`, botLine("m-9", "Hi", "2026-05-20T14:20:00Z"));
    expect([skipped.status, skipped.json, skip.accepted]).toEqual([200, { status: "ignored" }, []]);
  });

  it.each(["platform", "system"])(
    "accepts mailroom's own close (closed_by %s, no reason), and a later close of it is 409",
    async (type) => {
      const t = setup();
      await t.call("/v1/tickets", openBody({ body: "" }));
      const body = {
        ticket_id: TICKET,
        external_id: EXTERNAL,
        closed_by: { type, id: "system" },
        closed_at: "2026-05-20T14:50:00.123456789Z",
      };
      const key = `close-${TICKET}-1779288600123456789`;
      const closed = await t.call(`/v1/tickets/${EXTERNAL}/close`, body, mailroomHeaders(key));
      expect([closed.status, closed.json]).toEqual([200, { status: "closed" }]);
      expect(t.closes).toEqual([{ conversationId: EXTERNAL, closedBy: "chatbot" }]);
      const retried = await t.call(`/v1/tickets/${EXTERNAL}/close`, body, mailroomHeaders(key));
      expect([retried.status, retried.headers.get("idempotent-replayed")]).toEqual([200, "true"]);
      const later = await t.call(
        `/v1/tickets/${EXTERNAL}/close`,
        { ...body, closed_at: "2026-05-20T14:51:00.5Z" },
        mailroomHeaders(`close-${TICKET}-1779288660500000000`),
      );
      expect([later.status, later.json.error]).toEqual([409, "ticket_already_closed"]);
      expect(t.closes).toHaveLength(1);
    },
  );

  it("reopens a closed ticket as a new linked conversation, which the ticket's later calls reach", async () => {
    const hooked: TicketReopenInput[] = [];
    const t = setup({
      onReopen: async (input) => {
        hooked.push(input);
      },
    });
    await t.call("/v1/tickets", openBody({ body: "" }));
    await t.call(`/v1/tickets/${EXTERNAL}/messages`, childLine("m-1", "thank you", "2026-05-20T14:40:00Z"));
    await t.call(`/v1/tickets/${EXTERNAL}/close`, { closed_by: { type: "platform", id: "system" } });
    const reopenBody = {
      ticket_id: TICKET,
      external_id: EXTERNAL,
      reopened_by: { type: "platform", id: "system" },
      reopened_at: "2026-05-20T15:05:00.123456789Z",
    };
    const key = `reopen-${TICKET}-1779289500123456789`;
    const reopened = await t.call(`/v1/tickets/${EXTERNAL}/reopen`, reopenBody, mailroomHeaders(key));
    const next = `${EXTERNAL}_r20260520T150500123`;
    expect([reopened.status, reopened.json]).toEqual([
      200,
      { external_id: EXTERNAL, status: "open", created_at: "t1", conversation_id: next, reopened_from: EXTERNAL },
    ]);
    expect(t.reopens).toEqual([
      {
        conversationId: EXTERNAL,
        newConversationId: next,
        metadata: { reopened_at: "2026-05-20T15:05:00.123456789Z", reopened_by: "platform" },
      },
    ]);
    expect(t.conversations.get(next)?.input).toMatchObject({
      contact: CONTACT,
      metadata: { reopened_from: EXTERNAL, ticket_id: TICKET },
    });
    // Mailroom keeps the external_id: its forwards still name it, and reach the new conversation.
    const later = await t.call(
      `/v1/tickets/${EXTERNAL}/messages`,
      { ticket_id: TICKET, external_id: EXTERNAL, ...childLine("m-2", "I need help again", "2026-05-20T15:06:00Z") },
      mailroomHeaders("forward-m-2"),
    );
    expect([later.status, later.json.status]).toEqual([200, "received"]);
    expect(t.accepted.map((m) => [m.conversationId, m.messageId])).toEqual([
      [EXTERNAL, "m-1"],
      [next, "m-2"],
    ]);
    // Reopening while the new one is open changes nothing; a retry of the first reopen replays it.
    const whileOpen = await t.call(
      `/v1/tickets/${EXTERNAL}/reopen`,
      { ...reopenBody, reopened_at: "2026-05-20T15:07:00Z" },
      mailroomHeaders(`reopen-${TICKET}-1779289620000000000`),
    );
    expect([whileOpen.status, whileOpen.json.conversation_id, whileOpen.json.reopened_from]).toEqual([
      200,
      next,
      undefined,
    ]);
    const replay = await t.call(`/v1/tickets/${EXTERNAL}/reopen`, reopenBody, mailroomHeaders(key));
    expect(replay.json).toEqual(reopened.json);
    expect(hooked.map((h) => [h.conversationId, h.created, h.reopenedFrom])).toEqual([
      [next, true, EXTERNAL],
      [next, false, undefined],
    ]);
    // A close names the external_id too, and closes the conversation that answers now.
    const closed = await t.call(`/v1/tickets/${EXTERNAL}/close`, { closed_by: { type: "platform", id: "system" } });
    expect(closed.status).toBe(200);
    expect(t.closes.map((c) => c.conversationId)).toEqual([EXTERNAL, next]);
    const again = await t.call(`/v1/tickets/${EXTERNAL}/close`, {});
    expect([again.status, again.json.error]).toEqual([409, "ticket_already_closed"]);
    const afterClose = await t.call(`/v1/tickets/${EXTERNAL}/messages`, childLine("m-3", "hello?", "x"));
    expect([afterClose.status, afterClose.json.error]).toEqual([409, "ticket_closed"]);
  });

  it("names a reopened conversation with [A-Za-z0-9_] only, within 100 characters", () => {
    const at = new Date("2026-05-20T15:05:00.123Z");
    expect(defaultReopenedConversationIdFor(EXTERNAL, at)).toBe(`${EXTERNAL}_r20260520T150500123`);
    const long = defaultReopenedConversationIdFor("x".repeat(100), at);
    expect(long).toMatch(/^\w{100}$/);
    expect(long.endsWith("_r20260520T150500123")).toBe(true);
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
    const { reopen: _, ...withoutReopen } = port;
    expect(() =>
      createTicketerHandler({ apiToken: TOKEN, conversations: withoutReopen as unknown as typeof port }),
    ).toThrow(/reopen and current/);
  });
});
