import { describe, expect, it } from "vitest";
import {
  bridgeHarness,
  CHATBOT_USER,
  clientMessage,
  HELPLINE_USER,
  upstreamFailure,
} from "../test-support/bridge-harness";
import { BridgeConfigError } from "./options";

async function started(overrides: Parameters<typeof bridgeHarness>[0] = {}) {
  const h = bridgeHarness(overrides);
  const chatbot = await h.login(CHATBOT_USER);
  const helpline = await h.login(HELPLINE_USER);
  return { ...h, chatbotToken: chatbot, helplineToken: helpline };
}

const names = (events: Array<{ name: string }>) => events.map((e) => e.name);

describe("a whole conversation", () => {
  it("escalation, hunting, read, replies both ways, acks, close from the helpline", async () => {
    const h = await started();
    // The flow escalates the child.
    const first = await h.call("POST", "chat/", {
      token: h.chatbotToken,
      body: clientMessage("s1", "I need help", { message_id: "c1", sender_name: "Child-7", location: "KE" }),
    });
    expect(first.status).toBe(201);
    await h.bridge.runDue();
    expect(h.helpline.messages).toMatchObject([
      {
        conversationId: "s1",
        messageId: "c1",
        text: "I need help",
        from: clientMessage("s1", "").chat_sender,
        senderName: "Child-7",
      },
    ]);
    let conv = await h.call("GET", "chat/s1/", { token: h.chatbotToken });
    expect(conv.json.state).toBe("hunting");
    expect(conv.json.messages[0].status).toBe("sent");

    // A counselor reads it.
    const read = await h.call("POST", "chat/s1/ack/", {
      token: h.helplineToken,
      body: { message_id: "c1", status: "read", chat_source: "HELPLINE", sender_name: "Counselor Amina" },
    });
    expect(read.json).toEqual({ conversation_id: "s1", message_id: "c1", status: "read", changed: true });
    conv = await h.call("GET", "chat/s1/", { token: h.chatbotToken });
    expect(conv.json).toMatchObject({ state: "connected", counselor_name: "Counselor Amina" });

    // The counselor replies; the child answers; the child's phone acks the reply.
    const reply = await h.call("POST", "chat/", {
      token: h.helplineToken,
      body: {
        chat_session: "s1",
        chat_message: "I am here",
        chat_source: "OUTBOX",
        chat_receiver: "101",
        chat_sender: clientMessage("s1", "").chat_sender,
        message_id: "h1",
        sender_name: "Counselor Amina",
      },
    });
    expect(reply.status).toBe(201);
    expect(reply.json.conversation_state).toBe("connected");
    await h.call("POST", "chat/", {
      token: h.chatbotToken,
      body: clientMessage("s1", "thank you", { message_id: "c2" }),
    });
    await h.bridge.runDue();
    expect(h.chatbot.messages).toMatchObject([
      {
        conversationId: "s1",
        messageId: "h1",
        text: "I am here",
        counselorName: "Counselor Amina",
        counselorExtension: "101",
      },
    ]);
    expect(h.helpline.messages.map((m) => m.messageId)).toEqual(["c1", "c2"]);
    // The helpline's read was forwarded to the chatbot's ack endpoint.
    expect(h.chatbot.acks).toMatchObject([
      { conversationId: "s1", messageId: "c1", status: "read", counselorName: "Counselor Amina" },
    ]);
    const ack = await h.call("POST", "chat/s1/ack/", {
      token: h.chatbotToken,
      body: { message_id: "h1", status: "delivered" },
    });
    expect(ack.json.status).toBe("delivered");
    await h.bridge.runDue();
    expect(h.helpline.acks).toMatchObject([{ messageId: "h1", status: "delivered" }]);

    // The helpline closes: the chatbot's close flow is started.
    const close = await h.call("POST", "chat/s1/close/", {
      token: h.helplineToken,
      body: { chat_source: "HELPLINE", reason: "resolved" },
    });
    expect(close.json).toMatchObject({ state: "closed", closed_by: "helpline", reason: "resolved", changed: true });
    await h.bridge.runDue();
    expect(h.chatbot.closes).toMatchObject([{ conversationId: "s1", closedBy: "helpline", reason: "resolved" }]);
    expect(h.helpline.closes).toEqual([]);
    const twice = await h.call("POST", "chat/s1/close/", { token: h.helplineToken, body: { chat_source: "HELPLINE" } });
    expect(twice.status).toBe(200);
    expect(twice.json.changed).toBe(false);
    await h.bridge.runDue();
    expect(h.chatbot.closes).toHaveLength(1);
    expect(names(h.events)).toEqual(
      expect.arrayContaining([
        "conversation.requested",
        "message.accepted",
        "message.sent",
        "conversation.hunting",
        "message.read",
        "conversation.connected",
        "message.delivered",
        "conversation.closed",
      ]),
    );
    // No event carries message text unless enabled, nor a close reason typed by a person.
    expect(JSON.stringify(h.events)).not.toContain("I need help");
    expect(h.events.find((e) => e.name === "conversation.closed")?.payload).toEqual({
      conversationId: "s1",
      closedBy: "helpline",
    });
  });

  it("a close from the chatbot reaches the helpline after the messages before it, and with no body at all", async () => {
    const h = await started();
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "one", { message_id: "1" }) });
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "two", { message_id: "2" }) });
    // The legacy gateway ignored the close body: the chatbot's consumer implies WENI.
    const res = await h.bridge.handler(
      new Request("http://bridge.test/api/chat/s1/close/", {
        method: "POST",
        headers: { authorization: `Token ${h.chatbotToken}` },
      }),
    );
    expect(res.status).toBe(200);
    h.helpline.failNext(upstreamFailure(503));
    await h.bridge.runDue();
    h.clock.advance(1_000);
    await h.bridge.runDue();
    expect(h.helpline.messages.map((m) => m.messageId)).toEqual(["1", "2"]);
    expect(h.helpline.closes).toMatchObject([{ conversationId: "s1", closedBy: "chatbot" }]);
    expect(h.chatbot.closes).toEqual([]);
  });

  it("includes message text and close reasons in events only when enabled", async () => {
    const h = await started({ events: { includeText: true } });
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "visible text") });
    expect(h.events.find((e) => e.name === "message.accepted")?.payload).toMatchObject({ text: "visible text" });
    await h.call("POST", "chat/s1/close/", {
      token: h.helplineToken,
      body: { chat_source: "HELPLINE", reason: "why" },
    });
    expect(h.events.find((e) => e.name === "conversation.closed")?.payload).toEqual({
      conversationId: "s1",
      closedBy: "helpline",
      reason: "why",
    });
  });
});

