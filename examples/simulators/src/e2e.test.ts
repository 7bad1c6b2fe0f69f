import { afterEach, describe, expect, it } from "vitest";
import { startHelplineSimulator } from "./helpline-simulator";
import { startRapidProSimulator } from "./rapidpro-simulator";
import { E2E_CONSUMERS, startRealBridge } from "./test-support/real-bridge";

/**
 * The simulators against the real bridge (core, memory store, the OpenCHS client's helpline
 * target): what the fake bridge of the other tests assumes, checked once against the real thing.
 */
describe("sandbox end to end, with the real bridge", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!();
  });

  async function setup(helplineOptions: Parameters<typeof startHelplineSimulator>[0] = {}) {
    const helpline = await startHelplineSimulator({ offerDelayMs: 10, readDelayMs: 0, ...helplineOptions });
    cleanup.push(() => helpline.close());
    const rapidpro = await startRapidProSimulator({ flavour: "weni" });
    cleanup.push(() => rapidpro.close());
    const real = await startRealBridge(helpline, rapidpro);
    cleanup.push(() => real.close());
    helpline.connectBridge({ url: real.url, ...E2E_CONSUMERS.helpline });
    rapidpro.connectBridge({ url: real.url, ...E2E_CONSUMERS.chatbot });
    return { helpline, rapidpro, bridge: real.bridge };
  }

  it("escalation, an ignored offer, re-notification, read, reply and close reach both sides once", async () => {
    const { helpline, rapidpro, bridge } = await setup({ ignoreFirstOffers: 1 });
    const connected = new Promise<{ counselorName?: string | undefined }>((resolve) =>
      bridge.events.once("conversation.connected", resolve),
    );
    const ackAtChatbot = rapidpro.waitFor("ack.received", (a) => a.status === "read", 8000);

    const { session, contact, messageId } = await rapidpro.escalate({ name: "Zawadi", text: "I need help" });
    await helpline.waitFor("hunt.ignored", undefined, 8000);
    // The bridge's hunt timeout passes: it re-notifies, the helpline offers again, a counselor reads.
    const renotify = await helpline.waitFor("message.stored", (m) => m.kind === "renotify", 8000);
    expect(renotify).toMatchObject({ sessionId: session, messageId: `${messageId}#renotify-1` });
    expect(await connected).toMatchObject({ counselorName: "Counselor Baraka" });
    expect(await ackAtChatbot).toMatchObject({ conversationId: session, messageId });

    const delivered = rapidpro.waitFor("broadcast.received", undefined, 8000);
    await helpline.counselors.reply(session, "I am here for you");
    await delivered;
    expect(rapidpro.state.texts(contact)).toEqual(["Counselor Baraka: I am here for you"]);

    const started = rapidpro.waitFor("flow_start.received", undefined, 8000);
    await helpline.counselors.close(session, "resolved");
    expect(await started).toMatchObject({
      flow: rapidpro.closeFlow,
      contacts: [contact],
      params: { conversation_id: session, closed_by: "helpline", reason: "resolved" },
    });
    expect(rapidpro.state.sessions.get(session)!.state).toBe("handed_back");
    // Each client message reached the helpline exactly once (the re-notification is its own message).
    expect(helpline.state.messages(session).map((m) => [m.messageId, m.received])).toEqual([
      [messageId, 1],
      [`${messageId}#renotify-1`, 1],
    ]);
  }, 15_000);

  it("a helpline that stores the message but drops the answer: the bridge retries, the helpline keeps it once", async () => {
    const { helpline, rapidpro } = await setup({ counselors: [] });
    helpline.faults.set({ mode: "drop-after", count: 1, paths: ["msg/"] });
    const duplicate = helpline.waitFor("message.duplicate", undefined, 8000);
    const { session, messageId } = await rapidpro.escalate({ text: "help me" });
    expect(await duplicate).toMatchObject({ sessionId: session, messageId, received: 2 });
    expect(helpline.state.messages(session).filter((m) => m.kind === "message")).toHaveLength(1);
    expect(helpline.faults.injected["drop-after"]).toBe(1);
  }, 15_000);
});
