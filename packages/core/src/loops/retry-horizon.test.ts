import { describe, expect, it } from "vitest";
import { bridgeHarness, CHATBOT_USER, clientMessage, upstreamFailure } from "../../test-support/bridge-harness";
import type { HelplineMessage } from "../ports/helpline-target";

/** The helpline is down for conversation `s1` only while `down` is true; everything else goes through. */
function outage(h: ReturnType<typeof bridgeHarness>) {
  const state = { down: true, attempts: 0 };
  const deliver = h.helpline.target.deliverMessage;
  h.helpline.target.deliverMessage = async (message: HelplineMessage, context) => {
    if (message.conversationId === "s1" && state.down) {
      state.attempts++;
      throw upstreamFailure(503);
    }
    return deliver(message, context);
  };
  return state;
}

describe("the retry horizon", () => {
  it("keeps retrying past the schedule until the horizon, then keeps the dead letter; the lane moves on", async () => {
    const h = bridgeHarness({
      // Waits 1 s, then 5 s repeated, for 20 s after the first failed round; no quick retries.
      delivery: { burstRetries: 0, schedule: [1_000, 5_000], retryHorizonMs: 20_000 },
      unavailableNotice: { afterS: 0 },
    });
    const token = await h.login(CHATBOT_USER);
    const helpline = outage(h);
    const post = (session: string, id: string) =>
      h.call("POST", "chat/", { token, body: clientMessage(session, `text ${id}`, { message_id: id }) });
    await post("s1", "1");
    await post("s1", "2");
    await post("s2", "1");
    await h.bridge.runDue();
    // Another conversation is not held up by s1's failing head.
    expect(h.helpline.messages.map((m) => [m.conversationId, m.messageId])).toEqual([["s2", "1"]]);

    const start = h.clock.now();
    for (let t = 0; t < 20_000; t += 1_000) {
      h.clock.advance(1_000);
      await h.bridge.runDue();
      if (t === 10_000) {
        // Mid-outage, s2 goes on.
        await post("s2", "2");
        await h.bridge.runDue();
      }
    }
    // Still pending at 20 s: rounds at 0, 1, 6, 11, 16 s (the schedule's last wait repeating).
    const [pending] = await h.store.pendingJobs("s1", "helpline");
    expect(pending).toMatchObject({ attempts: 5, firstAttemptAt: start });
    expect(pending?.state ?? "pending").toBe("pending");
    expect(pending?.lastError).toEqual({ code: "unavailable", status: 503 });
    expect(await h.store.listDeadLetters({ limit: 10 })).toEqual({ jobs: [] });

    h.clock.advance(1_000); // 21 s: the round after the horizon dead-letters it
    await h.bridge.runDue();
    expect(helpline.attempts).toBe(6 + 1); // six rounds for message 1, then message 2's first (still down)
    const { jobs } = await h.store.listDeadLetters({ limit: 10 });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      conversationId: "s1",
      lane: "helpline",
      kind: "message",
      state: "dead",
      attempts: 6,
      deadAt: h.clock.now(),
      lastError: { code: "unavailable", status: 503 },
    });
    expect(h.events.filter((e) => e.name === "delivery.dead_letter")).toHaveLength(1);
    const [first, second] = await h.store.conversationMessages("s1");
    expect(first).toMatchObject({ messageId: "1", status: "failed" });
    expect(second).toMatchObject({ messageId: "2", status: "accepted" });

    // The helpline returns: the message behind the dead letter is delivered; the dead one is not.
    helpline.down = false;
    h.clock.advance(1_000);
    await h.bridge.runDue();
    expect(h.helpline.messages.map((m) => [m.conversationId, m.messageId])).toEqual([
      ["s2", "1"],
      ["s2", "2"],
      ["s1", "2"],
    ]);
    expect(await h.store.pendingJobs("s1", "helpline")).toEqual([]);
    expect((await h.store.listDeadLetters({ conversationId: "s1", limit: 10 })).jobs.map((j) => j.id)).toEqual([
      jobs[0]!.id,
    ]);
  });

  it("dead-letters a refusal at once and keeps it", async () => {
    const h = bridgeHarness({ unavailableNotice: { afterS: 0 } });
    const token = await h.login(CHATBOT_USER);
    h.helpline.failNext(upstreamFailure(412));
    await h.call("POST", "chat/", { token, body: clientMessage("s1", "refused", { message_id: "1" }) });
    await h.bridge.runDue();
    const { jobs } = await h.store.listDeadLetters({ limit: 10 });
    expect(jobs).toMatchObject([{ conversationId: "s1", attempts: 1, lastError: { code: "validation", status: 412 } }]);
    expect(jobs[0]?.firstAttemptAt).toBeUndefined();
  });
});
