/**
 * The fast loopback upstream of the benchmark: a minimal node:http server answering like the
 * OpenCHS helpline core API (`POST /helpline/api/` login with HTTP Basic → `{"ss":[["<session>"]]}`,
 * `POST /helpline/api/msg/` with the session → 201) and like RapidPro (`/api/v2/…` → 201), so that
 * the cost of delivery measured is the bridge's, not a simulator's. It counts logins and messages
 * and records when each `message_id` arrived, for the delivery lag. Run by `bench/run.ts` (forked,
 * commands over IPC).
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { nowMs, serveIpc } from "./lib";

const SESSION = "bench-session-0001";

let loginDelayMs = 0;
let logins = 0;
let messages = 0;
let rejected = 0;
let chatbotCalls = 0;
let firstAt: number | undefined;
let lastAt: number | undefined;
const ids: string[] = [];
const times: number[] = [];

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const server = createServer(async (req, res) => {
  const body = await readText(req);
  const path = req.url ?? "/";
  const json = (status: number, value: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };
  if (req.method === "POST" && path === "/helpline/api/") {
    if (!req.headers.authorization?.startsWith("Basic ")) {
      json(412, { errors: [["error", "login required", "0", "", "", "", ""]] });
      return;
    }
    logins++;
    if (loginDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, loginDelayMs));
    json(200, { ss: [[SESSION, "1", "bench", "99", "1"]] });
    return;
  }
  if (req.method === "POST" && path === "/helpline/api/msg/") {
    if (req.headers.authorization !== `Bearer ${SESSION}`) {
      rejected++;
      json(401, { errors: [["error", "not logged in", "0", "", "", "", ""]] });
      return;
    }
    const at = nowMs();
    const message = JSON.parse(body) as { message_id: string };
    messages++;
    firstAt ??= at;
    lastAt = at;
    ids.push(message.message_id);
    times.push(at);
    json(201, { messages: [[String(messages)]] });
    return;
  }
  if (req.method === "POST" && path.startsWith("/api/v2/")) {
    chatbotCalls++;
    json(201, {});
    return;
  }
  json(404, { errors: [["error", "not found", "0", "", "", "", ""]] });
});
server.keepAliveTimeout = 60_000;

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ type: "ready", url: `http://127.0.0.1:${port}/` });
});

serveIpc((command) => {
  switch (command.cmd) {
    case "reset":
      logins = messages = rejected = chatbotCalls = 0;
      firstAt = lastAt = undefined;
      ids.length = 0;
      times.length = 0;
      loginDelayMs = Number(command.loginDelayMs ?? 0);
      return true;
    case "stats": {
      const prefix = typeof command.prefix === "string" ? command.prefix : undefined;
      const receipts: [string, number][] = [];
      if (prefix !== undefined) {
        for (let i = 0; i < ids.length; i++) if (ids[i]!.startsWith(prefix)) receipts.push([ids[i]!, times[i]!]);
      }
      return { logins, messages, rejected, chatbotCalls, firstAt, lastAt, receipts };
    }
    default:
      throw new Error(`unknown command ${String(command.cmd)}`);
  }
});
