import type { ChatbotMessage, DeliveryContext } from "@openchs-bridge/core";
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRapidProChatbotTarget, type RapidProChatbotTargetOptions } from "./chatbot-target";
import { broadcastV7, CONTACT_UUID, FLOW_UUID, flowStartNyaruka, messageNyaruka } from "./client/__fixtures__/api";
import { createRapidProClient } from "./client/client";
import type { RapidProFlavour } from "./client/flavour";
import { RapidProError } from "./errors";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: "error" }));
afterEach(() => {
  server.resetHandlers();
  server.events.removeAllListeners();
});
afterAll(() => server.close());

const BASE = "https://rapidpro.test/api/v2/";
const ACK_URL = "https://chatbot.test/hooks/acks?channel=weni";

function recorder() {
  const calls: { method: string; url: string; headers: Headers; body: unknown }[] = [];
  server.events.on("request:start", async ({ request }) => {
    const body = request.method === "GET" ? undefined : await request.clone().json();
    calls.push({ method: request.method, url: request.url, headers: request.headers, body });
  });
  return calls;
}

function target(flavour: RapidProFlavour, extra: Partial<RapidProChatbotTargetOptions> = {}) {
  const client = createRapidProClient({ baseUrl: BASE, token: "tok", flavour, retry: false });
  return createRapidProChatbotTarget({ client, closeFlow: FLOW_UUID, ...extra });
}

const context = (signal = new AbortController().signal): DeliveryContext => ({ signal, attempt: 1 });

const reply = (extra: Partial<ChatbotMessage> = {}): ChatbotMessage => ({
  conversationId: "s1",
  messageId: "m1",
  contact: CONTACT_UUID,
  text: "How can I help?",
  attachments: [],
  counselorName: "Amani",
  sentAt: "2026-01-01T10:00:00.000Z",
  ...extra,
});

function rapidproHandlers() {
  return [
    http.post(`${BASE}messages.json`, () => HttpResponse.json(messageNyaruka, { status: 201 })),
    http.post(`${BASE}broadcasts.json`, () => HttpResponse.json(broadcastV7, { status: 201 })),
    http.post(`${BASE}flow_starts.json`, () => HttpResponse.json(flowStartNyaruka, { status: 201 })),
  ];
}

