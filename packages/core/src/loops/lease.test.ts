import { afterEach, describe, expect, it } from "vitest";
import { type Bridge, createBridge } from "../create-bridge";
import type { HelplineMessage, HelplineTarget } from "../ports/helpline-target";
import type { DeliveryContext } from "../ports/notices";
import { createMemoryStore } from "../store/memory-store";
import type { Store } from "../store/store";

const noop = async () => {};
const LEASE_MS = 1_000;
const bridges: Bridge[] = [];

afterEach(async () => {
  await Promise.all(bridges.splice(0).map((b) => b.stop({ graceMs: 0 })));
});

/** One instance on a store shared with others (as several processes on one PostgreSQL database). */
function instance(store: Store, workerId: string, deliverMessage: HelplineTarget["deliverMessage"]): Bridge {
  const bridge = createBridge({
    store,
    workerId,
    helplines: { deliverMessage, notifyClose: noop },
    chatbot: { deliverMessage: noop, notifyClose: noop },
    consumers: [{ username: "weni", password: "weni-password", sources: ["WENI"] }],
    delivery: { leaseMs: LEASE_MS, pollMs: 50, burstRetries: 0 },
  });
  bridges.push(bridge);
  return bridge;
}

/** A helpline call that ends when told to, or when its attempt is aborted. */
function heldCalls() {
  const calls: Array<{ message: HelplineMessage; release: () => void }> = [];
  const deliver = (message: HelplineMessage, context: DeliveryContext) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ message, release: resolve });
      context.signal.addEventListener("abort", () => reject(context.signal.reason), { once: true });
    });
  return { calls, deliver };
}

describe("short leases, renewed while a job runs", () => {
  it("renews the lease through an attempt several leases long: no other instance claims the job", async () => {
    const inner = createMemoryStore();
    let renewals = 0;
    const store: Store = {
      ...inner,
      renewLease: (...args) => {
        renewals++;
        return inner.renewLease(...args);
      },
    };
    const a = heldCalls();
    const delivered: string[] = [];
    const first = instance(store, "a", a.deliver);
    const second = instance(store, "b", async (m) => {
      delivered.push(`b:${m.messageId}`);
    });
    await first.conversations.acceptClientMessage({ conversationId: "c1", text: "hello", contact: "contact" });
    await first.start({ releaseLeases: false });
    await until(() => a.calls.length === 1);
    await second.start({ releaseLeases: false });

    await sleep(3 * LEASE_MS);
    expect(delivered).toEqual([]); // three leases long, and still ours
    expect(renewals).toBeGreaterThanOrEqual(6);
    a.calls[0]!.release();
    await until(async () => (await store.pendingJobs()).length === 0);
    expect(a.calls).toHaveLength(1);
    expect(delivered).toEqual([]);
    expect((await store.conversationMessages("c1"))[0]?.status).toBe("sent");
  });

  it("another instance picks up the work of one that disappeared mid-attempt, within about a lease", async () => {
    const inner = createMemoryStore();
    // The first instance freezes mid-attempt (as if killed): no renewal, no claim reaches the store again.
    let gone = false;
    const frozen: Store = {
      ...inner,
      renewLease: (...args) => (gone ? new Promise<boolean>(() => {}) : inner.renewLease(...args)),
      claimDueJobs: async (query) => (gone ? [] : inner.claimDueJobs(query)),
    };
    const a = heldCalls();
    const first = instance(frozen, "a", a.deliver);
    const deliveredAt: number[] = [];
    const second = instance(inner, "b", async () => {
      deliveredAt.push(Date.now());
    });
    await first.conversations.acceptClientMessage({ conversationId: "c1", text: "hello", contact: "contact" });
    await first.start({ releaseLeases: false });
    await until(() => a.calls.length === 1);
    gone = true;
    const disappeared = Date.now();
    await second.start({ releaseLeases: false });
    await until(() => deliveredAt.length === 1, 5_000);
    const pickupMs = deliveredAt[0]! - disappeared;
    expect(pickupMs).toBeGreaterThanOrEqual(LEASE_MS - 100); // not before the lease lapsed
    expect(pickupMs).toBeLessThan(3 * LEASE_MS);
    expect((await inner.conversationMessages("c1"))[0]?.status).toBe("sent");
  });

  it("abandons an attempt whose lease another instance took, and records nothing", async () => {
    const inner = createMemoryStore();
    const a = heldCalls();
    const first = instance(inner, "a", a.deliver);
    await first.conversations.acceptClientMessage({ conversationId: "c1", text: "hello", contact: "contact" });
    await first.start({ releaseLeases: false });
    await until(() => a.calls.length === 1);
    // Another instance took the job over (its lease lapsed in a long pause, say).
    const [job] = await inner.pendingJobs();
    await inner.releaseLeases("a");
    const [claimed] = await inner.claimDueJobs({ now: Date.now(), limit: 1, owner: "b", leaseMs: 60_000 });
    expect(claimed?.id).toBe(job?.id);
    // The first instance's next renewal fails: its attempt is aborted, and the job stays b's.
    await sleep(LEASE_MS);
    const [after] = await inner.pendingJobs();
    expect(after).toMatchObject({ id: job?.id, leaseOwner: "b", attempts: 0 });
    expect((await inner.conversationMessages("c1"))[0]).toMatchObject({ status: "accepted", attempts: 0 });
  });
});

describe("graceful stop", () => {
  it("lets an attempt in flight finish, then stops", async () => {
    const store = createMemoryStore();
    const a = heldCalls();
    const bridge = instance(store, "a", a.deliver);
    await bridge.conversations.acceptClientMessage({ conversationId: "c1", text: "hello", contact: "contact" });
    await bridge.start();
    await until(() => a.calls.length === 1);
    setTimeout(() => a.calls[0]!.release(), 300);
    const started = Date.now();
    await bridge.stop({ graceMs: 5_000 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(bridge.stopping).toBe(true);
    expect(await store.pendingJobs()).toEqual([]);
    expect((await store.conversationMessages("c1"))[0]?.status).toBe("sent");
  });

  it("aborts what is still running after the grace period: it stays pending, due at once, and is delivered at the next start", async () => {
    const store = createMemoryStore();
    const a = heldCalls();
    const bridge = instance(store, "a", a.deliver);
    await bridge.conversations.acceptClientMessage({ conversationId: "c1", text: "hello", contact: "contact" });
    await bridge.start();
    await until(() => a.calls.length === 1);
    const started = Date.now();
    await bridge.stop({ graceMs: 200 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    const [job] = await store.pendingJobs();
    expect(job).toMatchObject({ attempts: 0 });
    expect(job?.leaseOwner).toBeUndefined();
    expect(job!.nextAttemptAt).toBeLessThanOrEqual(Date.now());
    expect((await store.conversationMessages("c1"))[0]?.status).toBe("accepted");

    await bridge.start();
    expect(bridge.stopping).toBe(false);
    await until(() => a.calls.length === 2);
    a.calls[1]!.release();
    await until(async () => (await store.pendingJobs()).length === 0);
  });
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(5);
  }
}
