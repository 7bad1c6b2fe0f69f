import { afterEach, describe, expect, it, vi } from "vitest";
import { bridgeHarness, CHATBOT_USER, clientMessage } from "../test-support/bridge-harness";
import { BridgeConfigError } from "./options";

const DAY = 86_400_000;

afterEach(() => {
  vi.useRealTimers();
});

async function closedConversation(h: ReturnType<typeof bridgeHarness>, session: string) {
  const token = await h.login(CHATBOT_USER);
  expect((await h.call("POST", "chat/", { token, body: clientMessage(session, "hello") })).status).toBe(201);
  expect((await h.call("POST", `chat/${session}/close/`, { token, body: { chat_source: "WENI" } })).status).toBe(200);
  await h.bridge.runDue();
}

describe("retention", () => {
  it("purges conversations closed longer ago than closedAfterDays, at start and on each sweep, and keeps open ones", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const h = bridgeHarness({ retention: { closedAfterDays: 2 } });
    const purged: unknown[] = [];
    h.bridge.events.on("retention.purged", (e) => purged.push(e));
    await closedConversation(h, "old");
    const token = await h.login(CHATBOT_USER);
    expect((await h.call("POST", "chat/", { token, body: clientMessage("open", "still here") })).status).toBe(201);
    await h.bridge.runDue();

    h.clock.advance(DAY);
    await closedConversation(h, "recent");
    h.clock.advance(DAY + 1000); // "old" closed 2 days + 1 s ago, "recent" 1 day + 1 s ago
    await h.bridge.start();
    await vi.waitFor(async () => expect(await h.store.getConversation("old")).toBeUndefined());
    expect(await h.store.conversationMessages("old")).toEqual([]);
    expect(await h.store.getConversation("recent")).toBeDefined();
    expect(await h.store.getConversation("open")).toBeDefined();
    expect(purged).toEqual([{ conversations: 1, closedBefore: new Date(h.clock.now() - 2 * DAY).toISOString() }]);

    // The next sweep (a quarter of the period: 12 h) takes "recent" once it is old enough.
    h.clock.advance(DAY);
    await vi.advanceTimersByTimeAsync(12 * 3_600_000);
    await vi.waitFor(async () => expect(await h.store.getConversation("recent")).toBeUndefined());
    expect(await h.store.getConversation("open")).toBeDefined();
    const fresh = await h.login(CHATBOT_USER);
    expect((await h.call("GET", "chat/recent/", { token: fresh })).status).toBe(404);
    // Sweeps that found nothing to delete are not reported.
    expect(purged).toHaveLength(2);
    expect(purged[1]).toMatchObject({ conversations: 1 });
    await h.bridge.stop();
  });

  it("is off by default: nothing is purged", async () => {
    const h = bridgeHarness();
    await closedConversation(h, "kept");
    h.clock.advance(3650 * DAY);
    await h.bridge.start();
    await h.bridge.stop();
    expect(await h.store.getConversation("kept")).toBeDefined();
  });

  it("reports a failing sweep as an error event and goes on", async () => {
    const h = bridgeHarness({ retention: { closedAfterDays: 1, sweepIntervalS: 1 } });
    const purge = vi.spyOn(h.store, "purgeClosedBefore").mockRejectedValueOnce(new Error("disk I/O error"));
    await h.bridge.start();
    await vi.waitFor(() => expect(purge).toHaveBeenCalledTimes(2), { timeout: 3000 });
    await h.bridge.stop();
    expect(h.events.filter((e) => e.name === "error").map((e) => e.payload)).toEqual([
      { where: "retention", error: { code: "error", message: "disk I/O error", status: undefined } },
    ]);
  });

  it("refuses a period shorter than the retry schedule, naming the option", () => {
    expect(() => bridgeHarness({ retention: { closedAfterDays: 1 / 86_400 } })).toThrow(BridgeConfigError);
    try {
      bridgeHarness({ retention: { closedAfterDays: 0.00001 } });
    } catch (error) {
      expect((error as BridgeConfigError).option).toBe("retention.closedAfterDays");
    }
    expect(() => bridgeHarness({ retention: { closedAfterDays: -1 } })).toThrow(/retention.closedAfterDays/);
  });
});
