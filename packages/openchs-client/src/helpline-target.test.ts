import type { CloseNotice, HelplineMessage } from "@openchs-bridge/core";
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FAST_RETRY, HELPLINE, HELPLINE_PASSWORD, HELPLINE_USER, helplineLogin } from "./__fixtures__/servers";
import { OpenChsError } from "./errors";
import { createOpenChsHelplineClient, type OpenChsHelplineClient } from "./helpline/client";
import type { HelplineMessageInput } from "./helpline/message";
import { createOpenChsHelplineTarget } from "./helpline-target";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

let bodies: Record<string, unknown>[];
let state: { logins: number; sessions: string[] };
beforeEach(() => {
  bodies = [];
  state = { logins: 0, sessions: [] };
  server.use(
    helplineLogin(state),
    http.post(`${HELPLINE}msg/`, async ({ request }) => {
      bodies.push((await request.json()) as Record<string, unknown>);
      return HttpResponse.json({ messages: [["1"]] }, { status: 201 });
    }),
  );
});

const client = (extra = {}) =>
  createOpenChsHelplineClient({
    baseUrl: HELPLINE,
    username: HELPLINE_USER,
    password: HELPLINE_PASSWORD,
    retry: FAST_RETRY,
    ...extra,
  });
const ctx = () => ({ signal: new AbortController().signal, attempt: 1 });

const message: HelplineMessage = {
  conversationId: "conv_1",
  messageId: "wm-7",
  text: "I am not safe at home",
  attachments: [{ url: "https://cdn.test/img/pic.jpg", content_type: "image/jpeg" }],
  from: "contact-uuid-1",
  channel: "WENI",
  senderName: "Kid",
  sentAt: "2026-03-01T10:00:00.000Z",
};

const close: CloseNotice = {
  conversationId: "conv_1",
  contact: "contact-uuid-1",
  closedBy: "chatbot",
  reason: "resolved",
  closedAt: "2026-03-01T11:00:00.000Z",
};