describe("delivery guarantees", () => {
  it("retries transient failures in order: a failing message holds the ones behind it", async () => {
    const h = await started();
    for (const id of ["1", "2", "3"]) {
      await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", `m${id}`, { message_id: id }) });
    }
    // Message 1 fails its whole first burst (2 attempts) with 503.
    h.helpline.failNext(upstreamFailure(503), upstreamFailure(503));
    await h.bridge.runDue();
    expect(h.helpline.messages).toEqual([]);
    const retries = h.events
      .filter((e) => e.name === "delivery.retry")
      .map((e) => e.payload as { quick: boolean; attempt: number; nextAttemptAt: number });
    // One quick retry within the claim, then a durable wait on the schedule.
    expect(retries.map((r) => [r.quick, r.attempt])).toEqual([
      [true, 1],
      [false, 1],
    ]);
    const retry = retries[1]!;
    expect(retry.nextAttemptAt).toBe(h.clock.now() + 1_000);
    h.clock.advance(999);
    await h.bridge.runDue();
    expect(h.helpline.messages).toEqual([]);
    h.clock.advance(1);
    await h.bridge.runDue();
    expect(h.helpline.messages.map((m) => m.messageId)).toEqual(["1", "2", "3"]);
    const stored = await h.store.conversationMessages("s1");
    expect(stored.map((m) => [m.status, m.attempts])).toEqual([
      ["sent", 3],
      ["sent", 1],
      ["sent", 1],
    ]);
  });

  it("honours a Retry-After longer than the schedule step", async () => {
    const h = await started();
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "x", { message_id: "1" }) });
    h.helpline.failNext(upstreamFailure(429, 30_000));
    await h.bridge.runDue();
    const retry = h.events.filter((e) => e.name === "delivery.retry").at(-1)?.payload;
    expect(retry).toMatchObject({ quick: false, nextAttemptAt: h.clock.now() + 30_000 });
    h.clock.advance(29_999);
    await h.bridge.runDue();
    expect(h.helpline.messages).toHaveLength(0);
    h.clock.advance(1);
    await h.bridge.runDue();
    expect(h.helpline.messages).toHaveLength(1);
  });

  it("never retries a refusal: 412 dead-letters at once, marks the message failed and tells the sender", async () => {
    const h = await started();
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "bad", { message_id: "1" }) });
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "good", { message_id: "2" }) });
    h.helpline.failNext(upstreamFailure(412));
    await h.bridge.runDue();
    const stored = await h.store.conversationMessages("s1");
    expect(stored.map((m) => m.status)).toEqual(["failed", "sent"]);
    expect(stored[0]?.lastError?.code).toBe("validation");
    expect(h.helpline.messages.map((m) => m.messageId)).toEqual(["2"]);
    expect(h.chatbot.acks).toMatchObject([{ messageId: "1", status: "failed", reason: "validation" }]);
    expect(names(h.events)).toContain("delivery.dead_letter");
    expect(names(h.events)).toContain("message.failed");
    // A duplicate of the failed message is still answered as a duplicate, and not delivered again.
    const dup = await h.call("POST", "chat/", {
      token: h.chatbotToken,
      body: clientMessage("s1", "bad", { message_id: "1" }),
    });
    expect(dup.status).toBe(200);
  });

  it("dead-letters after the bounded schedule, never reporting success", async () => {
    const h = await started();
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "x", { message_id: "1" }) });
    // 4 bursts of 2 attempts: the first and one per schedule step (1 s, 2 s, 4 s).
    h.helpline.failNext(...Array.from({ length: 8 }, () => upstreamFailure(500)));
    for (const step of [0, 1_000, 2_000, 4_000]) {
      h.clock.advance(step);
      await h.bridge.runDue();
    }
    const [m] = await h.store.conversationMessages("s1");
    expect(m?.status).toBe("failed");
    expect(m?.attempts).toBe(8);
    expect(h.helpline.messages).toEqual([]);
    expect(await h.store.pendingJobs("s1", "helpline")).toEqual([]);
    const quick = h.events
      .filter((e) => e.name === "delivery.retry")
      .map((e) => (e.payload as { quick: boolean }).quick);
    expect(quick.filter((q) => !q)).toHaveLength(3); // the schedule's three waits
    expect(quick.filter((q) => q)).toHaveLength(4); // one quick retry in each of the four claims
    expect((await h.store.getConversation("s1"))?.state).toBe("requested");
  });

  it("delivers each message once, even when the sender retries concurrently", async () => {
    const h = await started();
    const sends = Array.from({ length: 10 }, () =>
      h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "same", { message_id: "m1" }) }),
    );
    const answers = await Promise.all(sends);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200 && a.json.duplicate)).toHaveLength(9);
    await h.bridge.runDue();
    expect(h.helpline.messages).toHaveLength(1);
  });

  it("acks move a status forward only and are idempotent", async () => {
    const h = await started();
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "x", { message_id: "1" }) });
    await h.bridge.runDue();
    const ack = (status: string) =>
      h.call("POST", "chat/s1/ack/", {
        token: h.helplineToken,
        body: { message_id: "1", status, chat_source: "HELPLINE" },
      });
    expect((await ack("read")).json).toMatchObject({ status: "read", changed: true });
    expect((await ack("delivered")).json).toMatchObject({ status: "read", changed: false });
    expect((await ack("read")).json).toMatchObject({ status: "read", changed: false });
    expect((await ack("failed")).json).toMatchObject({ status: "read", changed: false });
    await h.bridge.runDue();
    expect(h.chatbot.acks).toHaveLength(1);
  });

  it("routes each conversation to the helpline of its country", async () => {
    const { recordingHelpline } = await import("../test-support/bridge-harness");
    const ke = recordingHelpline();
    const ug = recordingHelpline();
    const h = await started({ helplines: { KE: ke.target, UG: ug.target } });
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("a", "x", { location: "UG" }) });
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("b", "x", { chat_receiver: "KE" }) });
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("c", "x") });
    await h.bridge.runDue();
    expect(ug.messages.map((m) => m.conversationId)).toEqual(["a"]);
    expect(ke.messages.map((m) => m.conversationId).sort()).toEqual(["b", "c"]);
  });
});

