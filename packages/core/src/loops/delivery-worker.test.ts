import { describe, expect, it } from "vitest";
import { createBridge } from "../create-bridge";
import type { HelplineMessage } from "../ports/helpline-target";
import { createMemoryStore } from "../store/memory-store";
import type { Store } from "../store/store";

const noop = async () => {};

describe("DeliveryWorker", () => {
  it("does not ask the store for the next due time while every slot is busy, and delivers everything once they free", async () => {
    const inner = createMemoryStore();
    let dueQueries = 0;
    const store: Store = {
      ...inner,
      nextJobDueAt: () => {
        dueQueries++;
        return inner.nextJobDueAt();
      },
    };
    const delivered: string[] = [];
    const waiting: (() => void)[] = [];
    const bridge = createBridge({
      store,
      helplines: {
        deliverMessage: (message: HelplineMessage) =>
          new Promise<void>((resolve) => {
            waiting.push(() => {
              delivered.push(message.conversationId);
              resolve();
            });
          }),
        notifyClose: noop,
      },
      chatbot: { deliverMessage: noop, notifyClose: noop },
      consumers: [{ username: "weni", password: "weni-password", sources: ["WENI"] }],
      delivery: { concurrency: 2, pollMs: 60_000 },
    });
    await bridge.start();
    const accept = (i: number) =>
      bridge.conversations.acceptClientMessage({ conversationId: `c${i}`, text: `hello ${i}`, contact: "contact" });
    await accept(0);
    await accept(1);
    await until(() => waiting.length === 2);

    const before = dueQueries;
    for (let i = 2; i < 10; i++) await accept(i);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(dueQueries).toBe(before);
    expect(waiting).toHaveLength(2);

    while (delivered.length < 10) {
      await until(() => waiting.length > 0);
      waiting.shift()!();
    }
    expect(delivered.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`).sort());
    await bridge.stop();
  });
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(condition()).toBe(true);
}
