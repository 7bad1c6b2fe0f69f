import { afterEach, describe, expect, it } from "vitest";
import { clientMessage } from "./support/bridge-client";
import { type Accepted, chatbotReport, getConversation, helplineReport } from "./support/checks";
import { eventually, sleep } from "./support/gateway-process";
import { type System, startSystem } from "./support/system";
import { expectDeliveredExactlyOnce, reportFigures } from "./support/truth";
import { conversationsOf, newConversation, sendClient, sendClientMessages, sendReplies } from "./support/workload";

/**
 * Upstream faults (PROTOCOL.md "Delivery guarantees"): the simulators' fault switches against the
 * real gateway process. For each: every accepted message arrives exactly once (by message_id), in
 * order per conversation, and the statuses and logs tell the truth.
 */
let system: System | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

describe("upstream faults", () => {
  it("5xx bursts at the helpline, RapidPro and the ack endpoint", async () => {
    system = await startSystem();
    const s = system;
    s.helpline.faults.set({ mode: "5xx", status: 502, count: 8, paths: ["msg/"] });
    s.rapidpro.faults.set({ mode: "5xx", status: 500, count: 6, paths: ["broadcasts.json", "/acks"] });
    const client = await sendClientMessages(s, { prefix: "f5xx", conversations: 3, messages: 4 });
    const replies = await sendReplies(s, conversationsOf(client), 2);
    const { helpline } = await expectDeliveredExactlyOnce(s, client, replies);
    // Every client message was read by a counselor, and each read ack reached the chatbot despite the faults.
    await eventually("read acks at the chatbot", () =>
      client.every((a) => s.rapidpro.state.acks.some((k) => k.messageId === a.messageId && k.status === "read")),
    );
    expect(s.helpline.faults.injected["5xx"]).toBe(8);
    expect(s.rapidpro.faults.injected["5xx"]).toBe(6);
    reportFigures("5xx bursts", {
      accepted: client.length + replies.length,
      faults: 14,
      copiesAtHelpline: helpline.copiesReceived,
      deliveredOnce: client.length + replies.length,
    });
  });

  it("connections dropped before the request is read", async () => {
    system = await startSystem();
    const s = system;
    s.helpline.faults.set({ mode: "drop", count: 6, paths: ["msg/"] });
    s.rapidpro.faults.set({ mode: "drop", count: 4, paths: ["broadcasts.json"] });
    const client = await sendClientMessages(s, { prefix: "fdrop", conversations: 3, messages: 4 });
    const replies = await sendReplies(s, conversationsOf(client), 2);
    await expectDeliveredExactlyOnce(s, client, replies);
    expect(s.helpline.faults.injected.drop + s.rapidpro.faults.injected.drop).toBe(10);
    reportFigures("dropped before", { accepted: client.length + replies.length, faults: 10 });
  });

  it("connections dropped after the helpline processed the request: retried, deduplicated by message_id", async () => {
    system = await startSystem();
    const s = system;
    s.helpline.faults.set({ mode: "drop-after", count: 6, paths: ["msg/"] });
    const client = await sendClientMessages(s, { prefix: "fafter", conversations: 3, messages: 4 });
    const { helpline } = await expectDeliveredExactlyOnce(s, client);
    // The helpline got the dropped ones twice and stored them once.
    expect(helpline.copiesReceived).toBe(client.length + 6);
    expect(s.helpline.state.duplicates).toHaveLength(6);
    reportFigures("dropped after (helpline)", {
      accepted: client.length,
      faults: 6,
      copiesAtHelpline: helpline.copiesReceived,
      storedTwice: helpline.storedTwice.length,
    });
  });

  it("a slow answer past the upstream timeout: the attempt is abandoned and retried, the late copy deduplicated", async () => {
    system = await startSystem();
    const s = system;
    // The gateway gives the helpline 10 s per attempt; this answer takes 11 s (and is processed then).
    s.helpline.faults.set({ mode: "slow", delayMs: 11_000, count: 1, paths: ["msg/"] });
    const client = await sendClientMessages(s, { prefix: "fslow", conversations: 1, messages: 3 });
    const { helpline } = await expectDeliveredExactlyOnce(s, client);
    await eventually("the late copy arrived", () => s.helpline.state.duplicates.length === 1, 15_000);
    expect(helpline.copiesReceived).toBeGreaterThanOrEqual(client.length);
    const first = s.helpline.state.messages(client[0]!.session)[0]!;
    expect(first.messageId).toBe(client[0]!.messageId);
    reportFigures("slow past timeout", { accepted: client.length, delayMs: 11_000, storedTwice: 0 });
  }, 90_000);

  it("429 with Retry-After is honoured, short (within the burst) and long (durably)", async () => {
    system = await startSystem();
    const s = system;
    s.helpline.faults.set({ mode: "429", retryAfterS: 1, count: 2, paths: ["msg/"] });
    const { session, contact } = newConversation("f429", 0);
    const first = await sendClient(s, session, contact, 1);
    await eventually("m1 delivered", () => s.helpline.state.messages(session).length === 1, 20_000);
    s.helpline.faults.set({ mode: "429", retryAfterS: 4, count: 1, paths: ["msg/"] });
    const second = await sendClient(s, session, contact, 2);
    await eventually("m2 delivered", () => s.helpline.state.messages(session).length === 2, 20_000);
    s.rapidpro.faults.set({ mode: "429", retryAfterS: 1, count: 2, paths: ["broadcasts.json"] });
    const replies = await sendReplies(s, [{ session, contact }], 2);
    await expectDeliveredExactlyOnce(s, [first, second], replies);
    // No request followed a 429 before its Retry-After had passed.
    for (const sim of [s.helpline.state.requests, s.rapidpro.state.requests]) {
      const calls = sim.filter((r) => r.path.includes("msg/") || r.path.includes("broadcasts.json"));
      calls.forEach((r, i) => {
        if (r.status !== 429) return;
        const next = calls[i + 1];
        expect(next).toBeDefined();
        expect(next!.at - r.at).toBeGreaterThanOrEqual(950);
      });
    }
    const long = s.helpline.state.requests.filter((r) => r.path.includes("msg/"));
    const limited = long.findLast((r) => r.status === 429)!;
    const after = long[long.indexOf(limited) + 1]!;
    expect(after.at - limited.at).toBeGreaterThanOrEqual(3950);
    reportFigures("429 Retry-After", { accepted: 4, faults: 5, longWaitMs: after.at - limited.at });
  });

  it("helpline sessions expiring mid-conversation: the gateway logs in again, once per expiry", async () => {
    system = await startSystem();
    const s = system;
    const conversations = [newConversation("fsess", 0), newConversation("fsess", 1)];
    const client: Accepted[] = [];
    for (let m = 1; m <= 6; m++) {
      for (const c of conversations) client.push(await sendClient(s, c.session, c.contact, m));
      if (m % 2 === 0 && m < 6) {
        await eventually("delivered", () => helplineReport(s.helpline, client).missing.length === 0, 20_000);
        expect(s.helpline.expireSessions()).toBe(1);
      }
    }
    await expectDeliveredExactlyOnce(s, client);
    // One login at the first message, one after each of the 2 expiries: never one per message.
    expect(s.helpline.state.logins).toEqual({ ok: 3, failed: 0 });
    reportFigures("sessions expiring", { accepted: client.length, expiries: 2, logins: s.helpline.state.logins.ok });
  });

  it("RapidPro connections dropped after processing: at-least-once, since RapidPro keeps no message ids", async () => {
    system = await startSystem();
    const s = system;
    const client = await sendClientMessages(s, { prefix: "frp", conversations: 2, messages: 1 });
    s.rapidpro.faults.set({ mode: "drop-after", count: 2, paths: ["broadcasts.json"] });
    const replies = await sendReplies(s, conversationsOf(client), 3);
    await eventually("replies at RapidPro", () => chatbotReport(s.rapidpro, replies).missing.length === 0, 30_000);
    await sleep(500);
    const report = chatbotReport(s.rapidpro, replies);
    // Each reply arrived, in order; those whose answer was lost arrived twice, and no others.
    expect(report.missing).toEqual([]);
    expect(report.outOfOrder).toEqual([]);
    expect(report.deliveredTwice.length).toBeLessThanOrEqual(2);
    expect(report.deliveredOnce + report.deliveredTwice.length).toBe(replies.length);
    reportFigures("RapidPro drop-after (documented limit)", {
      accepted: replies.length,
      faults: 2,
      deliveredTwice: report.deliveredTwice.length,
    });
  });

  it("a message that keeps failing is reported failed (status, log line, ack to the chatbot), never delivered", async () => {
    system = await startSystem({ env: { BRIDGE_RETRY_SCHEDULE_S: "1,1" } });
    const s = system;
    s.helpline.faults.set({ mode: "5xx", status: 503, paths: ["msg/"] });
    const { session, contact } = newConversation("fdead", 0);
    const answer = await s.chatbot.call("POST", "chat/", clientMessage(session, contact, "dead-1", "never arrives"));
    expect(answer.status).toBe(201);
    expect(answer.body.status).toBe("accepted");
    // While it is being retried, nobody is told it was delivered.
    await sleep(800);
    const retrying = await getConversation(s.counselor, session);
    expect(retrying.messages[0]).toMatchObject({ message_id: "dead-1", status: "accepted" });
    expect(retrying.state).toBe("requested");
    await eventually("dead letter", () => s.gateway.events("delivery.dead_letter").length === 1, 20_000);
    const view = await getConversation(s.counselor, session);
    expect(view.messages[0]).toMatchObject({
      message_id: "dead-1",
      status: "failed",
      last_error: { code: "unavailable" },
    });
    expect(s.gateway.events("delivery.dead_letter")[0]!.payload).toMatchObject({
      conversationId: session,
      messageId: "dead-1",
      error: { code: "unavailable", status: 503 },
    });
    await eventually("failed ack at the chatbot", () =>
      s.rapidpro.state.acks.some((a) => a.messageId === "dead-1" && a.status === "failed"),
    );
    expect(s.helpline.state.messages(session)).toEqual([]);
    // The helpline comes back: the next message goes through, the failed one stays failed and is not re-sent.
    s.helpline.faults.clear();
    const next = await sendClient(s, session, contact, 2);
    await eventually("the next one delivered", () => s.helpline.state.messages(session).length === 1);
    await sleep(1000);
    expect(s.helpline.state.messages(session).map((m) => m.messageId)).toEqual([next.messageId]);
    const after = await getConversation(s.counselor, session);
    expect(after.messages.map((m) => [m.message_id, m.status])).toEqual([
      ["dead-1", "failed"],
      [next.messageId, expect.stringMatching(/^(sent|read)$/)],
    ]);
    reportFigures("dead letter", { accepted: 2, failed: 1, reportedFailed: 1, deliveredAnyway: 0 });
  });
});
