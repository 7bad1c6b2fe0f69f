import { describe, expect, it } from "vitest";
import { bridgeHarness, CHATBOT_USER, clientMessage, upstreamFailure } from "../../test-support/bridge-harness";

describe("erasure during a delivery burst", () => {
  it("makes no further attempt once the conversation is erased between two attempts", async () => {
    const h = bridgeHarness({
      delivery: { burstRetries: 3, burstMinDelayMs: 1, burstMaxDelayMs: 5, schedule: [1000] },
    });
    const token = await h.login(CHATBOT_USER);
    expect((await h.call("POST", "chat/", { token, body: clientMessage("gone", "erase me") })).status).toBe(201);
    let attempts = 0;
    const deliver = h.helpline.target.deliverMessage;
    h.helpline.target.deliverMessage = async (message, context) => {
      attempts++;
      if (attempts === 1) {
        // Erased on request (e.g. by `openchs-bridge erase` in another process) while this attempt fails.
        expect(await h.bridge.conversations.erase("gone")).toBe(true);
        throw upstreamFailure(503);
      }
      return deliver(message, context);
    };
    await h.bridge.runDue();
    expect(attempts).toBe(1);
    expect(h.helpline.messages).toEqual([]);
    expect(await h.store.pendingJobs()).toEqual([]);
    expect(h.events.filter((e) => e.name === "delivery.dead_letter" || e.name === "message.failed")).toEqual([]);
  });
});