describe("RapidPro chatbot target: replies", () => {
  it("sends the reply with the counselor's pseudonym through messages (nyaruka) or broadcasts (v7, weni)", async () => {
    server.use(...rapidproHandlers());
    const calls = recorder();
    await target("nyaruka").deliverMessage(reply(), context());
    await target("v7").deliverMessage(reply(), context());
    await target("weni").deliverMessage(reply({ ticket: { ticketId: "tk-9" } }), context());
    expect(calls.map((c) => [new URL(c.url).pathname, c.body])).toEqual([
      ["/api/v2/messages.json", { contact: CONTACT_UUID, text: "Amani: How can I help?" }],
      ["/api/v2/broadcasts.json", { contacts: [CONTACT_UUID], text: "Amani: How can I help?" }],
      ["/api/v2/broadcasts.json", { contacts: [CONTACT_UUID], text: "Amani: How can I help?", ticket: "tk-9" }],
    ]);
  });

  it("sends just the text without a pseudonym, and honours a custom template", async () => {
    server.use(...rapidproHandlers());
    const calls = recorder();
    await target("v7").deliverMessage(reply({ counselorName: undefined }), context());
    await target("v7", { textTemplate: "[{name}] {text}" }).deliverMessage(reply(), context());
    await target("v7", { textTemplate: (m) => `${m.text} (${m.counselorExtension})` }).deliverMessage(
      reply({ counselorExtension: "104" }),
      context(),
    );
    expect(calls.map((c) => (c.body as { text: string }).text)).toEqual([
      "How can I help?",
      "[Amani] How can I help?",
      "How can I help? (104)",
    ]);
  });

  it("appends attachment URLs to the text by default; passes them to messages when asked on nyaruka", async () => {
    server.use(...rapidproHandlers());
    const calls = recorder();
    const attachments = [{ url: "https://files.test/a.jpg", content_type: "image/jpeg" }];
    await target("nyaruka").deliverMessage(reply({ attachments }), context());
    await target("v7", { attachments: "messages" }).deliverMessage(reply({ text: "", attachments }), context());
    await target("nyaruka", { attachments: "messages" }).deliverMessage(reply({ attachments }), context());
    expect(calls.map((c) => c.body)).toEqual([
      { contact: CONTACT_UUID, text: "Amani: How can I help?\nhttps://files.test/a.jpg" },
      { contacts: [CONTACT_UUID], text: "Amani:\nhttps://files.test/a.jpg" },
      { contact: CONTACT_UUID, text: "Amani: How can I help?", attachments: ["image/jpeg:https://files.test/a.jpg"] },
    ]);
  });

  it("replies to a URN or a phone number chat_sender as urns; a URN never takes the messages route", async () => {
    server.use(...rapidproHandlers());
    const calls = recorder();
    const attachments = [{ url: "https://files.test/a.jpg", content_type: "image/jpeg" }];
    await target("nyaruka").deliverMessage(reply({ contact: "whatsapp:254700000001" }), context());
    await target("weni").deliverMessage(reply({ contact: "23343411", ticket: { ticketId: "tk-9" } }), context());
    await target("nyaruka", { attachments: "messages" }).deliverMessage(
      reply({ contact: "tel:+254 700 000 001", attachments }),
      context(),
    );
    expect(calls.map((c) => [new URL(c.url).pathname, c.body])).toEqual([
      ["/api/v2/broadcasts.json", { urns: ["whatsapp:254700000001"], text: "Amani: How can I help?" }],
      ["/api/v2/broadcasts.json", { urns: ["tel:+23343411"], text: "Amani: How can I help?", ticket: "tk-9" }],
      [
        "/api/v2/broadcasts.json",
        { urns: ["tel:+254700000001"], text: "Amani: How can I help?\nhttps://files.test/a.jpg" },
      ],
    ]);
  });

  it("refuses a chat_sender it cannot address (not retriable), sending nothing", async () => {
    const calls = recorder();
    const error = await target("v7")
      .deliverMessage(reply({ contact: "contact-1" }), context())
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "validation", field: "contact", retriable: false });
    expect(calls).toHaveLength(0);
  });

  it("refuses a reply with nothing to send (not retriable), sending nothing", async () => {
    const calls = recorder();
    const error = await target("v7")
      .deliverMessage(reply({ text: "", counselorName: undefined }), context())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RapidProError);
    expect((error as RapidProError).retriable).toBe(false);
    expect(calls).toHaveLength(0);
  });

  it("passes the delivery signal: an aborted delivery fails as aborted", async () => {
    server.use(http.post(`${BASE}broadcasts.json`, () => new Promise<Response>(() => {})));
    const controller = new AbortController();
    const pending = target("v7").deliverMessage(reply(), context(controller.signal));
    setTimeout(() => controller.abort(), 10);
    await expect(pending).rejects.toMatchObject({ code: "aborted" });
  });

  it("surfaces RapidPro's refusal as a non-retriable validation error, and a 503 as retriable", async () => {
    server.use(
      http.post(`${BASE}broadcasts.json`, () => HttpResponse.json({ contacts: ["No such object"] }, { status: 400 })),
    );
    await expect(target("v7").deliverMessage(reply(), context())).rejects.toMatchObject({
      code: "validation",
      field: "contacts",
      retriable: false,
    });
    server.use(http.post(`${BASE}broadcasts.json`, () => new HttpResponse(null, { status: 503 })));
    await expect(target("v7").deliverMessage(reply(), context())).rejects.toMatchObject({
      code: "unavailable",
      retriable: true,
    });
  });
});

describe("RapidPro chatbot target: close", () => {
  it("starts the close flow for the contact (or URN) with conversation_id, closed_by and reason", async () => {
    server.use(...rapidproHandlers());
    const calls = recorder();
    const t = target("weni");
    await t.notifyClose(
      { conversationId: "s1", contact: CONTACT_UUID, closedBy: "system", reason: "no_counselor", closedAt: "x" },
      context(),
    );
    await t.notifyClose(
      { conversationId: "s2", contact: CONTACT_UUID, closedBy: "helpline", closedAt: "x" },
      context(),
    );
    await t.notifyClose({ conversationId: "s3", contact: CONTACT_UUID, closedBy: "chatbot", closedAt: "x" }, context());
    await t.notifyClose(
      { conversationId: "s4", contact: "+254 700 000 001", closedBy: "helpline", closedAt: "x" },
      context(),
    );
    await t.notifyClose(
      {
        conversationId: "s5",
        contact: "whatsapp:254700000001",
        closedBy: "system",
        reason: "no_counselor",
        closedAt: "x",
      },
      context(),
    );
    expect(calls.map((c) => c.body)).toEqual([
      {
        flow: FLOW_UUID,
        contacts: [CONTACT_UUID],
        params: { conversation_id: "s1", closed_by: "system", reason: "no_counselor" },
      },
      {
        flow: FLOW_UUID,
        contacts: [CONTACT_UUID],
        params: { conversation_id: "s2", closed_by: "helpline", reason: "" },
      },
      {
        flow: FLOW_UUID,
        urns: ["tel:+254700000001"],
        params: { conversation_id: "s4", closed_by: "helpline", reason: "" },
      },
      {
        flow: FLOW_UUID,
        urns: ["whatsapp:254700000001"],
        params: { conversation_id: "s5", closed_by: "system", reason: "no_counselor" },
      },
    ]);
  });
});