describe("OpenCHS helpline target", () => {
  it("delivers a message to msg/: session = conversation, message_id kept, from, timestamp, attachments", async () => {
    await createOpenChsHelplineTarget({ client: client() }).deliverMessage(message, ctx());
    expect(bodies).toEqual([
      {
        channel: "WENI",
        session_id: "conv_1",
        message_id: "wm-7",
        from: "contact-uuid-1",
        message: "I am not safe at home",
        timestamp: String(Date.parse("2026-03-01T10:00:00.000Z") / 1000),
        media_url: "https://cdn.test/img/pic.jpg",
        media_mime: "image/jpeg",
        media_filename: "pic.jpg",
      },
    ]);
  });

  it("gives msg/ the conversation's channel, which the helpline echoes back as chat_channel", async () => {
    const target = createOpenChsHelplineTarget({ client: client() });
    await target.deliverMessage({ ...message, channel: "WHATSAPP" }, ctx());
    await target.deliverMessage({ ...message, messageId: "wm-8", channel: "FACEBOOK" }, ctx());
    expect(bodies.map((b) => b.channel)).toEqual(["WHATSAPP", "FACEBOOK"]);
  });

  it("puts a shared location in the text as a [location] line, never in the media slot", async () => {
    await createOpenChsHelplineTarget({ client: client() }).deliverMessage(
      {
        ...message,
        attachments: [
          { url: "geo:-1.28,36.81", content_type: "geo" },
          { url: "https://cdn.test/img/pic.jpg", content_type: "image/jpeg" },
        ],
      },
      ctx(),
    );
    expect(bodies[0]).toMatchObject({
      message: "I am not safe at home\n[location] -1.28,36.81",
      media_url: "https://cdn.test/img/pic.jpg",
      media_mime: "image/jpeg",
    });
  });

  it("uses the configured channel and the client's encoding", async () => {
    await createOpenChsHelplineTarget({
      client: client({ messageEncoding: "base64" }),
      channel: "walkin",
    }).deliverMessage(message, ctx());
    expect(bodies[0]).toMatchObject({ channel: "walkin", mime: "text/plain", timestamp: "2026-03-01T10:00:00.000Z" });
    expect(atob(String(bodies[0]!.message))).toBe("I am not safe at home");
  });

  it("a re-notification gets its own message_id and the default marker", async () => {
    await createOpenChsHelplineTarget({ client: client() }).deliverMessage(
      { ...message, attachments: [], renotify: { round: 2, of: 3 } },
      ctx(),
    );
    expect(bodies[0]).toMatchObject({
      session_id: "conv_1",
      message_id: "wm-7#renotify-2",
      message: "[re-notify 2/3] I am not safe at home",
    });
  });

  it("the re-notify marker is configurable (template or function)", async () => {
    const renotify = { round: 1, of: 2 };
    await createOpenChsHelplineTarget({ client: client(), renotifyPrefix: "(again {round} of {of}) " }).deliverMessage(
      { ...message, renotify },
      ctx(),
    );
    await createOpenChsHelplineTarget({ client: client(), renotifyPrefix: (r) => `#${r.round}: ` }).deliverMessage(
      { ...message, renotify },
      ctx(),
    );
    expect(bodies.map((b) => b.message)).toEqual(["(again 1 of 2) I am not safe at home", "#1: I am not safe at home"]);
  });

  it("a close becomes a system text with message_id <conversation>#close", async () => {
    const target = createOpenChsHelplineTarget({ client: client() });
    await target.notifyClose(close, ctx());
    await target.notifyClose({ ...close, closedBy: "system", reason: undefined }, ctx());
    expect(bodies[0]).toEqual({
      channel: "WENI",
      session_id: "conv_1",
      message_id: "conv_1#close",
      from: "contact-uuid-1",
      message: "[conversation closed by chatbot: resolved]",
      timestamp: String(Date.parse(close.closedAt) / 1000),
    });
    expect(bodies[1]!.message).toBe("[conversation closed by system]");
  });

  it("the close text is configurable", async () => {
    await createOpenChsHelplineTarget({
      client: client(),
      closeText: "Chat {conversationId} ended ({closedBy}, {reason})",
    }).notifyClose(close, ctx());
    expect(bodies[0]!.message).toBe("Chat conv_1 ended (chatbot, resolved)");
  });

  it("passes the delivery context's signal to the client", async () => {
    const calls: { input: HelplineMessageInput; signal: AbortSignal | undefined }[] = [];
    const fake: Pick<OpenChsHelplineClient, "sendMessage"> = {
      sendMessage: async (input, options) => {
        calls.push({ input, signal: options?.signal });
        return { status: 201, id: undefined };
      },
    };
    const context = ctx();
    const target = createOpenChsHelplineTarget({ client: fake });
    await target.deliverMessage(message, context);
    await target.notifyClose(close, context);
    expect(calls.map((c) => c.signal)).toEqual([context.signal, context.signal]);
  });

  it("an aborted delivery is an aborted OpenChsError", async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await createOpenChsHelplineTarget({ client: client() })
      .deliverMessage(message, { signal: controller.signal, attempt: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenChsError);
    expect((err as OpenChsError).code).toBe("aborted");
    expect(bodies).toHaveLength(0);
  });

  it("errors propagate as OpenChsError with their retriability", async () => {
    server.use(
      http.post(`${HELPLINE}msg/`, () =>
        HttpResponse.json({ errors: [["error", "Invalid data", "0", "msg", "0", "src_uid", ""]] }, { status: 412 }),
      ),
    );
    const target = createOpenChsHelplineTarget({ client: client() });
    const refused = (await target.deliverMessage(message, ctx()).catch((e: unknown) => e)) as OpenChsError;
    expect(refused).toBeInstanceOf(OpenChsError);
    expect(refused.code).toBe("validation");
    expect(refused.retriable).toBe(false);

    server.use(
      http.post(`${HELPLINE}msg/`, () => new HttpResponse(null, { status: 503, headers: { "Retry-After": "120" } })),
    );
    const busy = (await target.notifyClose(close, ctx()).catch((e: unknown) => e)) as OpenChsError;
    expect(busy.code).toBe("unavailable");
    expect(busy.retriable).toBe(true);
    expect(busy.retryAfterMs).toBe(120_000);
  });
});
