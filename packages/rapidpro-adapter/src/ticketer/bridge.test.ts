import {
  type ChatbotTarget,
  type CloseNotice,
  createBridge,
  createMemoryStore,
  type HelplineMessage,
  type HelplineTarget,
  manualClock,
  type Store,
} from "@openchs-bridge/core";
import { createSqliteStore } from "@openchs-bridge/core/sqlite";
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTicketerCallbackClient, createTicketerChatbotTarget } from "./callback-client";
import { createTicketerHandler } from "./handler";
import { verifyTicketerCallback } from "./signature";

// Style B end to end: mailroom → the bridge's gateway handler → the ticketer handler → the real
// conversation service and memory store → the helpline target; and counselor replies back through
// the signed callbacks. Only mailroom (msw) and the helpline (a recording port) stand in.

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const TOKEN = "ticketer-api-token-0123456789";
const SECRET = "webhook-secret";
const CALLBACK = "https://flows.test/mr/tickets/types/generic/event_callback/67dc9f8d-bd4d-4a97-8f8a-4d62625ff9e7";
const TICKET = "0f4d2c8a-2c83-4f2c-9f7d-1d4f70d50e71";
const EXTERNAL = "t_0f4d2c8a2c834f2c9f7d1d4f70d50e71";
const CONTACT = "7ad9d98e-321f-4c61-9a50-79b1c7d7f621";

