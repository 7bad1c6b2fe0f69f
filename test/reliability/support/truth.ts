import { expect } from "vitest";
import { type Accepted, chatbotReport, getConversation, helplineReport } from "./checks";
import { eventually } from "./gateway-process";
import type { System } from "./system";
import { conversationsOf } from "./workload";

/** Statuses that say a message reached its receiver. */
const DELIVERED = new Set(["sent", "delivered", "read"]);

/**
 * Waits until every accepted message has reached its upstream and the gateway has recorded it, then
 * checks the guarantees: each arrived exactly once (by message_id), in order per conversation, with
 * its text; `GET chat/{session}/` says delivered for each and failed for none; no dead letter or
 * error was logged; no `failed` ack reached the chatbot.
 */
export async function expectDeliveredExactlyOnce(
  system: System,
  client: readonly Accepted[],
  replies: readonly Accepted[] = [],
  timeoutMs = 90_000,
) {
  await eventually(
    "every accepted client message at the helpline",
    () => helplineReport(system.helpline, client).missing.length === 0,
    timeoutMs,
  );
  await eventually(
    "every accepted reply at RapidPro",
    () => chatbotReport(system.rapidpro, replies).missing.length === 0,
    timeoutMs,
  );
  const sessions = conversationsOf([...client, ...replies]).map((c) => c.session);
  // The gateway records the outcome just after the upstream answered: wait for it too.
  const views = await eventually(
    "every delivery recorded",
    async () => {
      const all = await Promise.all(sessions.map((s) => getConversation(system.counselor, s)));
      const done = all.every((v) => v.messages.every((m) => m.status !== "accepted"));
      return done ? all : undefined;
    },
    30_000,
    200,
  );
  const helpline = helplineReport(system.helpline, client);
  const chatbot = chatbotReport(system.rapidpro, replies);
  expect(helpline).toMatchObject({ missing: [], storedTwice: [], outOfOrder: [], altered: [] });
  expect(helpline.deliveredOnce).toBe(client.length);
  expect(chatbot).toMatchObject({ missing: [], deliveredTwice: [], outOfOrder: [] });
  expect(chatbot.deliveredOnce).toBe(replies.length);
  const wanted = new Set([...client, ...replies].map((a) => a.messageId));
  for (const view of views) {
    for (const m of view.messages) {
      if (wanted.has(m.message_id))
        expect({ id: m.message_id, status: m.status }).toEqual({
          id: m.message_id,
          status: expect.toSatisfy((s: string) => DELIVERED.has(s)),
        });
    }
  }
  expect(system.gateway.events("delivery.dead_letter")).toEqual([]);
  expect(system.gateway.events("error")).toEqual([]);
  expect(system.rapidpro.state.acks.filter((a) => a.status === "failed")).toEqual([]);
  return { helpline, chatbot };
}

/** One line of figures for docs/reliability.md, printed by the test. */
export function reportFigures(name: string, figures: Record<string, unknown>): void {
  process.stdout.write(`[reliability] ${name} ${JSON.stringify(figures)}\n`);
}
