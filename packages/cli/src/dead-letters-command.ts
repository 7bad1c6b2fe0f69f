import { type DeadLetter, deadLetterView } from "@openchs-bridge/core";
import { type CommandIo, withOperatorBridge } from "./operator-bridge";

const SESSION = /^[A-Za-z0-9_-]{1,100}$/;

/**
 * `openchs-bridge dead-letters [--conversation ID] [--json]`: every dead letter, newest first. A
 * table by default; with `--json`, one JSON object per line (JSON Lines), each exactly as
 * `GET {base}admin/dead-letters` shows it, so `jq` and log tools read it a line at a time. No message
 * text, tokens or contact addresses. Returns the exit code.
 */
export async function deadLettersCommand(args: string[], io: CommandIo): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === "string") {
    io.stderr(`openchs-bridge: ${parsed}\nUsage: openchs-bridge dead-letters [--conversation ID] [--json]\n`);
    return 2;
  }
  const all = await withOperatorBridge(io.env, "dead-letters", async (bridge) => {
    const found: DeadLetter[] = [];
    let cursor: number | undefined;
    do {
      const page = await bridge.deadLetters.list({ conversationId: parsed.conversation, limit: 500, cursor });
      found.push(...page.deadLetters);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return found;
  });
  if (parsed.json) {
    for (const d of all) io.stdout(`${JSON.stringify(deadLetterView(d))}\n`);
  } else {
    io.stdout(`${deadLetterTable(all)}\n`);
  }
  return 0;
}

function parseArgs(args: string[]): { conversation?: string; json: boolean } | string {
  const out: { conversation?: string; json: boolean } = { json: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--json") out.json = true;
    else if (arg === "--conversation") {
      const value = args[++i];
      if (value === undefined || !SESSION.test(value)) return "--conversation takes a conversation id (chat_session)";
      out.conversation = value;
    } else return `dead-letters does not take ${JSON.stringify(arg)}`;
  }
  return out;
}

const COLUMNS = ["ID", "CONVERSATION", "KIND", "TARGET", "ATTEMPTS", "LAST ERROR", "FAILED AT"] as const;

/** The readable listing: one padded row per dead letter, or a sentence when there is none. */
export function deadLetterTable(deadLetters: DeadLetter[]): string {
  if (deadLetters.length === 0) return "No dead letters.";
  const rows = deadLetters.map((d) => [
    String(d.id),
    d.conversationId,
    d.kind,
    d.target,
    String(d.attempts),
    d.lastError.status === undefined ? d.lastError.code : `${d.lastError.code} (${d.lastError.status})`,
    d.failedAt,
  ]);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const format = (row: readonly string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [format(COLUMNS), ...rows.map(format)].join("\n");
}
