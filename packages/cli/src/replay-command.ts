import { isBridgeError } from "@openchs-bridge/core";
import { type CommandIo, withOperatorBridge } from "./operator-bridge";

const SESSION = /^[A-Za-z0-9_-]{1,100}$/;
const USAGE = "Usage: openchs-bridge replay <id> | --all [--conversation ID]";

/**
 * `openchs-bridge replay <id>` queues one dead letter again (in its place in its conversation's
 * lane; a `failed` message goes back to `accepted`); `replay --all [--conversation ID]` every one
 * (of that conversation). The running `serve` delivers them. Exit 0 when done; 1 with a one-line
 * message for an unknown id or a job that is not dead; 2 for a usage error.
 */
export async function replayCommand(args: string[], io: CommandIo): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === "string") {
    io.stderr(`openchs-bridge: ${parsed}\n${USAGE}\n`);
    return 2;
  }
  return withOperatorBridge(io.env, "replay", async (bridge) => {
    if (parsed.all) {
      const replayed = await bridge.deadLetters.replayAll({ conversationId: parsed.conversation });
      io.stdout(`Replayed ${replayed} dead letter${replayed === 1 ? "" : "s"}: serve delivers them.\n`);
      return 0;
    }
    try {
      await bridge.deadLetters.replay(parsed.id);
    } catch (error) {
      if (isBridgeError(error, "dead_letter_not_found")) {
        io.stderr(`openchs-bridge: no dead letter ${parsed.id} (see openchs-bridge dead-letters)\n`);
        return 1;
      }
      if (isBridgeError(error, "dead_letter_not_dead")) {
        io.stderr(`openchs-bridge: job ${parsed.id} is not dead: it is queued already\n`);
        return 1;
      }
      throw error;
    }
    io.stdout(`Dead letter ${parsed.id} queued: serve delivers it.\n`);
    return 0;
  });
}

type ReplayArgs = { all: true; conversation?: string } | { all: false; id: number };

function parseArgs(args: string[]): ReplayArgs | string {
  let all = false;
  let conversation: string | undefined;
  const ids: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--all") all = true;
    else if (arg === "--conversation") {
      const value = args[++i];
      if (value === undefined || !SESSION.test(value)) return "--conversation takes a conversation id (chat_session)";
      conversation = value;
    } else if (arg.startsWith("-")) return `replay does not take ${JSON.stringify(arg)}`;
    else ids.push(arg);
  }
  if (all) {
    if (ids.length > 0) return "replay takes either an id or --all, not both";
    return conversation === undefined ? { all } : { all, conversation };
  }
  if (conversation !== undefined) return "--conversation goes with --all";
  if (ids.length !== 1) return "replay takes one dead letter id (or --all)";
  if (!/^[1-9]\d{0,15}$/.test(ids[0]!)) return `${JSON.stringify(ids[0])} is not a dead letter id (a number)`;
  return { all: false, id: Number(ids[0]) };
}
