import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ChatbotTarget, createBridge, type HelplineTarget } from "@openchs-bridge/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deadLettersCommand, deadLetterTable } from "./dead-letters-command";
import { replayCommand } from "./replay-command";
import { openStore } from "./store";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const TEXT = "words only the counselor may read";
const CONTACT = "6b0f4e3c-1c1a-4a5e-9f7e-0a1b2c3d4e5f";

/** The environment `serve` would have, on a sqlite file. */
function environment(store: string): Record<string, string> {
  return {
    BRIDGE_STORE: store,
    BRIDGE_CONSUMERS: JSON.stringify([{ username: "weni", password: "weni-password", sources: ["WENI"] }]),
    HELPLINE_URL: "http://127.0.0.1:9/helpline/api/",
    HELPLINE_USERNAME: "bridge",
    HELPLINE_PASSWORD: "x",
    RAPIDPRO_URL: "http://127.0.0.1:9/api/v2/",
    RAPIDPRO_TOKEN: "x",
    RAPIDPRO_CLOSE_FLOW: "x",
  };
}

/** Runs a command in-process, collecting what it writes. */
async function run(command: typeof deadLettersCommand, args: string[], env: Record<string, string>) {
  let stdout = "";
  let stderr = "";
  const code = await command(args, {
    env,
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}

let dir: string;
let spec: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bridge-dead-letters-"));
  spec = `sqlite:${join(dir, "bridge.db")}`;
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Writes, through a bridge on the sqlite file, one accepted client message per conversation, and
 * dead-letters their jobs as the delivery worker does when retries run out (a second apart).
 * Returns the job ids, oldest first.
 */
async function seed(conversations: string[]): Promise<number[]> {
  const { store } = openStore(spec);
  const noop = async () => {};
  const target: HelplineTarget & ChatbotTarget = { deliverMessage: noop, notifyClose: noop };
  const bridge = createBridge({
    store,
    helplines: target,
    chatbot: target,
    consumers: [{ username: "weni", password: "weni-password", sources: ["WENI"] }],
  });
  const ids: number[] = [];
  try {
    for (const [i, id] of conversations.entries()) {
      await bridge.conversations.acceptClientMessage({
        conversationId: id,
        messageId: `m-${id}`,
        text: TEXT,
        contact: CONTACT,
      });
      const [job] = await store.pendingJobs(id);
      await store.transaction(async (tx) => {
        await tx.deadLetterJob(job!.id, {
          attempts: 7,
          deadAt: Date.parse("2026-01-01T00:00:00Z") + i * 1000,
          lastError: { code: "unavailable", status: 503 },
        });
        const message = await tx.getMessage(job!.messageUuid!);
        await tx.updateMessage({ ...message!, status: "failed" });
      });
      ids.push(job!.id);
    }
  } finally {
    await store.close();
  }
  return ids;
}

describe("openchs-bridge dead-letters", () => {
  it("lists dead letters newest first as a table, and as JSON lines shaped like the admin API", async () => {
    const [first, second] = await seed(["conv-a", "conv-b"]);
    const table = await run(deadLettersCommand, [], environment(spec));
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+CONVERSATION\s+KIND\s+TARGET\s+ATTEMPTS\s+LAST ERROR\s+FAILED AT$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/))).toEqual([
      [String(second), "conv-b", "message", "helpline", "7", "unavailable (503)", "2026-01-01T00:00:01.000Z"],
      [String(first), "conv-a", "message", "helpline", "7", "unavailable (503)", "2026-01-01T00:00:00.000Z"],
    ]);

    const json = await run(deadLettersCommand, ["--json", "--conversation", "conv-a"], environment(spec));
    expect(json.code).toBe(0);
    expect(
      json.stdout
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([
      {
        id: first,
        conversation_id: "conv-a",
        message_id: "m-conv-a",
        kind: "message",
        target: "helpline",
        attempts: 7,
        last_error: { code: "unavailable", status: 503 },
        failed_at: "2026-01-01T00:00:00.000Z",
      },
    ]);
    for (const out of [table.stdout, json.stdout]) {
      expect(out).not.toContain(TEXT);
      expect(out).not.toContain(CONTACT);
    }
  });

  it("says so when there is none, and prints nothing with --json", async () => {
    expect((await run(deadLettersCommand, [], environment(spec))).stdout).toBe("No dead letters.\n");
    expect((await run(deadLettersCommand, ["--json"], environment(spec))).stdout).toBe("");
  });

  it("exit 2 for a usage error", async () => {
    for (const args of [["--conversation"], ["--conversation", "has space"], ["--yaml"]]) {
      const result = await run(deadLettersCommand, args, environment(spec));
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toContain("Usage: openchs-bridge dead-letters");
    }
  });

  it("pads columns to the widest cell", () => {
    const table = deadLetterTable([
      {
        id: 12345,
        conversationId: "a-long-conversation-id",
        messageId: undefined,
        kind: "close",
        target: "chatbot",
        attempts: 3,
        lastError: { code: "network" },
        failedAt: "2026-01-01T00:00:00.000Z",
      },
    ]);
    const [header, row] = table.split("\n");
    expect(header!.indexOf("KIND")).toBe(row!.indexOf("close"));
    expect(row).toContain("  network  ");
  });
});

