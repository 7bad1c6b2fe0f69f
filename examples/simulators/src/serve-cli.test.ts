import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_HELPLINE_USER, startHelplineSimulator } from "./helpline-simulator";
import { startRapidProSimulator } from "./rapidpro-simulator";

/**
 * `openchs-bridge serve` as a separate process, configured from its environment, against the
 * simulators started separately: what docs/getting-started.md tells a person to do by hand.
 */
const ROOT = new URL("../../../", import.meta.url).pathname;
const BIN = ["--conditions=@openchs-bridge/source", "--import", "tsx", "packages/cli/src/bin.ts"];
const CHATBOT = { username: "chatbot", password: "SENTINEL-PW-chatbot" };
const HELPLINE = { username: "helpline", password: "SENTINEL-PW-helpline" };

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [...BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  child.stdout.on("data", (d: Buffer) => {
    output.stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    output.stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output, exited };
}

async function waitForLine(output: { stdout: string }, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const start = Date.now();
  for (;;) {
    const line = output.stdout.split("\n").find((l) => pattern.test(l));
    if (line) return line;
    if (Date.now() - start > timeoutMs) throw new Error(`no line matching ${pattern} in:\n${output.stdout}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("openchs-bridge serve against the simulators", () => {
  it("serves a whole conversation, logs one line per request without secrets or text, and stops cleanly on SIGTERM", async () => {
    const helpline = await startHelplineSimulator({ offerDelayMs: 10, readDelayMs: 0, includeText: true });
    cleanup.push(() => helpline.close());
    const rapidpro = await startRapidProSimulator({ flavour: "v7", includeText: true });
    cleanup.push(() => rapidpro.close());
    const dir = mkdtempSync(join(tmpdir(), "serve-cli-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();

    const gateway = run(["serve"], {
      PORT: String(port),
      BRIDGE_STORE: `sqlite:${join(dir, "bridge.db")}`,
      BRIDGE_CONSUMERS: JSON.stringify([
        { ...CHATBOT, sources: ["WENI"] },
        { ...HELPLINE, sources: ["OUTBOX", "HELPLINE"] },
      ]),
      HELPLINE_URL: helpline.url,
      HELPLINE_USERNAME: DEFAULT_HELPLINE_USER.username,
      HELPLINE_PASSWORD: DEFAULT_HELPLINE_USER.password,
      RAPIDPRO_URL: rapidpro.url,
      RAPIDPRO_TOKEN: rapidpro.token,
      RAPIDPRO_CLOSE_FLOW: rapidpro.closeFlow,
    });
    cleanup.push(() => {
      if (gateway.child.exitCode === null) gateway.child.kill("SIGKILL");
    });
    const listening = JSON.parse(await waitForLine(gateway.output, /"event":"listening"/)) as { url: string };
    expect(listening.url).toBe(`http://127.0.0.1:${port}/api/`);
    helpline.connectBridge({ url: listening.url, ...HELPLINE });
    rapidpro.connectBridge({ url: listening.url, ...CHATBOT });

    const { session, contact } = await rapidpro.escalate({ text: "SENTINEL-TEXT-help me" });
    await helpline.waitFor("counselor.read", (e) => e.sessionId === session, 15_000);
    const delivered = rapidpro.waitFor("broadcast.received", undefined, 15_000);
    await helpline.counselors.reply(session, "SENTINEL-TEXT-I am here");
    await delivered;
    expect(rapidpro.state.texts(contact)).toEqual(["Counselor Amina: SENTINEL-TEXT-I am here"]);
    const handedBack = rapidpro.waitFor("flow_start.received", undefined, 15_000);
    await helpline.counselors.close(session, "resolved");
    await handedBack;

    gateway.child.kill("SIGTERM");
    expect(await gateway.exited).toBe(0);
    const lines = gateway.output.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter((l) => "status" in l && "path" in l);
    expect(requests.length).toBeGreaterThanOrEqual(6);
    // The client address is personal data: request lines carry it only when text logging is on.
    for (const r of requests) {
      expect(Object.keys(r).sort()).toEqual(["level", "method", "ms", "msg", "path", "status", "time"]);
    }
    // Leveled (BRIDGE_LOG_LEVEL, default info): every line has a level name.
    expect(new Set(lines.map((l) => l.level))).toContain("info");
    expect(lines.every((l) => ["info", "warn", "error"].includes(l.level as string))).toBe(true);
    expect(requests.map((r) => r.path)).toContain(`/api/chat/${session}/close/`);
    expect(lines.at(-1)).toMatchObject({ event: "stopped" });
    const everything = gateway.output.stdout + gateway.output.stderr;
    expect(everything).not.toMatch(/SENTINEL/);
    expect(everything).not.toContain(DEFAULT_HELPLINE_USER.password);
    expect(everything).not.toContain(rapidpro.token);
  }, 60_000);

  it("refuses to start without a variable it needs, naming it, with no stack trace", async () => {
    const missing = run(["serve"], { BRIDGE_STORE: "memory" });
    expect(await missing.exited).toBe(1);
    expect(missing.output.stderr).toMatch(/^openchs-bridge: BRIDGE_CONSUMERS is required/);
    expect(missing.output.stderr).not.toMatch(/\bat .*\(.*:\d+:\d+\)/);
    const help = run(["serve", "--help"], {});
    expect(await help.exited).toBe(0);
    expect(help.output.stdout).toContain("RAPIDPRO_CLOSE_FLOW");
  }, 30_000);
});
