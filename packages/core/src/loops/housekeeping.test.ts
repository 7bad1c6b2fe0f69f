import { afterEach, describe, expect, it, vi } from "vitest";
import { bridgeHarness, CHATBOT_USER, clientMessage } from "../../test-support/bridge-harness";
import type { Conversation } from "../domain/model";
import { BridgeConfigError } from "../options";
import type { NewOutboxJob } from "../store/store";

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** A conversation closed at `closedAt` (epoch ms), stored directly. */
function closedAt(id: string, at: number): Conversation {
  const iso = new Date(at).toISOString();
  return {
    id,
    state: "closed",
    origin: "webhook",
    helpline: "default",
    contact: "contact-1",
    huntCount: 0,
    closedBy: "chatbot",
    closedAt: iso,
    createdAt: iso,
    updatedAt: iso,
    version: 1,
  };
}

function job(conversationId: string, nextAttemptAt: number): NewOutboxJob {
  return {
    conversationId,
    lane: "helpline",
    kind: "close",
    payload: {},
    attempts: 0,
    nextAttemptAt,
    createdAt: "2026-01-01T00:00:00.000Z",
  };
}

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
    expect(purged).toEqual([
      {
        conversations: 1,
        deadLetters: 0,
        pendingSkipped: 0,
        closedBefore: new Date(h.clock.now() - 2 * DAY).toISOString(),
      },
    ]);

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

  it("keeps a closed conversation whose job is still pending, and purges dead letters with theirs", async () => {
    const h = bridgeHarness({ retention: { closedAfterDays: 2 } });
    const purged: unknown[] = [];
    h.bridge.events.on("retention.purged", (e) => purged.push(e));
    const old = h.clock.now() - 3 * DAY;
    const never = h.clock.now() + 365 * DAY; // never due here: the worker leaves it pending
    const deadJob = await h.store.transaction(async (tx) => {
      await tx.insertConversation(closedAt("dead", old));
      await tx.insertConversation(closedAt("waiting", old));
      await tx.enqueueJob(job("waiting", never));
      const dead = await tx.enqueueJob(job("dead", never));
      await tx.deadLetterJob(dead.id, { attempts: 9, deadAt: old, lastError: { code: "unavailable", status: 503 } });
      return dead;
    });

    await h.bridge.start();
    await vi.waitFor(() => expect(purged).toHaveLength(1));
    await h.bridge.stop();
    expect(purged[0]).toEqual({
      conversations: 1,
      deadLetters: 1,
      pendingSkipped: 1,
      closedBefore: new Date(h.clock.now() - 2 * DAY).toISOString(),
    });
    expect(await h.store.getConversation("dead")).toBeUndefined();
    expect(await h.store.transaction((tx) => tx.getJob(deadJob.id))).toBeUndefined();
    expect(await h.store.getConversation("waiting")).toBeDefined();
    expect(await h.store.pendingJobs("waiting")).toHaveLength(1);
  });

  it("deletes expired tokens at start and hourly, without retention, reporting tokens.purged", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const h = bridgeHarness();
    const purged: unknown[] = [];
    h.bridge.events.on("tokens.purged", (e) => purged.push(e));
    const token = (hash: string, expiresAt: number) =>
      h.store.putToken({ hash, consumer: "weni", expiresAt, createdAt: "2026-01-01T00:00:00.000Z", revoked: false });
    await token("expired", h.clock.now() - 1);
    await token("later", h.clock.now() + 30 * 60_000);
    await token("live", h.clock.now() + 2 * HOUR);

    await h.bridge.start();
    // Not vi.waitFor: under fake timers it moves the clock, and this test counts the hour itself.
    for (let i = 0; i < 100 && purged.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(purged).toEqual([{ count: 1 }]);
    expect(await h.store.getToken("expired")).toBeUndefined();
    expect(await h.store.getToken("later")).toBeDefined();

    h.clock.advance(HOUR);
    await vi.advanceTimersByTimeAsync(HOUR - 1);
    expect(purged).toHaveLength(1); // not before the hour
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(purged).toEqual([{ count: 1 }, { count: 1 }]));
    expect(await h.store.getToken("later")).toBeUndefined();
    expect(await h.store.getToken("live")).toBeDefined();
    await h.bridge.stop();
  });

  it("still purges conversations when deleting tokens fails, reporting each failure apart", async () => {
    const h = bridgeHarness({ retention: { closedAfterDays: 1 } });
    vi.spyOn(h.store, "deleteExpiredTokens").mockRejectedValueOnce(new Error("disk I/O error"));
    await h.store.transaction((tx) => tx.insertConversation(closedAt("old", h.clock.now() - 2 * DAY)));
    await h.bridge.start();
    await vi.waitFor(async () => expect(await h.store.getConversation("old")).toBeUndefined());
    await h.bridge.stop();
    expect(h.events.filter((e) => e.name === "error").map((e) => e.payload)).toEqual([
      { where: "tokens", error: { code: "error", message: "disk I/O error", status: undefined } },
    ]);
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

  it("refuses a period not longer than the retry horizon (72 h by default), naming the option", () => {
    const withHorizon = (closedAfterDays: number, delivery: { retryHorizonMs?: number } = {}) =>
      bridgeHarness({ retention: { closedAfterDays }, delivery });
    expect(() => withHorizon(3)).toThrow(/retry horizon \(259200 s\)/);
    expect(() => withHorizon(3)).toThrow(expect.objectContaining({ option: "retention.closedAfterDays" }));
    expect(() => withHorizon(3.01)).not.toThrow();
    expect(() => withHorizon(1, { retryHorizonMs: DAY })).toThrow(BridgeConfigError);
    expect(() => withHorizon(1.5, { retryHorizonMs: DAY })).not.toThrow();
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