describe("RapidPro chatbot target: helpline unavailable", () => {
  const UNAVAILABLE_FLOW = "0e1d2c3b-4a59-4687-9a8b-7c6d5e4f3a2b";
  const notice = (contact: string) => ({
    conversationId: "s1",
    contact,
    reason: "helpline_unavailable" as const,
    since: "2026-01-01T10:00:00.000Z",
  });

  it("starts the unavailable flow for the contact (or URN) with conversation_id and reason", async () => {
    server.use(...rapidproHandlers());
    const calls = recorder();
    const t = target("weni", { unavailableFlow: UNAVAILABLE_FLOW });
    await t.notifyUnavailable!(notice(CONTACT_UUID), context());
    await t.notifyUnavailable!(notice("whatsapp:254700000001"), context());
    expect(calls.map((c) => [new URL(c.url).pathname, c.headers.get("authorization"), c.body])).toEqual([
      [
        "/api/v2/flow_starts.json",
        "Token tok",
        {
          flow: UNAVAILABLE_FLOW,
          contacts: [CONTACT_UUID],
          params: { conversation_id: "s1", reason: "helpline_unavailable" },
        },
      ],
      [
        "/api/v2/flow_starts.json",
        "Token tok",
        {
          flow: UNAVAILABLE_FLOW,
          urns: ["whatsapp:254700000001"],
          params: { conversation_id: "s1", reason: "helpline_unavailable" },
        },
      ],
    ]);
  });

  it("uses the close flow when no unavailable flow is configured (one flow branching on the reason)", async () => {
    server.use(...rapidproHandlers());
    const calls = recorder();
    await target("nyaruka").notifyUnavailable!(notice(CONTACT_UUID), context());
    expect(calls.map((c) => (c.body as { flow: string }).flow)).toEqual([FLOW_UUID]);
  });

  it("reports RapidPro's refusal as a RapidProError the outbox can classify", async () => {
    server.use(
      http.post(`${BASE}flow_starts.json`, () => HttpResponse.json({ flow: ["No such flow"] }, { status: 400 })),
    );
    const error = await target("weni").notifyUnavailable!(notice(CONTACT_UUID), context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RapidProError);
    expect(error).toMatchObject({ status: 400, retriable: false });
  });

  it("rejects an empty unavailableFlow at construction", () => {
    expect(() => target("weni", { unavailableFlow: " " })).toThrow(/unavailableFlow/);
  });
});

describe("RapidPro chatbot target: acks", () => {
  const ack = {
    conversationId: "s1",
    messageId: "m1",
    status: "read" as const,
    timestamp: "2026-01-01T10:00:00.000Z",
  };

  it("has no sendAck without an ack endpoint", () => {
    expect(target("v7").sendAck).toBeUndefined();
  });

  it("posts the default body to the exact ack URL with the token, and retries it", async () => {
    const calls = recorder();
    let n = 0;
    server.use(
      http.post("https://chatbot.test/hooks/acks", () =>
        ++n === 1 ? new HttpResponse(null, { status: 502 }) : HttpResponse.json({ ok: true }),
      ),
    );
    const t = target("v7", { ack: { url: ACK_URL, token: "ack-secret" }, ackRetry: { minDelayMs: 1, jitter: false } });
    await t.sendAck!(ack, context());
    expect(calls).toHaveLength(2);
    expect(calls[1]!.url).toBe(ACK_URL);
    expect(calls[1]!.headers.get("authorization")).toBe("Token ack-secret");
    expect(calls[1]!.body).toEqual({
      conversation_id: "s1",
      message_id: "m1",
      status: "read",
      timestamp: "2026-01-01T10:00:00.000Z",
    });
  });

  it("uses a custom body, scheme and headers; a refusal is an error of the chatbot-ack service", async () => {
    const calls = recorder();
    server.use(http.post("https://chatbot.test/hooks/acks", () => new HttpResponse(null, { status: 400 })));
    const t = target("v7", {
      ack: {
        url: ACK_URL,
        token: "ack-secret",
        scheme: "Bearer",
        headers: { "x-tenant": "ke" },
        body: (a) => ({ id: a.messageId, state: a.status.toUpperCase() }),
      },
    });
    const error = (await t.sendAck!({ ...ack, status: "failed", reason: "retries_exhausted" }, context()).catch(
      (e: unknown) => e,
    )) as RapidProError;
    expect([error.service, error.code, error.retriable]).toEqual(["chatbot-ack", "validation", false]);
    expect(calls[0]!.headers.get("authorization")).toBe("Bearer ack-secret");
    expect(calls[0]!.headers.get("x-tenant")).toBe("ke");
    expect(calls[0]!.body).toEqual({ id: "m1", state: "FAILED" });
    expect(JSON.stringify(error) + String(error)).not.toContain("ack-secret");
  });

  it("refuses bad configuration at construction", () => {
    const client = createRapidProClient({ baseUrl: BASE, token: "tok" });
    expect(() => createRapidProChatbotTarget({ client, closeFlow: "" })).toThrow(/closeFlow/);
    expect(() => createRapidProChatbotTarget({ client, closeFlow: FLOW_UUID, ack: { url: "nope" } })).toThrow(
      /ack\.url/,
    );
  });
});
