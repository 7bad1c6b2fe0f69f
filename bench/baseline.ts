/**
 * The baselines the bridge is measured against: a bare node:http server that parses the same
 * `POST chat/` JSON and either answers 201 at once (`accept`) or first forwards the message to the
 * same upstream `msg/` with `fetch` and answers 201 when the upstream has it (`forward`). No auth,
 * no store, no retries: the least any server doing this job must do. Run by `bench/run.ts` (forked).
 *
 * Usage: baseline.ts accept|forward [upstream url]
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

const [mode = "accept", upstream = ""] = process.argv.slice(2);

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

interface ChatBody {
  chat_session: string;
  chat_message: string;
  chat_sender: string;
  message_id: string;
}

let session = "";
if (mode === "forward") {
  const answer = await fetch(`${upstream}helpline/api/`, {
    method: "POST",
    headers: { authorization: `Basic ${btoa("bench:bench-password")}` },
  });
  session = ((await answer.json()) as { ss: string[][] }).ss[0]![0]!;
}

const server = createServer(async (req, res) => {
  try {
    const body = JSON.parse(await readText(req)) as ChatBody;
    if (mode === "forward") {
      const sent = await fetch(`${upstream}helpline/api/msg/`, {
        method: "POST",
        headers: { authorization: `Bearer ${session}`, "content-type": "application/json" },
        body: JSON.stringify({
          channel: "chat",
          session_id: body.chat_session,
          message_id: body.message_id,
          from: body.chat_sender,
          message: body.chat_message,
          timestamp: new Date().toISOString(),
        }),
      });
      await sent.arrayBuffer();
      if (sent.status !== 201) throw new Error(`upstream answered ${sent.status}`);
    }
    res.writeHead(201, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        status: "accepted",
        uuid: crypto.randomUUID(),
        conversation_id: body.chat_session,
        message_id: body.message_id,
        conversation_state: "requested",
      }),
    );
  } catch {
    res.writeHead(500, { "content-type": "application/json" });
    res.end('{"error":{"code":"internal_error"}}');
  }
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ type: "ready", url: `http://127.0.0.1:${port}/api/` });
});
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