describe("hunting", () => {
  it("re-notifies the helpline after each timeout, then gives up: chatbot flow started, closed as no_counselor", async () => {
    const h = await started();
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "help", { message_id: "1" }) });
    await h.bridge.runDue();
    expect((await h.store.getConversation("s1"))?.state).toBe("hunting");
    for (const round of [1, 2]) {
      h.clock.advance(60_000);
      await h.bridge.runDue();
      expect(h.helpline.messages.at(-1)).toMatchObject({ messageId: "1", renotify: { round, of: 2 } });
    }
    h.clock.advance(60_000);
    await h.bridge.runDue();
    const conv = await h.store.getConversation("s1");
    expect(conv).toMatchObject({ state: "closed", closedBy: "system", closeReason: "no_counselor" });
    expect(h.chatbot.closes).toMatchObject([{ conversationId: "s1", closedBy: "system", reason: "no_counselor" }]);
    expect(h.helpline.closes).toMatchObject([{ conversationId: "s1", closedBy: "system" }]);
    expect(
      h.events.filter((e) => e.name === "hunt.timeout").map((e) => (e.payload as { exhausted: boolean }).exhausted),
    ).toEqual([false, false, true]);
    // The bridge's own reason is a code, not text: it is in the event.
    expect(h.events.find((e) => e.name === "conversation.closed")?.payload).toEqual({
      conversationId: "s1",
      closedBy: "system",
      reason: "no_counselor",
    });
  });

  it("stops hunting when a counselor reads before the deadline", async () => {
    const h = await started();
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "help", { message_id: "1" }) });
    await h.bridge.runDue();
    h.clock.advance(30_000);
    await h.call("POST", "chat/s1/ack/", { token: h.helplineToken, body: { message_id: "1", status: "read" } });
    h.clock.advance(600_000);
    await h.bridge.runDue();
    expect(h.helpline.messages).toHaveLength(1);
    expect((await h.store.getConversation("s1"))?.state).toBe("connected");
  });

  it("keeps waiting when told to, without closing", async () => {
    const h = await started({ hunting: { timeoutS: 10, max: 1, onExhausted: "wait" } });
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "help", { message_id: "1" }) });
    await h.bridge.runDue();
    for (let i = 0; i < 3; i++) {
      h.clock.advance(10_000);
      await h.bridge.runDue();
    }
    expect((await h.store.getConversation("s1"))?.state).toBe("hunting");
    expect(h.helpline.messages).toHaveLength(2);
    expect(h.chatbot.closes).toEqual([]);
  });
});

