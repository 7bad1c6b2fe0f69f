import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { bridgeHarness, CHATBOT_USER, clientMessage, upstreamFailure } from "../test-support/bridge-harness";
import { createSqliteStore } from "./store/sqlite/sqlite-store";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dbFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "bridge-restart-"));
  dirs.push(dir);
  return join(dir, "bridge.db");
}

describe("restart recovery on the sqlite store", () => {
  it("resumes deliveries a crashed process left in flight or scheduled, in order, each delivered once", async () => {
    const file = dbFile();
    // First process: accepts three messages; the helpline hangs on the first delivery, then "crashes".
    const first = bridgeHarness({ store: createSqliteStore(file) });
    const token = await first.login(CHATBOT_USER);
    for (const id of ["1", "2", "3"]) {
      const res = await first.call("POST", "chat/", { token, body: clientMessage("s1", `m${id}`, { message_id: id }) });
      expect(res.status).toBe(201);
    }
    let hung = false;
    first.helpline.target.deliverMessage = () => {
      hung = true;
      return new Promise(() => {}); // never answers: the process dies mid-delivery
    };
    await first.bridge.start();
    await vi_waitFor(() => hung);
    // The crash: the process is gone without stop(); its lease on job 1 is still in the database.
    expect((await first.store.pendingJobs("s1"))[0]?.leaseOwner).toBeDefined();
    await first.store.close(); // nothing of the dead process touches the database any more

    // Second process on the same file.
    const second = bridgeHarness({ store: createSqliteStore(file) });
    second.clock.set(first.clock.now());
    await second.bridge.start(); // releases the dead process's leases; the loop resumes by itself
    await vi_waitFor(() => second.helpline.messages.length === 3);
    await second.bridge.stop();
    expect(second.helpline.messages.map((m) => m.messageId)).toEqual(["1", "2", "3"]);
    const conv = await second.bridge.conversations.get("s1");
    expect(conv?.state).toBe("hunting");
    expect(conv?.messages.map((m) => m.status)).toEqual(["sent", "sent", "sent"]);
    // A duplicate sent after the restart is still recognised.
    const dupToken = await second.login(CHATBOT_USER);
    const dup = await second.call("POST", "chat/", {
      token: dupToken,
      body: clientMessage("s1", "m1", { message_id: "1" }),
    });
    expect(dup.status).toBe(200);
    await second.bridge.runDue();
    expect(second.helpline.messages).toHaveLength(3);
    await second.store.close();
  });

  it("keeps a durable retry schedule and hunting deadlines across a restart", async () => {
    const file = dbFile();
    const first = bridgeHarness({ store: createSqliteStore(file) });
    const token = await first.login(CHATBOT_USER);
    await first.call("POST", "chat/", { token, body: clientMessage("a", "x", { message_id: "1" }) });
    await first.call("POST", "chat/", { token, body: clientMessage("b", "y", { message_id: "1" }) });
    // Conversation a: delivered, hunting with a stored deadline. Conversation b: failing, rescheduled.
    first.helpline.target.deliverMessage = async (m) => {
      if (m.conversationId === "b") throw upstreamFailure(503, 20_000);
      first.helpline.messages.push(m);
    };
    await first.bridge.runDue();
    expect((await first.store.getConversation("a"))?.state).toBe("hunting");
    const [jobB] = await first.store.pendingJobs("b");
    expect(jobB).toMatchObject({ attempts: 1, nextAttemptAt: first.clock.now() + 20_000 });
    await first.store.close();

    const second = bridgeHarness({ store: createSqliteStore(file) });
    second.clock.set(first.clock.now() + 19_000);
    await second.bridge.runDue();
    expect(second.helpline.messages).toEqual([]); // b not yet due, a's hunt not yet timed out
    second.clock.advance(60_000);
    await second.bridge.runDue();
    expect(second.helpline.messages.map((m) => [m.conversationId, m.renotify?.round])).toEqual(
      expect.arrayContaining([
        ["a", 1],
        ["b", undefined],
      ]),
    );
    await second.store.close();
  });
});

async function vi_waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
