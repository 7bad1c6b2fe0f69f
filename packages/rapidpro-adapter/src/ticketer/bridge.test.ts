import {
  type ChatbotTarget,
  type CloseNotice,
  createBridge,
  createMemoryStore,
  type HelplineMessage,
  type HelplineTarget,
  manualClock,
  verifyTicketerCallback,
} from "@openchs-bridge/core";
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTicketerCallbackClient, createTicketerChatbotTarget } from "./callback-client";
import { createTicketerHandler } from "./handler";

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

function setup() {
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
    store: createMemoryStore(),
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
});
