import { describe, expect, it } from "vitest";
import { bridgeHarness, CHATBOT_USER, clientMessage, upstreamFailure } from "../../test-support/bridge-harness";
import type { HelplineMessage } from "../ports/helpline-target";
import type { UnavailableNotice } from "../ports/notices";

/** A harness whose helpline fails while `down`, and whose chatbot records unavailable notices. */
async function setup(overrides: Parameters<typeof bridgeHarness>[0] = {}) {
  const h = bridgeHarness({
    delivery: { burstRetries: 0, schedule: [10_000], retryHorizonMs: 3_600_000 },
    unavailableNotice: { afterS: 30 },
    ...overrides,
  });
  const token = await h.login(CHATBOT_USER);
  const helpline = { down: true, failure: () => upstreamFailure(503) };
  const deliver = h.helpline.target.deliverMessage;
  h.helpline.target.deliverMessage = async (message: HelplineMessage, context) => {
    if (helpline.down) throw helpline.failure();
    return deliver(message, context);
  };
  const notices: UnavailableNotice[] = [];
  h.chatbot.target.notifyUnavailable = async (notice) => {
    notices.push(notice);
  };
  const post = (session: string, id: string) =>
    h.call("POST", "chat/", { token, body: clientMessage(session, `text ${id}`, { message_id: id }) });
  const told: Array<{ payload: unknown }> = [];
  h.bridge.events.on("conversation.unavailable_notice", (payload) => told.push({ payload }));
  const noticeEvents = () => told;
  return { ...h, helpline: { ...h.helpline, state: helpline }, notices, post, noticeEvents };
}

async function runFor(h: Awaited<ReturnType<typeof setup>>, ms: number, step = 5_000) {
  for (let t = 0; t < ms; t += step) {
    h.clock.advance(step);
    await h.bridge.runDue();
  }
}

describe("the helpline-unavailable notice", () => {
  it("tells the chatbot once when the first message is not accepted in time; the message is delivered once later", async () => {
    const h = await setup();
    const arrived = new Date(h.clock.now()).toISOString();
    await h.post("s1", "1");
    await h.bridge.runDue();
    await runFor(h, 25_000);
    expect(h.notices).toEqual([]); // 25 s: not yet
    await runFor(h, 5_000); // 30 s
    expect(h.notices).toEqual([
      {
        conversationId: "s1",
        contact: "6b0f4e3c-1c1a-4a5e-9f7e-0a1b2c3d4e5f",
        reason: "helpline_unavailable",
        since: arrived,
        text: undefined,
        ticket: undefined,
      },
    ]);
    const conversation = await h.store.getConversation("s1");
    expect(conversation).toMatchObject({ state: "requested" });
    expect(conversation?.unavailableNoticeAt).toBe(new Date(h.clock.now()).toISOString());
    expect(h.noticeEvents().map((e) => e.payload)).toEqual([{ conversationId: "s1", since: arrived }]);

    // The outage goes on: still one notice; another message of the conversation waits behind the first.
    await h.post("s1", "2");
    await runFor(h, 120_000);
    expect(h.notices).toHaveLength(1);
    expect(h.noticeEvents()).toHaveLength(1);

    // The helpline returns: each message delivered once, in order; the conversation goes on as usual.
    h.helpline.state.down = false;
    await runFor(h, 10_000);
    expect(h.helpline.messages.map((m) => m.messageId)).toEqual(["1", "2"]);
    expect((await h.store.getConversation("s1"))?.state).toBe("hunting");
    expect(h.notices).toHaveLength(1);
    expect(await h.store.pendingJobs("s1")).toEqual([]);
  });

  it("brings the next attempt forward to the deadline so the notice is not late", async () => {
    const h = await setup({ delivery: { burstRetries: 0, schedule: [60_000], retryHorizonMs: 3_600_000 } });
    const start = h.clock.now();
    await h.post("s1", "1");
    await h.bridge.runDue();
    const retry = h.events.find((e) => e.name === "delivery.retry")?.payload as { nextAttemptAt: number };
    expect(retry.nextAttemptAt).toBe(start + 30_000);
    h.clock.advance(30_000);
    await h.bridge.runDue();
    expect(h.notices).toHaveLength(1);
    // After the notice, the schedule's own wait again.
    const last = h.events.filter((e) => e.name === "delivery.retry").at(-1)?.payload as { nextAttemptAt: number };
    expect(last.nextAttemptAt).toBe(start + 90_000);
  });

  it("honours a Retry-After past the deadline: the notice goes at the deadline, the message after Retry-After", async () => {
    const h = await setup();
    h.helpline.state.failure = () => upstreamFailure(429, 120_000);
    const start = h.clock.now();
    await h.post("s1", "1");
    await h.bridge.runDue();
    expect(h.notices).toEqual([]);
    const [job] = await h.store.pendingJobs("s1", "helpline");
    expect(job?.nextAttemptAt).toBe(start + 120_000);
    h.clock.advance(30_000);
    await h.bridge.runDue();
    expect(h.notices).toHaveLength(1);
    h.helpline.state.down = false;
    h.clock.advance(89_999);
    await h.bridge.runDue();
    expect(h.helpline.messages).toEqual([]);
    h.clock.advance(1);
    await h.bridge.runDue();
    expect(h.helpline.messages.map((m) => m.messageId)).toEqual(["1"]);
  });

  it("is not sent when the helpline accepts in time, nor when it is turned off", async () => {
    const h = await setup();
    await h.post("s1", "1");
    await h.bridge.runDue();
    h.helpline.state.down = false;
    await runFor(h, 60_000);
    expect(h.helpline.messages).toHaveLength(1);
    expect(h.notices).toEqual([]);

    const off = await setup({ unavailableNotice: { afterS: 0 } });
    await off.post("s1", "1");
    await runFor(off, 120_000);
    expect(off.notices).toEqual([]);
    expect(off.noticeEvents()).toEqual([]);
    expect((await off.store.getConversation("s1"))?.unavailableNoticeAt).toBeUndefined();
  });

  it("is a no-op for a chatbot target that cannot tell the bot", async () => {
    const h = await setup();
    delete h.chatbot.target.notifyUnavailable;
    await h.post("s1", "1");
    await runFor(h, 35_000);
    expect(h.noticeEvents()).toHaveLength(1);
    expect(await h.store.pendingJobs("s1", "chatbot")).toEqual([]);
    expect(await h.store.listDeadLetters({ limit: 10 })).toEqual({ jobs: [] });
  });

  it("is skipped when it could not reach the chatbot before the helpline took the conversation", async () => {
    const h = await setup();
    let calls = 0;
    h.chatbot.target.notifyUnavailable = async () => {
      calls++;
      // Back after the helpline: by then the helpline has the conversation.
      throw upstreamFailure(503, 15_000);
    };
    await h.post("s1", "1");
    await runFor(h, 30_000);
    expect(calls).toBe(1);
    h.helpline.state.down = false;
    await runFor(h, 20_000);
    expect((await h.store.getConversation("s1"))?.state).toBe("hunting");
    // Retried after the helpline took it: stale, so done without telling the bot.
    expect(calls).toBe(1);
    expect(await h.store.pendingJobs("s1", "chatbot")).toEqual([]);
  });
});
