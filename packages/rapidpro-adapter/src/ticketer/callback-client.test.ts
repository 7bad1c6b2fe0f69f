import type { DeliveryContext } from "@openchs-bridge/core";
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RapidProError } from "../errors";
import {
  createTicketerCallbackClient,
  createTicketerChatbotTarget,
  type TicketerCallbackClientOptions,
} from "./callback-client";
import { verifyTicketerCallback } from "./signature";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: "error" }));
afterEach(() => {
  server.resetHandlers();
  server.events.removeAllListeners();
});
afterAll(() => server.close());

const CALLBACK = "https://flows.test/mr/tickets/types/generic/event_callback/67dc9f8d-bd4d-4a97-8f8a-4d62625ff9e7";
const SECRET = "webhook-secret-of-the-ticketer";
const NOW = Date.parse("2026-05-20T14:35:00Z");
const EXTERNAL = "t_0f4d2c8a2c834f2c9f7d1d4f70d50e71";

type Seen = { path: string; raw: string; headers: Headers };

/**
 * A mailroom stand-in that verifies each callback's signature over the raw body, as mailroom does:
 * `X-Webhook-Timestamp` checked when present, not required (contract v1). That our callbacks send
 * it is asserted on their headers.
 */
function mailroom(answer: (seen: Seen) => Response | Promise<Response> = () => HttpResponse.json({ status: "sent" })) {
  const seen: (Seen & { verified: boolean })[] = [];
  server.use(
    http.post(`${CALLBACK}/*`, async ({ request }) => {
      const raw = await request.text();
      const entry = {
        path: new URL(request.url).pathname.replace(new URL(CALLBACK).pathname, ""),
        raw,
        headers: request.headers,
      };
      const verified = await verifyTicketerCallback({
        headers: request.headers,
        body: raw,
        secret: SECRET,
        now: NOW + 1000,
      }).then(
        () => true,
        () => false,
      );
      seen.push({ ...entry, verified });
      if (!verified) return HttpResponse.json({ error: "invalid_signature", message: "bad" }, { status: 401 });
      return answer(entry);
    }),
  );
  return seen;
}

const make = (extra: Partial<TicketerCallbackClientOptions> = {}) =>
  createTicketerCallbackClient({
    callbackUrl: CALLBACK,
    secret: SECRET,
    now: () => NOW,
    retry: { minDelayMs: 1, maxDelayMs: 5, jitter: false },
    ...extra,
  });

const context = (): DeliveryContext => ({ signal: new AbortController().signal, attempt: 1 });

