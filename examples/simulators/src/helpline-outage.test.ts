import { createRapidProChatbotTarget, createRapidProClient } from "@openchs-bridge/rapidpro-adapter";
import { afterEach, describe, expect, it } from "vitest";
import { startHelplineSimulator } from "./helpline-simulator";
import { startRapidProSimulator } from "./rapidpro-simulator";
import { E2E_CONSUMERS, startRealBridge } from "./test-support/real-bridge";

/**
 * A helpline outage end to end: the simulated helpline answers every `msg/` with 503 for longer than
 * the helpline-unavailable notice's delay (shortened to 1 s). The simulated RapidPro must get the
 * notice once, as a flow start of the adapter's real chatbot target with `reason:
 * helpline_unavailable`; when the helpline is back, the child's message reaches it once.
 */
describe("helpline outage, with the real bridge", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!();
  });

  it("tells RapidPro once that the helpline is unavailable, then delivers the message once when it returns", async () => {
    const helpline = await startHelplineSimulator({ offerDelayMs: 10, readDelayMs: 0 });
    cleanup.push(() => helpline.close());
    const rapidpro = await startRapidProSimulator({ flavour: "weni" });
    cleanup.push(() => rapidpro.close());
    const client = createRapidProClient({
      baseUrl: rapidpro.url,
      token: rapidpro.token,
      retry: false,
      timeoutMs: 2000,
    });
    const real = await startRealBridge(helpline, rapidpro, {
      // The adapter's own target: the flow start it sends is what a real RapidPro would get.
      chatbot: createRapidProChatbotTarget({ client, closeFlow: rapidpro.closeFlow }),
      unavailableNotice: { afterS: 1 },
      delivery: {
        pollMs: 20,
        burstMinDelayMs: 5,
        burstMaxDelayMs: 20,
        schedule: [150],
        retryHorizonMs: 60_000,
      },
    });
    cleanup.push(() => real.close());
    helpline.connectBridge({ url: real.url, ...E2E_CONSUMERS.helpline });
    rapidpro.connectBridge({ url: real.url, ...E2E_CONSUMERS.chatbot });

    helpline.faults.set({ mode: "5xx", status: 503, paths: ["msg/"] });
    const notice = rapidpro.waitFor("flow_start.received", (f) => f.params.reason === "helpline_unavailable", 8000);
    const { session, contact, messageId } = await rapidpro.escalate({ text: "please help me" });
    expect(await notice).toMatchObject({
      flow: rapidpro.closeFlow,
      contacts: [contact],
      params: { conversation_id: session, reason: "helpline_unavailable" },
    });
    // The outage goes on (the bridge keeps retrying): still one notice, nothing stored at the helpline.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const unavailable = () =>
      rapidpro.state.flowStarts.filter(
        (f) => f.params.conversation_id === session && f.params.reason === "helpline_unavailable",
      );
    expect(unavailable()).toHaveLength(1);
    expect(helpline.faults.injected["5xx"]).toBeGreaterThan(3);
    expect(helpline.state.messages(session)).toEqual([]);
    expect((await real.bridge.conversations.get(session))?.state).toBe("requested");

    // The helpline is back: the message is delivered once, the conversation goes on.
    const stored = helpline.waitFor("message.stored", (m) => m.sessionId === session, 8000);
    helpline.faults.clear();
    expect(await stored).toMatchObject({ messageId, kind: "message" });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(helpline.state.messages(session).map((m) => [m.messageId, m.received])).toEqual([[messageId, 1]]);
    expect(unavailable()).toHaveLength(1);
    expect((await real.bridge.conversations.get(session))?.state).not.toBe("requested");
  }, 20_000);
});
