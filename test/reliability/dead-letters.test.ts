import { execFile } from "node:child_process";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BridgeClient } from "./support/bridge-client";
import { helplineReport } from "./support/checks";
import { eventually, ROOT, sleep } from "./support/gateway-process";
import { type System, startSystem, TEST_CREDENTIALS } from "./support/system";
import { newConversation, sendClient } from "./support/workload";

/**
 * The operator's side of an outage longer than the retry horizon, on the real processes: the
 * gateway (`openchs-bridge serve` on sqlite, retries every second for 3 s), the simulated helpline
 * down for longer than that, and the CLI run as second processes on the same sqlite file.
 *
 * The child's message is dead-lettered, not lost: `openchs-bridge dead-letters --json` and
 * `GET admin/dead-letters` list it, `GET ready` counts it; `openchs-bridge replay <id>` (while serve
 * runs) queues it again, and serve delivers it to the helpline exactly once once it is back. Then
 * SIGTERM: `ready` answers 503 at once, and serve exits 0.
 */

const OPERATOR = { username: "operator", password: "reliability-operator-pass" };

/** `openchs-bridge <args>` from source, in its own process, with serve's environment. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--conditions=@openchs-bridge/source", "--import", "tsx", "packages/cli/src/bin.ts", ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let system: System;
let operator: BridgeClient;

beforeAll(async () => {
  system = await startSystem({
    env: {
      BRIDGE_RETRY_SCHEDULE_S: "1",
      BRIDGE_RETRY_HORIZON_S: "3",
      BRIDGE_CONSUMERS: JSON.stringify([
        { username: "chatbot", password: TEST_CREDENTIALS.chatbotPassword, sources: ["WENI"] },
        { username: "helpline", password: TEST_CREDENTIALS.helplineConsumerPassword, sources: ["OUTBOX", "HELPLINE"] },
        { ...OPERATOR, sources: [], admin: true },
      ]),
    },
  });
  operator = new BridgeClient(() => system.gateway.url, OPERATOR.username, OPERATOR.password);
});
afterAll(async () => {
  await system?.close();
});

describe("a message dead-lettered by an outage, listed and replayed by the operator", () => {
  it("is kept, listed by the CLI and the admin API, replayed while serve runs, and delivered once", async () => {
    const s = system;
    const { session, contact } = newConversation("dead", 1);
    s.helpline.faults.set({ mode: "5xx", status: 503, paths: ["msg/"] });
    const accepted = await sendClient(s, session, contact, 1);

    // Retried every second; after 3 s of failures it is dead-lettered, not dropped.
    await eventually("the dead letter line", () => s.gateway.events("delivery.dead_letter").length > 0, 30_000);
    expect(s.helpline.faults.injected["5xx"]).toBeGreaterThan(1);

    // A second process on the same sqlite file lists it, while serve runs.
    const listed = await cli(["dead-letters", "--json"], s.env);
    expect(listed.code, listed.stderr).toBe(0);
    const rows = listed.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rows).toEqual([
      {
        id: expect.any(Number),
        conversation_id: session,
        message_id: accepted.messageId,
        kind: "message",
        target: "helpline",
        attempts: expect.any(Number),
        last_error: { code: "unavailable", status: 503 },
        failed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
    const id = rows[0].id as number;

    // The admin API shows the same, with no text or address; a non-admin is refused.
    const api = await operator.call("GET", "admin/dead-letters");
    expect(api.status).toBe(200);
    expect(api.body).toEqual({ results: rows, next_cursor: null });
    expect(api.text).not.toContain(accepted.text);
    expect(api.text).not.toContain(contact);
    expect((await s.chatbot.call("GET", "admin/dead-letters")).status).toBe(403);
    const view = await s.counselor.call("GET", `chat/${session}/`);
    expect(view.body.messages[0]).toMatchObject({ message_id: accepted.messageId, status: "failed" });

    const ready = await operator.raw("GET", "ready");
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: "ready", dead_letters: 1 });

    // The helpline comes back: a dead letter stays dead until someone replays it.
    s.helpline.faults.clear();
    await sleep(2500);
    expect(helplineReport(s.helpline, [accepted]).missing).toEqual([accepted.messageId]);

    const replayed = await cli(["replay", String(id)], s.env);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stdout).toContain(`Dead letter ${id} queued`);

    await eventually("delivered after the replay", () => helplineReport(s.helpline, [accepted]).deliveredOnce === 1);
    // Delivered once, and nothing more comes later.
    await sleep(2000);
    const report = helplineReport(s.helpline, [accepted]);
    expect(report).toMatchObject({ deliveredOnce: 1, storedTwice: [], copiesReceived: 1 });
    const after = await s.counselor.call("GET", `chat/${session}/`);
    expect(after.body.messages[0].status).not.toBe("failed");
    expect(after.body.messages[0].replayed_at).toEqual(expect.any(String));
    expect((await operator.call("GET", "admin/dead-letters")).body.results).toEqual([]);
    // Delivered, the job is gone: replaying it again is an unknown id (exit 1, one line).
    const again = await cli(["replay", String(id)], s.env);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`openchs-bridge: no dead letter ${id} (see openchs-bridge dead-letters)`);
    await eventually("ready counts no dead letter", async () => {
      const r = await operator.raw("GET", "ready");
      return r.body.dead_letters === 0 && r.body.status === "ready";
    });
  }, 120_000);

  it("SIGTERM: ready answers 503 at once, the listener closes, and serve exits 0", async () => {
    const s = system;
    const port = s.gateway.port;
    // A request begun before the signal is still answered: it reports what ready says after it.
    const socket = connect({ port, host: "127.0.0.1" });
    let received = "";
    socket.setEncoding("latin1").on("data", (d: string) => {
      received += d;
    });
    const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write("GET /api/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    await sleep(200);

    const exited = s.gateway.stop();
    await eventually("the shutting down line", () => s.gateway.events("shutting down").length > 0, 10_000, 20);
    // No new connection is taken.
    await expect(fetch(`http://127.0.0.1:${port}/api/ready`)).rejects.toThrow();
    socket.write("\r\n");
    await ended;
    expect(received).toMatch(/^HTTP\/1\.1 503 /);
    expect(JSON.parse(received.slice(received.indexOf("\r\n\r\n") + 4))).toMatchObject({ status: "stopping" });

    expect(await exited).toBe(0);
    expect(s.gateway.events("stopped")).toHaveLength(1);
    expect(s.gateway.events("shutdown.failed")).toEqual([]);
  }, 60_000);
});