describe("ticketer callback client", () => {
  it("posts a signed agent message to …/messages", async () => {
    const seen = mailroom(() =>
      HttpResponse.json({ status: "sent", ticket_uuid: "0f4d2c8a", message_uuid: "msg-platform-123" }),
    );
    const result = await make().sendMessage({
      external_id: EXTERNAL,
      message_external_id: "c-1",
      sender: { type: "agent", id: "104", name: "Amani" },
      text: "Hello, I am here",
      attachments: [{ url: "https://files.test/a.jpg", content_type: "image/jpeg" }],
      sent_at: "2026-05-20T14:34:00Z",
    });
    expect(result).toEqual({ status: "sent", ticket_uuid: "0f4d2c8a", message_uuid: "msg-platform-123" });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.path).toBe("/messages");
    expect(seen[0]!.verified).toBe(true);
    expect(JSON.parse(seen[0]!.raw)).toEqual({
      external_id: EXTERNAL,
      message_external_id: "c-1",
      direction: "outgoing",
      sender: { type: "agent", id: "104", name: "Amani" },
      text: "Hello, I am here",
      attachments: [{ url: "https://files.test/a.jpg", content_type: "image/jpeg" }],
      sent_at: "2026-05-20T14:34:00Z",
    });
    const h = seen[0]!.headers;
    expect(h.get("x-webhook-signature")).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(h.get("x-webhook-timestamp")).toBe("2026-05-20T14:35:00Z");
    expect(h.get("content-type")).toBe("application/json");
    expect(h.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(h.get("idempotency-key")).toBe("message-c-1");
  });

  it("closes a ticket at …/tickets/close; a 409 (already closed) is success", async () => {
    let n = 0;
    const seen = mailroom(() =>
      ++n === 1
        ? HttpResponse.json({ status: "closed", ticket_uuid: "0f4d2c8a" })
        : HttpResponse.json({ error: "ticket_already_closed", message: "Ticket is already closed" }, { status: 409 }),
    );
    const client = make();
    const input = { external_id: EXTERNAL, closed_by: { type: "agent", id: "helpline" }, reason: "resolved" };
    await expect(client.closeTicket(input)).resolves.toEqual({ status: "closed", alreadyClosed: false });
    await expect(client.closeTicket(input)).resolves.toEqual({ status: "closed", alreadyClosed: true });
    expect(seen.map((s) => [s.path, s.verified])).toEqual([
      ["/tickets/close", true],
      ["/tickets/close", true],
    ]);
    expect(JSON.parse(seen[0]!.raw)).toEqual({
      external_id: EXTERNAL,
      closed_by: { type: "agent", id: "helpline" },
      reason: "resolved",
      closed_at: "2026-05-20T14:35:00Z",
    });
  });

  it("retries a 5xx with the same signed bytes, and reads mailroom's error body", async () => {
    let n = 0;
    const seen = mailroom(() =>
      ++n === 1 ? new HttpResponse(null, { status: 502 }) : HttpResponse.json({ status: "sent" }),
    );
    await make().sendMessage({
      external_id: EXTERNAL,
      message_external_id: "c-2",
      sender: { type: "agent" },
      text: "x",
    });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.raw).toBe(seen[0]!.raw);
    expect(seen.every((s) => s.verified)).toBe(true);

    mailroom(() =>
      HttpResponse.json({ error: "ticket_not_found", message: "Ticket t_x was not found" }, { status: 404 }),
    );
    const error = (await make()
      .sendMessage({ external_id: "t_x", message_external_id: "c-3", sender: { type: "agent" }, text: "x" })
      .catch((e: unknown) => e)) as RapidProError;
    expect(error).toBeInstanceOf(RapidProError);
    expect([error.service, error.code, error.status, error.retriable]).toEqual(["mailroom", "not_found", 404, false]);
    expect(error.message).toContain("ticket_not_found");
    expect(`${JSON.stringify(error)} ${String(error)} ${error.stack}`).not.toContain(SECRET);
  });

  it("a wrong secret is refused by mailroom (401), not retried", async () => {
    const seen = mailroom();
    const error = (await make({ secret: "not-the-secret" })
      .sendMessage({ external_id: EXTERNAL, message_external_id: "c-4", sender: { type: "agent" }, text: "x" })
      .catch((e: unknown) => e)) as RapidProError;
    expect([error.code, error.status, seen.length, seen[0]!.verified]).toEqual(["auth", 401, 1, false]);
  });

  it("checks the body before sending anything", async () => {
    const seen = mailroom();
    const client = make();
    await expect(
      client.sendMessage({ external_id: EXTERNAL, message_external_id: "c", sender: { type: "agent" } }),
    ).rejects.toMatchObject({ code: "validation", field: "text" });
    await expect(
      client.sendMessage({ external_id: "", message_external_id: "c", sender: { type: "agent" }, text: "x" }),
    ).rejects.toMatchObject({ field: "external_id" });
    await expect(client.closeTicket({ external_id: EXTERNAL, closed_by: { type: "" } })).rejects.toMatchObject({
      field: "closed_by.type",
    });
    expect(seen).toHaveLength(0);
  });

  it("refuses bad configuration at construction", () => {
    expect(() => createTicketerCallbackClient({ callbackUrl: CALLBACK, secret: "" })).toThrow(/secret/);
    expect(() => createTicketerCallbackClient({ callbackUrl: "http://flows.test/x", secret: SECRET })).toThrow(/https/);
  });
});