describe("createBridge options", () => {
  it("throws a config error naming the option", async () => {
    const h = bridgeHarness();
    const base = { store: h.store, helplines: h.helpline.target, chatbot: h.chatbot.target };
    const { createBridge } = await import("./create-bridge");
    expect(() => createBridge({ ...base, consumers: [] })).toThrow(/`consumers`/);
    expect(() =>
      createBridge({
        ...base,
        consumers: [{ username: "a", password: "long-enough", sources: ["WENI"] }],
        basePath: "api",
      }),
    ).toThrow(BridgeConfigError);
    try {
      createBridge({
        ...base,
        consumers: [{ username: "a", password: "long-enough", sources: ["WENI"] }],
        hunting: { timeoutS: -1 },
      });
    } catch (error) {
      expect((error as BridgeConfigError).option).toBe("hunting.timeoutS");
    }
    expect(() =>
      createBridge({
        ...base,
        chatbot: {} as never,
        consumers: [{ username: "a", password: "long-enough", sources: ["WENI"] }],
      }),
    ).toThrow(/`chatbot`.*deliverMessage/);
  });
});

describe("hunting hook", () => {
  it("calls the configured renotify hook instead of re-sending, retried like a delivery", async () => {
    const calls: Array<{ round: number; of: number; messageId: string }> = [];
    let failOnce = true;
    const h = await started({
      hunting: {
        timeoutS: 60,
        max: 1,
        renotify: async (notice) => {
          if (failOnce) {
            failOnce = false;
            throw Object.assign(new Error("sms gateway down"), { retriable: true });
          }
          calls.push({ round: notice.round, of: notice.of, messageId: notice.message.messageId });
        },
      },
    });
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "help", { message_id: "1" }) });
    await h.bridge.runDue();
    h.clock.advance(60_000);
    await h.bridge.runDue();
    expect(calls).toEqual([{ round: 1, of: 1, messageId: "1" }]);
    expect(h.helpline.messages).toHaveLength(1);
  });
});