describe("openchs-bridge replay", () => {
  it("queues one dead letter: pending again, its message accepted again", async () => {
    const [id, other] = await seed(["conv-a", "conv-b"]);
    const result = await run(replayCommand, [String(id)], environment(spec));
    expect(result).toEqual({ code: 0, stdout: `Dead letter ${id} queued: serve delivers it.\n`, stderr: "" });
    const { store } = openStore(spec);
    try {
      expect((await store.pendingJobs("conv-a")).map((j) => j.id)).toEqual([id]);
      const [message] = await store.conversationMessages("conv-a");
      expect(message?.status).toBe("accepted");
      expect(message?.replayedAt).toBeDefined();
      expect((await store.listDeadLetters({ limit: 10 })).jobs.map((j) => j.id)).toEqual([other]);
    } finally {
      await store.close();
    }
  });

  it("exit 1 with one line for an unknown id, and for a job replayed already", async () => {
    const [id] = await seed(["conv-a"]);
    const unknown = await run(replayCommand, ["424242"], environment(spec));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("openchs-bridge: no dead letter 424242 (see openchs-bridge dead-letters)\n");
    expect((await run(replayCommand, [String(id)], environment(spec))).code).toBe(0);
    const again = await run(replayCommand, [String(id)], environment(spec));
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`openchs-bridge: job ${id} is not dead: it is queued already\n`);
  });

  it("--all replays every dead letter, or those of one conversation", async () => {
    await seed(["conv-a", "conv-b", "conv-c"]);
    const one = await run(replayCommand, ["--all", "--conversation", "conv-b"], environment(spec));
    expect(one.stdout).toBe("Replayed 1 dead letter: serve delivers them.\n");
    const rest = await run(replayCommand, ["--all"], environment(spec));
    expect(rest.stdout).toBe("Replayed 2 dead letters: serve delivers them.\n");
    const { store } = openStore(spec);
    try {
      expect((await store.outboxStats(Date.now())).deadLetters).toBe(0);
    } finally {
      await store.close();
    }
  });

  it("exit 2 for a usage error", async () => {
    for (const args of [[], ["1", "2"], ["abc"], ["0"], ["--all", "3"], ["5", "--conversation", "c"], ["--force"]]) {
      const result = await run(replayCommand, args, environment(spec));
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toContain("Usage: openchs-bridge replay");
    }
  });
});

describe("the commands, as the binary runs them", () => {
  /** `openchs-bridge …` from source, in its own process. */
  function runCli(args: string[], env: Record<string, string>) {
    return spawnSync(
      process.execPath,
      ["--conditions=@openchs-bridge/source", "--import", "tsx", "packages/cli/src/bin.ts", ...args],
      { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env } },
    );
  }

  it("refuses BRIDGE_STORE=memory with a clear error: nothing another process could reach", () => {
    const result = runCli(["dead-letters"], environment("memory"));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("BRIDGE_STORE=memory lives inside the serve process");
    expect(result.stderr).toContain("/api/admin/dead-letters");
  });

  it("sets the exit code: 1 for an unknown id, 0 for a listing", async () => {
    await seed(["conv-a"]);
    const unknown = runCli(["replay", "999"], environment(spec));
    expect(unknown.status).toBe(1);
    expect(unknown.stderr.trim().split("\n")).toEqual([
      "openchs-bridge: no dead letter 999 (see openchs-bridge dead-letters)",
    ]);
    const listed = runCli(["dead-letters", "--json"], environment(spec));
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout.trim())).toMatchObject({ conversation_id: "conv-a", kind: "message" });
  }, 60_000);
});