describe("ticketer chatbot target", () => {
  const target = () => createTicketerChatbotTarget({ callback: make() });

  it("sends a counselor reply as an agent message with the counselor's pseudonym", async () => {
    const seen = mailroom();
    await target().deliverMessage(
      {
        conversationId: EXTERNAL,
        messageId: "c-10",
        contact: "7ad9d98e-321f-4c61-9a50-79b1c7d7f621",
        text: "I am listening",
        attachments: [],
        counselorName: "Amani",
        counselorExtension: "104",
        sentAt: "2026-05-20T14:34:00.000Z",
        ticket: { ticketId: "0f4d2c8a-2c83-4f2c-9f7d-1d4f70d50e71" },
      },
      context(),
    );
    await target().deliverMessage(
      {
        conversationId: EXTERNAL,
        messageId: "c-11",
        contact: "x",
        text: "hello",
        attachments: [],
        sentAt: "2026-05-20T14:34:30.000Z",
      },
      context(),
    );
    expect(seen.map((s) => JSON.parse(s.raw))).toEqual([
      {
        external_id: EXTERNAL,
        message_external_id: "c-10",
        direction: "outgoing",
        sender: { type: "agent", id: "104", name: "Amani" },
        text: "I am listening",
        attachments: [],
        sent_at: "2026-05-20T14:34:00.000Z",
      },
      {
        external_id: EXTERNAL,
        message_external_id: "c-11",
        direction: "outgoing",
        sender: { type: "agent", id: "helpline" },
        text: "hello",
        attachments: [],
        sent_at: "2026-05-20T14:34:30.000Z",
      },
    ]);
  });

  it("closes with closed_by agent (helpline) or system (hunting given up), mapping the reason", async () => {
    const seen = mailroom();
    const t = target();
    const base = { contact: "x", closedAt: "2026-05-20T14:50:00.000Z" };
    await t.notifyClose({ ...base, conversationId: "a", closedBy: "helpline" }, context());
    await t.notifyClose({ ...base, conversationId: "b", closedBy: "system", reason: "no_counselor" }, context());
    await t.notifyClose({ ...base, conversationId: "c", closedBy: "helpline", reason: "child safe now" }, context());
    await t.notifyClose({ ...base, conversationId: "d", closedBy: "helpline", reason: "transferred" }, context());
    await t.notifyClose({ ...base, conversationId: "e", closedBy: "chatbot", reason: "resolved" }, context());
    expect(seen.map((s) => JSON.parse(s.raw))).toEqual([
      { external_id: "a", closed_by: { type: "agent", id: "helpline" }, reason: "resolved", closed_at: base.closedAt },
      { external_id: "b", closed_by: { type: "system", id: "bridge" }, reason: "expired", closed_at: base.closedAt },
      {
        external_id: "c",
        closed_by: { type: "agent", id: "helpline" },
        reason: "other",
        metadata: { reason_text: "child safe now" },
        closed_at: base.closedAt,
      },
      {
        external_id: "d",
        closed_by: { type: "agent", id: "helpline" },
        reason: "transferred",
        closed_at: base.closedAt,
      },
    ]);
  });

  it("names a reopened ticket by the external_id mailroom kept, one close key per close", async () => {
    const seen = mailroom();
    const t = target();
    const reopened = `${EXTERNAL}_r20260520T150500123`;
    const ticket = { ticketId: "0f4d2c8a-2c83-4f2c-9f7d-1d4f70d50e71", externalId: EXTERNAL };
    await t.deliverMessage(
      {
        conversationId: reopened,
        messageId: "c-20",
        contact: "x",
        text: "hi again",
        attachments: [],
        sentAt: "s",
        ticket,
      },
      context(),
    );
    const close = { contact: "x", closedBy: "helpline" as const, ticket };
    await t.notifyClose({ ...close, conversationId: EXTERNAL, closedAt: "2026-05-20T14:50:00.000Z" }, context());
    await t.notifyClose({ ...close, conversationId: reopened, closedAt: "2026-05-20T15:30:00.000Z" }, context());
    expect(seen.map((s) => [s.path, JSON.parse(s.raw).external_id, s.headers.get("idempotency-key")])).toEqual([
      ["/messages", EXTERNAL, "message-c-20"],
      ["/tickets/close", EXTERNAL, `close-${EXTERNAL}-2026-05-20T14:50:00.000Z`],
      ["/tickets/close", EXTERNAL, `close-${EXTERNAL}-2026-05-20T15:30:00.000Z`],
    ]);
    expect(seen.every((s) => s.verified && s.headers.get("x-webhook-timestamp") !== null)).toBe(true);
  });

  it("propagates a retriable failure for the bridge to retry", async () => {
    mailroom(() => new HttpResponse(null, { status: 503 }));
    const t = createTicketerChatbotTarget({ callback: make({ retry: false }) });
    await expect(
      t.deliverMessage(
        { conversationId: EXTERNAL, messageId: "m", contact: "x", text: "t", attachments: [], sentAt: "s" },
        context(),
      ),
    ).rejects.toMatchObject({ code: "unavailable", retriable: true });
  });
});

describe("ticketer chatbot target: helpline unavailable", () => {
  const notice = {
    conversationId: "reopened_2",
    contact: "7ad9d98e-321f-4c61-9a50-79b1c7d7f621",
    reason: "helpline_unavailable" as const,
    since: "2026-05-20T14:30:00.000Z",
    ticket: { ticketId: "0f4d2c8a-2c83-4f2c-9f7d-1d4f70d50e71", externalId: EXTERNAL },
  };
  const TEXT = "Our counselors cannot answer right now. If you are in danger, call 116. Stay with me.";

  it("sends the configured text as a signed …/messages callback, once-keyed per conversation", async () => {
    const seen = mailroom();
    const t = createTicketerChatbotTarget({ callback: make(), unavailableText: TEXT });
    await t.notifyUnavailable!(notice, context());
    expect(seen).toHaveLength(1);
    expect(seen[0]!.path).toBe("/messages");
    expect(seen[0]!.verified).toBe(true);
    expect(seen[0]!.headers.get("idempotency-key")).toBe("message-unavailable-reopened_2");
    expect(JSON.parse(seen[0]!.raw)).toEqual({
      external_id: EXTERNAL,
      message_external_id: "unavailable-reopened_2",
      direction: "outgoing",
      sender: { type: "agent", id: "bridge" },
      text: TEXT,
      attachments: [],
      metadata: { reason: "helpline_unavailable" },
      sent_at: "2026-05-20T14:35:00Z",
    });
  });

  it("falls back to the bridge's unavailableNotice.text, and sends nothing without any text", async () => {
    const seen = mailroom();
    const t = createTicketerChatbotTarget({ callback: make() });
    await t.notifyUnavailable!(notice, context());
    expect(seen).toEqual([]);
    await t.notifyUnavailable!({ ...notice, text: "From the bridge" }, context());
    expect(seen.map((s) => JSON.parse(s.raw).text)).toEqual(["From the bridge"]);
    expect(() => createTicketerChatbotTarget({ callback: make(), unavailableText: "" })).toThrow(/unavailableText/);
  });
});