function setup(store: Store = createMemoryStore()) {
  const clock = manualClock(Date.parse("2026-05-20T14:30:00Z"));
  const helpline = { messages: [] as HelplineMessage[], closes: [] as CloseNotice[] };
  const helplineTarget: HelplineTarget = {
    async deliverMessage(message) {
      helpline.messages.push(message);
    },
    async notifyClose(close) {
      helpline.closes.push(close);
    },
  };
  const webhookChatbot: ChatbotTarget = {
    async deliverMessage() {
      throw new Error("style A target must not be used for ticketer conversations");
    },
    async notifyClose() {
      throw new Error("style A target must not be used for ticketer conversations");
    },
  };
  const callback = createTicketerCallbackClient({
    callbackUrl: CALLBACK,
    secret: SECRET,
    now: clock.now,
    retry: false,
  });
  const bridge = createBridge({
    store,
    helplines: helplineTarget,
    chatbot: webhookChatbot,
    ticketerChatbot: createTicketerChatbotTarget({ callback }),
    ticketer: (conversations) => createTicketerHandler({ apiToken: TOKEN, conversations }),
    consumers: [{ username: "helpline", password: "helpline-password", sources: ["OUTBOX", "HELPLINE"] }],
    clock,
  });
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await bridge.handler(
      new Request(`https://bridge.test/api/ticketer${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      }),
    );
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
  return { bridge, helpline, post, clock };
}

describe("Weni generic ticketer through the bridge", () => {
  it("a ticket's body and messages reach the helpline in order; replies and the close go back signed", async () => {
    const { bridge, helpline, post, clock } = setup();
    const callbacks: { path: string; body: Record<string, unknown>; verified: boolean }[] = [];
    server.use(
      http.post(`${CALLBACK}/*`, async ({ request }) => {
        const raw = await request.text();
        const verified = await verifyTicketerCallback({
          headers: request.headers,
          body: raw,
          secret: SECRET,
          now: clock.now(),
        })
          .then(() => true)
          .catch(() => false);
        const path = new URL(request.url).pathname.slice(new URL(CALLBACK).pathname.length);
        callbacks.push({ path, body: JSON.parse(raw), verified });
        return HttpResponse.json({ status: "sent" });
      }),
    );

    const open = await post(
      "/v1/tickets",
      { ticket_id: TICKET, contact: { uuid: CONTACT, name: "Child 17", urn: "whatsapp:1" }, body: "needs a counselor" },
      { "idempotency-key": `open-${TICKET}` },
    );
    expect(open).toEqual({
      status: 201,
      json: { external_id: EXTERNAL, status: "open", created_at: expect.any(String) },
    });
    const message = await post(`/v1/tickets/${EXTERNAL}/messages`, {
      ticket_id: TICKET,
      external_id: EXTERNAL,
      message_id: "msg-1",
      direction: "incoming",
      sender: { type: "contact", id: CONTACT, name: "Child 17" },
      text: "please answer",
    });
    expect(message.status).toBe(200);
    await bridge.runDue();
    expect(helpline.messages.map((m) => [m.conversationId, m.messageId, m.text, m.from])).toEqual([
      [EXTERNAL, `open-${TICKET}`, "needs a counselor", CONTACT],
      [EXTERNAL, "msg-1", "please answer", CONTACT],
    ]);

    // The real port answers for an unknown ticket as the contract wants.
    const unknown = await post("/v1/tickets/t_unknown/messages", { text: "hi" });
    expect([unknown.status, unknown.json.error]).toEqual([404, "ticket_not_found"]);

    await bridge.conversations.acceptCounselorMessage({
      conversationId: EXTERNAL,
      messageId: "c-1",
      text: "I am here",
      counselorName: "Amani",
      counselorExtension: "104",
    });
    await bridge.runDue();
    expect(callbacks).toEqual([
      {
        path: "/messages",
        verified: true,
        body: expect.objectContaining({
          external_id: EXTERNAL,
          message_external_id: "c-1",
          direction: "outgoing",
          sender: { type: "agent", id: "104", name: "Amani" },
          text: "I am here",
        }),
      },
    ]);

    await bridge.conversations.close({ conversationId: EXTERNAL, closedBy: "helpline" });
    await bridge.runDue();
    expect(callbacks.at(-1)).toMatchObject({
      path: "/tickets/close",
      verified: true,
      body: { external_id: EXTERNAL, closed_by: { type: "agent", id: "helpline" }, reason: "resolved" },
    });

    const late = await post(`/v1/tickets/${EXTERNAL}/messages`, { message_id: "msg-2", text: "hello?" });
    expect([late.status, late.json.error]).toEqual([409, "ticket_closed"]);
    const closeAgain = await post(`/v1/tickets/${EXTERNAL}/close`, { reason: "resolved" });
    expect([closeAgain.status, closeAgain.json.error]).toEqual([409, "ticket_already_closed"]);
  });

  it("a close from mailroom reaches the helpline and is not echoed back to mailroom", async () => {
    const { bridge, helpline, post } = setup();
    const callbacks: string[] = [];
    server.use(
      http.post(`${CALLBACK}/*`, ({ request }) => {
        callbacks.push(request.url);
        return HttpResponse.json({ status: "closed" });
      }),
    );
    await post("/v1/tickets", { ticket_id: TICKET, contact: { uuid: CONTACT } });
    const closed = await post(`/v1/tickets/${EXTERNAL}/close`, {
      ticket_id: TICKET,
      external_id: EXTERNAL,
      closed_by: { type: "platform", id: "system" },
      reason: "resolved",
    });
    expect(closed).toEqual({ status: 200, json: { status: "closed" } });
    await bridge.runDue();
    expect(helpline.closes.map((c) => [c.conversationId, c.closedBy, c.reason])).toEqual([
      [EXTERNAL, "chatbot", "resolved"],
    ]);
    expect(callbacks).toEqual([]);
  });

  it("delivers mailroom's history (the bot's lines marked) in order, before the messages that follow", async () => {
    const { bridge, helpline, post } = setup();
    server.use(http.post(`${CALLBACK}/*`, () => HttpResponse.json({ status: "sent" })));
    const headers = { "user-agent": "Go-http-client/1.1", "x-api-version": "1" };
    await post(
      "/v1/tickets",
      { ticket_id: TICKET, contact: { uuid: CONTACT, urn: "whatsapp:254700112233" }, body: "needs a counselor" },
      { ...headers, "idempotency-key": `open-${TICKET}` },
    );
    // The history task runs after the open: a batch (oldest first), then the rest one by one.
    const batch = await post(
      `/v1/tickets/${EXTERNAL}/history`,
      {
        ticket_id: TICKET,
        external_id: EXTERNAL,
        contact: { uuid: CONTACT, urn: "whatsapp:254700112233" },
        messages: [
          {
            message_id: "h-1",
            direction: "outgoing",
            sender: { type: "bot" },
            text: "Hi, I am the helpline bot",
            sent_at: "2026-05-20T14:20:00.1Z",
          },
          {
            message_id: "h-2",
            direction: "incoming",
            sender: { type: "contact", id: CONTACT },
            text: "someone hurts me",
            sent_at: "2026-05-20T14:21:00.2Z",
          },
        ],
      },
      headers,
    );
    expect(batch.json).toEqual({ status: "history_received", messages_received: 2 });
    const oneByOne = await post(
      `/v1/tickets/${EXTERNAL}/messages`,
      {
        ticket_id: TICKET,
        external_id: EXTERNAL,
        message_id: "h-3",
        direction: "outgoing",
        sender: { type: "bot" },
        text: "A counselor will answer you here",
        sent_at: "2026-05-20T14:21:05.3Z",
      },
      headers,
    );
    expect(oneByOne.status).toBe(200);
    await post(
      `/v1/tickets/${EXTERNAL}/messages`,
      {
        ticket_id: TICKET,
        external_id: EXTERNAL,
        message_id: "m-4",
        direction: "incoming",
        sender: { type: "contact", id: CONTACT },
        text: "are you there?",
        sent_at: "2026-05-20T14:31:00Z",
      },
      { ...headers, "idempotency-key": "forward-m-4" },
    );
    // A retried history batch takes effect once.
    await post(`/v1/tickets/${EXTERNAL}/history`, { messages: [{ message_id: "h-2", text: "someone hurts me" }] });
    await bridge.runDue();
    expect(helpline.messages.map((m) => [m.messageId, m.text, m.from])).toEqual([
      [`open-${TICKET}`, "needs a counselor", CONTACT],
      ["h-1", "[bot] Hi, I am the helpline bot", CONTACT],
      ["h-2", "someone hurts me", CONTACT],
      ["h-3", "[bot] A counselor will answer you here", CONTACT],
      ["m-4", "are you there?", CONTACT],
    ]);
  });

  it.each([
    ["memory", () => createMemoryStore()],
    ["sqlite", () => createSqliteStore(":memory:")],
  ])("a reopened ticket continues in a new linked conversation, its message delivered once (%s)", async (_, store) => {
    const { bridge, helpline, post } = setup(store());
    const callbacks: Record<string, unknown>[] = [];
    server.use(
      http.post(`${CALLBACK}/*`, async ({ request }) => {
        callbacks.push((await request.json()) as Record<string, unknown>);
        return HttpResponse.json({ status: "sent" });
      }),
    );
    await post("/v1/tickets", { ticket_id: TICKET, contact: { uuid: CONTACT, name: "Child 17" }, body: "first time" });
    await bridge.runDue();
    const closed = await post(
      `/v1/tickets/${EXTERNAL}/close`,
      {
        ticket_id: TICKET,
        external_id: EXTERNAL,
        closed_by: { type: "platform", id: "system" },
        closed_at: "2026-05-20T14:50:00.5Z",
      },
      { "idempotency-key": `close-${TICKET}-1779288600500000000` },
    );
    expect(closed.status).toBe(200);
    const reopenBody = {
      ticket_id: TICKET,
      external_id: EXTERNAL,
      reopened_by: { type: "platform", id: "system" },
      reopened_at: "2026-05-20T15:05:00.123456789Z",
    };
    const reopened = await post(`/v1/tickets/${EXTERNAL}/reopen`, reopenBody, {
      "idempotency-key": `reopen-${TICKET}-1779289500123456789`,
    });
    const next = `${EXTERNAL}_r20260520T150500123`;
    expect(reopened).toEqual({
      status: 200,
      json: {
        external_id: EXTERNAL,
        status: "open",
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
        conversation_id: next,
        reopened_from: EXTERNAL,
      },
    });
    const message = {
      ticket_id: TICKET,
      external_id: EXTERNAL,
      message_id: "m-after",
      direction: "incoming",
      sender: { type: "contact", id: CONTACT, name: "Child 17" },
      text: "I need help again",
    };
    // Delivered once, though mailroom retries it (and a reopen after a lost answer changes nothing).
    await post(`/v1/tickets/${EXTERNAL}/messages`, message, { "idempotency-key": "forward-m-after" });
    await post(`/v1/tickets/${EXTERNAL}/messages`, message);
    const reopenAgain = await post(`/v1/tickets/${EXTERNAL}/reopen`, {
      ...reopenBody,
      reopened_at: "2026-05-20T15:06:00Z",
    });
    expect([reopenAgain.status, reopenAgain.json.conversation_id]).toEqual([200, next]);
    await bridge.runDue();
    expect(helpline.closes.map((c) => [c.conversationId, c.closedBy])).toEqual([[EXTERNAL, "chatbot"]]);
    expect(helpline.messages.map((m) => [m.conversationId, m.messageId, m.text])).toEqual([
      [EXTERNAL, `open-${TICKET}`, "first time"],
      [next, "m-after", "I need help again"],
    ]);
    const old = await bridge.conversations.get(EXTERNAL);
    const fresh = await bridge.conversations.get(next);
    expect([old?.state, old?.reopenedTo]).toEqual(["closed", next]);
    expect(fresh).toMatchObject({
      state: "hunting",
      origin: "ticketer",
      contact: CONTACT,
      reopenedFrom: EXTERNAL,
      ticket: { ticketId: TICKET },
      metadata: { reopened_from: EXTERNAL, reopened_by: "platform" },
    });
    // Replies and the close of the new conversation name the ticket as mailroom knows it: the
    // external_id it kept, not the new conversation's id.
    await bridge.conversations.acceptCounselorMessage({ conversationId: next, messageId: "c-1", text: "I am here" });
    await bridge.conversations.close({ conversationId: next, closedBy: "helpline" });
    await bridge.runDue();
    expect(callbacks.map((c) => [c.external_id, c.message_external_id ?? c.closed_by])).toEqual([
      [EXTERNAL, "c-1"],
      [EXTERNAL, { type: "agent", id: "helpline" }],
    ]);
  });
});
