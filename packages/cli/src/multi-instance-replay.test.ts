/**
 * A dead letter replayed on one gateway instance and delivered by another, on one PostgreSQL
 * database (needs `DATABASE_URL`; the test makes and drops its own schema). Instance A cannot reach
 * the helpline at all (its `HELPLINE_URL` is a closed port), instance B can: a replay made through
 * A's admin API can only reach the helpline through B, and must reach it exactly once.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const FROM_SOURCE = ["--conditions=@openchs-bridge/source", "--import", "tsx"];
const DATABASE_URL = process.env.DATABASE_URL || undefined;
const REQUIRED = process.env.BRIDGE_TEST_REQUIRE_POSTGRES === "1";
const OPERATOR = { username: "operator", password: "operator-password-1" };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A child process whose output is kept, and which can be awaited for a line. */
class Child {
  output = "";
  readonly exited: Promise<void>;
  private readonly child: ChildProcess;

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (d: string) => {
      this.output = (this.output + d).slice(-200_000);
    };
    this.child.stdout?.setEncoding("utf8").on("data", keep);
    this.child.stderr?.setEncoding("utf8").on("data", keep);
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.output);
      if (match) return match;
      if (!this.running) throw new Error(`the process exited:\n${this.output.slice(-3000)}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${pattern}:\n${this.output.slice(-3000)}`);
      await sleep(25);
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe("a dead letter replayed on one instance, delivered by another (PostgreSQL)", () => {
  if (!DATABASE_URL) {
    if (REQUIRED) {
      it("needs a PostgreSQL database", () => {
        throw new Error("BRIDGE_TEST_REQUIRE_POSTGRES=1 but DATABASE_URL is not set");
      });
    } else {
      it.skip("replays through instance A's admin API; instance B delivers once (needs DATABASE_URL)");
    }
    return;
  }

  it("replays through instance A's admin API; instance B delivers it, once", async () => {
    const schema = `dl_${randomBytes(6).toString("hex")}`;
    const storeUrl = new URL(DATABASE_URL);
    storeUrl.searchParams.set("schema", schema);
    const db = new pg.Client({ connectionString: DATABASE_URL });
    await db.connect();
    const children: Child[] = [];
    try {
      const sandbox = new Child(
        [
          ...FROM_SOURCE,
          "examples/simulators/src/main.ts",
          "--helpline-port",
          "0",
          "--rapidpro-port",
          "0",
          "--bridge-url",
          "http://127.0.0.1:9/api/",
          "--quiet",
        ],
        {},
      );
      children.push(sandbox);
      await sandbox.waitFor(/Then, for instance/);
      const helpline = new URL((await sandbox.waitFor(/OpenCHS helpline simulator\s+(\S+)/))[1] ?? "").origin;
      const env: Record<string, string> = {};
      for (const [, name, value] of sandbox.output.matchAll(/^export (\w+)=(.*)$/gm)) {
        env[name!] = /^'.*'$/.test(value!) ? value!.slice(1, -1).replaceAll(`'"'"'`, "'") : value!;
      }
      const consumers = JSON.parse(env.BRIDGE_CONSUMERS ?? "[]") as Array<{
        username: string;
        password: string;
        sources: string[];
      }>;
      const chatbot = consumers.find((c) => c.sources.includes("WENI"))!;
      const sim = (path: string, body?: unknown) =>
        fetch(`${helpline}/__sim/${path}`, {
          method: body === undefined ? "GET" : "POST",
          ...(body === undefined
            ? {}
            : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
        }).then((r) => r.json() as Promise<Record<string, unknown>>);

      const common = {
        ...env,
        HOST: "127.0.0.1",
        PORT: "0",
        BRIDGE_STORE: storeUrl.toString(),
        BRIDGE_CONSUMERS: JSON.stringify([...consumers, { ...OPERATOR, sources: [], admin: true }]),
        BRIDGE_RETRY_SCHEDULE_S: "1",
        HUNT_TIMEOUT_S: "3600",
      };
      // A never reaches the helpline (a closed port) and gives up only after a minute; B gives up
      // after 3 s of failures: the first dead letter is B's, and after the replay only B can deliver.
      const a = new Child([...FROM_SOURCE, "packages/cli/src/bin.ts", "serve"], {
        ...common,
        HELPLINE_URL: "http://127.0.0.1:9/helpline/api/",
        BRIDGE_RETRY_HORIZON_S: "60",
      });
      children.push(a);
      const urlA = (await a.waitFor(/"event":"listening","url":"([^"]+)"/))[1]!;
      const b = new Child([...FROM_SOURCE, "packages/cli/src/bin.ts", "serve"], {
        ...common,
        BRIDGE_RETRY_HORIZON_S: "3",
      });
      children.push(b);
      await b.waitFor(/"event":"listening","url":"([^"]+)"/);

      const login = async (url: string, user: { username: string; password: string }) => {
        const r = await fetch(`${url}token/`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: user.username, password: user.password }),
        });
        return ((await r.json()) as { token: string }).token;
      };
      const chatbotToken = await login(urlA, chatbot);
      const adminToken = await login(urlA, OPERATOR);
      const asAdmin = (method: string, path: string) =>
        fetch(`${urlA}${path}`, { method, headers: { authorization: `Token ${adminToken}` } });

      // The helpline is down for B; A cannot reach it at all. The child's message is accepted.
      await sim("faults", { mode: "5xx", status: 503, paths: ["msg/"] });
      const session = `dl_${randomBytes(4).toString("hex")}`;
      const messageId = `${session}-m1`;
      const posted = await fetch(`${urlA}chat/`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Token ${chatbotToken}` },
        body: JSON.stringify({
          chat_session: session,
          chat_message: "help me please",
          chat_sender: randomUUID(),
          chat_source: "WENI",
          message_id: messageId,
        }),
      });
      expect(posted.status).toBe(201);

      const dead = await until("the dead letter", async () => {
        const list = (await (await asAdmin("GET", "admin/dead-letters")).json()) as {
          results: Array<{ id: number; message_id: string }>;
        };
        return list.results.find((d) => d.message_id === messageId);
      });
      await sim("faults", { mode: "none" });
      const stored = async () => {
        const state = (await sim("state")) as {
          chats: Array<{ sessionId: string; messages: Array<{ messageId: string; kind: string; received: number }> }>;
        };
        return state.chats.find((c) => c.sessionId === session)?.messages.filter((m) => m.kind === "message") ?? [];
      };
      await sleep(1500);
      expect(await stored()).toEqual([]);

      const replay = await asAdmin("POST", `admin/dead-letters/${dead.id}/replay`);
      expect(replay.status).toBe(202);
      expect(await replay.json()).toEqual({ id: dead.id, status: "queued" });
      // Replayed once: the same replay again, on either instance, is refused.
      // (409 while it waits, 404 once delivered and gone.)
      expect([404, 409]).toContain((await asAdmin("POST", `admin/dead-letters/${dead.id}/replay`)).status);

      await until("delivered by B", async () => (await stored()).length === 1, 60_000);
      await sleep(2000);
      const messages = await stored();
      expect(messages.map((m) => [m.messageId, m.received])).toEqual([[messageId, 1]]);
      const ready = (await (await fetch(`${urlA}ready`)).json()) as { status: string; dead_letters: number };
      expect(ready).toMatchObject({ status: "ready", dead_letters: 0 });
    } finally {
      for (const child of children.reverse()) await child.stop();
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await db.end();
    }
  }, 180_000);
});
