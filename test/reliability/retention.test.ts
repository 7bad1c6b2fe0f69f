import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { clientMessage } from "./support/bridge-client";
import { eventually, ROOT, sleep } from "./support/gateway-process";
import { type System, startSystem } from "./support/system";
import { newConversation, sendClient } from "./support/workload";

/**
 * Privacy: conversation data purged by age (BRIDGE_RETENTION_DAYS) and by conversation (erasure on
 * request, `openchs-bridge erase`), against the real gateway process and its sqlite file.
 */
let system: System | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

/** Runs `openchs-bridge erase …` as its own process, with the gateway's environment. */
async function eraseCommand(env: Record<string, string>, ids: string[]) {
  const child = spawn(
    process.execPath,
    ["--conditions=@openchs-bridge/source", "--import", "tsx", "packages/cli/src/bin.ts", "erase", ...ids],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdio: "pipe" },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return {
    code,
    stdout,
    stderr,
    lines: stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l)),
  };
}

/** Every byte of the database: the file and its write-ahead log. */
function databaseBytes(dbFile: string): string {
  return [dbFile, `${dbFile}-wal`]
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f).toString("latin1"))
    .join("");
}

describe("retention: BRIDGE_RETENTION_DAYS", () => {
  it("deletes conversations closed longer ago than the period, keeps open ones, and survives a restart", async () => {
    // 3 s of retention (the retry schedule, 1 s, is shorter, as required); swept every second.
    system = await startSystem({ env: { BRIDGE_RETENTION_DAYS: String(3 / 86_400), BRIDGE_RETRY_SCHEDULE_S: "1" } });
    const s = system;
    const closed = newConversation("ret_closed", 0);
    const open = newConversation("ret_open", 0);
    await sendClient(s, closed.session, closed.contact, 1);
    await sendClient(s, open.session, open.contact, 1);
    await eventually(
      "both delivered",
      () =>
        s.helpline.state.messages(open.session).length === 1 && s.helpline.state.messages(closed.session).length === 1,
    );
    const close = await s.chatbot.call("POST", `chat/${closed.session}/close/`, {
      chat_source: "WENI",
      reason: "done",
    });
    expect(close.status).toBe(200);
    // Kept while younger than the period…
    await sleep(1500);
    expect((await s.chatbot.call("GET", `chat/${closed.session}/`)).status).toBe(200);
    // …then purged, with its messages; the open one stays, across a restart too.
    const purgedAfter = Date.now();
    await eventually(
      "the closed conversation purged",
      async () => (await s.chatbot.call("GET", `chat/${closed.session}/`)).status === 404,
      10_000,
      200,
    );
    expect(s.gateway.events("retention.purged").length).toBeGreaterThan(0);
    const list = await s.chatbot.call("GET", `chat/?session=${closed.session}`);
    expect(list.body.results).toEqual([]);
    expect((await s.chatbot.call("GET", `chat/${open.session}/`)).status).toBe(200);
    await s.gateway.kill();
    await s.gateway.start();
    expect((await s.chatbot.call("GET", `chat/${open.session}/`)).body.state).toMatch(/hunting|connected/);
    expect((await s.chatbot.call("GET", `chat/${closed.session}/`)).status).toBe(404);
    // The purged conversation's messages are gone from the file too.
    expect(Date.now() - purgedAfter).toBeLessThan(30_000);
  });
});

describe("erasure: openchs-bridge erase", () => {
  it("deletes a conversation, its messages and pending deliveries on request, leaving no trace of its text in the database", async () => {
    system = await startSystem({ env: { BRIDGE_RETRY_SCHEDULE_S: "1,1,1,1,1,1,1,1,1,1" } });
    const s = system;
    const erased = newConversation("erase_me", 0);
    const kept = newConversation("keep_me", 0);
    const secret = `ERASE-TEXT-${erased.session}`;
    const first = await s.chatbot.call(
      "POST",
      "chat/",
      clientMessage(erased.session, erased.contact, "e1", `${secret} one`),
    );
    expect(first.status).toBe(201);
    await sendClient(s, kept.session, kept.contact, 1);
    await eventually("delivered", () => s.helpline.state.messages(erased.session).length === 1);
    // A second message stays pending: the helpline refuses everything for now.
    s.helpline.faults.set({ mode: "5xx", status: 503, paths: ["msg/"] });
    const second = await s.chatbot.call(
      "POST",
      "chat/",
      clientMessage(erased.session, erased.contact, "e2", `${secret} two`),
    );
    expect(second.status).toBe(201);
    await sleep(500);

    const result = await eraseCommand(s.env, [erased.session, "no_such_conversation"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([
      { event: "erased", conversation_id: erased.session },
      { event: "not_found", conversation_id: "no_such_conversation" },
    ]);

    // Gone from the API, and the pending delivery is not made once the helpline is back.
    expect((await s.chatbot.call("GET", `chat/${erased.session}/`)).status).toBe(404);
    expect((await s.chatbot.call("GET", `chat/?session=${erased.session}`)).body.results).toEqual([]);
    const all = await s.chatbot.call("GET", "chat/?limit=500");
    expect(all.text).not.toContain(secret);
    s.helpline.faults.clear();
    await sendClient(s, kept.session, kept.contact, 2);
    await eventually("the kept conversation goes on", () => s.helpline.state.messages(kept.session).length === 2);
    await sleep(1500);
    expect(s.helpline.state.messages(erased.session).map((m) => m.messageId)).toEqual(["e1"]);
    // The helpline's later calls about it find nothing.
    const reply = await s.counselor.call("POST", "chat/", {
      chat_session: erased.session,
      chat_message: "hello?",
      chat_source: "OUTBOX",
      message_id: "late-reply",
    });
    expect(reply.status).toBe(404);

    // No trace of the text in the database file or its log once the gateway has stopped.
    expect(await s.gateway.stop()).toBe(0);
    expect(databaseBytes(s.dbFile)).not.toContain(secret);
    expect(databaseBytes(s.dbFile)).toContain(kept.session);
  });

  it("refuses ids that are not conversation ids, and a memory store", async () => {
    system = await startSystem({ start: false });
    const bad = await eraseCommand(system.env, ["../../etc"]);
    expect(bad.code).toBe(2);
    const none = await eraseCommand(system.env, []);
    expect(none.code).toBe(2);
    const memory = await eraseCommand({ ...system.env, BRIDGE_STORE: "memory" }, ["abc"]);
    expect(memory.code).toBe(1);
    expect(memory.stderr).toMatch(/BRIDGE_STORE=memory/);
  });
});
