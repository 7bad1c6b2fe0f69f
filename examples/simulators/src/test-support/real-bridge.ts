import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type Bridge,
  type BridgeOptions,
  type ChatbotTarget,
  createBridge,
  createMemoryStore,
} from "@openchs-bridge/core";
import { createOpenChsHelplineClient, createOpenChsHelplineTarget } from "@openchs-bridge/openchs-client";
import { createRapidProClient } from "@openchs-bridge/rapidpro-adapter";
import type { HelplineSimulator } from "../helpline-simulator";
import type { RapidProSimulator } from "../rapidpro-simulator";

/** The consumers the real bridge of the end-to-end tests accepts. */
export const E2E_CONSUMERS = {
  helpline: { username: "helpline", password: "helpline-e2e-pass" },
  chatbot: { username: "chatbot", password: "chatbot-e2e-pass" },
};

/**
 * The core bridge (memory store) wired to the simulators and served on loopback, for end-to-end
 * tests. The chatbot side is a few lines over the adapter's RapidPro client (text, close flow, ack);
 * the helpline side is the OpenCHS client's own target.
 */
export async function startRealBridge(
  helpline: HelplineSimulator,
  rapidpro: RapidProSimulator,
  overrides: Partial<BridgeOptions> = {},
): Promise<{ bridge: Bridge; url: string; close(): Promise<void> }> {
  const fast = { retry: false as const, timeoutMs: 2000 };
  const rp = createRapidProClient({ baseUrl: rapidpro.url, token: rapidpro.token, ...fast });
  const chatbot: ChatbotTarget = {
    async deliverMessage(message, context) {
      const text = message.counselorName ? `${message.counselorName}: ${message.text ?? ""}` : (message.text ?? "");
      await rp.sendText(message.contact, text, { signal: context.signal });
    },
    async notifyClose(close, context) {
      await rp.flowStarts.create(
        {
          flow: rapidpro.closeFlow,
          contacts: [close.contact],
          params: { conversation_id: close.conversationId, closed_by: close.closedBy, reason: close.reason ?? null },
        },
        { signal: context.signal },
      );
    },
    async sendAck(ack, context) {
      const res = await fetch(rapidpro.ackUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          conversation_id: ack.conversationId,
          message_id: ack.messageId,
          status: ack.status,
          timestamp: ack.timestamp,
        }),
        signal: context.signal,
      });
      if (!res.ok) throw new Error(`ack answered ${res.status}`);
    },
  };
  const bridge = createBridge({
    store: createMemoryStore(),
    helplines: createOpenChsHelplineTarget({
      client: createOpenChsHelplineClient({
        baseUrl: helpline.url,
        username: "bridge",
        password: "sandbox-helpline-pass",
        ...fast,
      }),
    }),
    chatbot,
    consumers: [
      { ...E2E_CONSUMERS.helpline, sources: ["OUTBOX", "HELPLINE"] },
      { ...E2E_CONSUMERS.chatbot, sources: ["WENI"] },
    ],
    hunting: { timeoutS: 0.4, max: 2 },
    delivery: { pollMs: 20, burstMinDelayMs: 5, burstMaxDelayMs: 20, schedule: [50, 100, 200] },
    ...overrides,
  });

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === "string") headers.set(name, value);
    }
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const response = await bridge.handler(
      new Request(new URL(req.url ?? "/", "http://127.0.0.1"), {
        method: req.method ?? "GET",
        headers,
        ...(hasBody ? { body: Buffer.concat(chunks) } : {}),
      }),
    );
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await bridge.start();
  return {
    bridge,
    url: `http://127.0.0.1:${port}/api/`,
    async close() {
      await bridge.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
