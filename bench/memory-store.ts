/**
 * Heap of the memory store with live conversations: builds a bridge on `createMemoryStore()` with
 * targets that accept everything at once (no network), opens conversations through the bridge's
 * programmatic API, each with `messages` messages (client and counselor alternately, every one
 * delivered), and reports the V8 heap after a full GC at each size. Run by `bench/run.ts` (forked,
 * with `--expose-gc`).
 *
 * Usage: memory-store.ts <size,size,…> <messages per conversation>
 */
import { createBridge, createMemoryStore } from "@openchs-bridge/core";
import { CONSUMER } from "./lib";

const sizes = (process.argv[2] ?? "1000,10000").split(",").map(Number);
const perConversation = Number(process.argv[3] ?? 10);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");

function heapAfterGc(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

const accept = async () => {};
const bridge = createBridge({
  store: createMemoryStore(),
  helplines: { deliverMessage: accept, notifyClose: accept },
  chatbot: { deliverMessage: accept, notifyClose: accept },
  consumers: [{ ...CONSUMER, sources: ["WENI"] }],
});

const before = heapAfterGc();
const results: { conversations: number; messages: number; heapBytes: number; deltaBytes: number }[] = [];
let opened = 0;

/** Runs `fn(i)` for `from <= i < to`, 200 at a time. */
async function each(from: number, to: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  for (let start = from; start < to; start += 200) {
    const batch: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(to, start + 200); i++) batch.push(fn(i));
    await Promise.all(batch);
  }
}

for (const size of sizes) {
  for (let k = 0; k < perConversation; k++) {
    await each(opened, size, (i) =>
      k % 2 === 0
        ? bridge.conversations.acceptClientMessage({
            conversationId: `live_${i}`,
            messageId: `client-${k}`,
            text: `Client message ${k} of a conversation that is still going on (${i})`,
            contact: `c0ffee00-0000-4000-8000-${String(i).padStart(12, "0")}`,
            senderName: "Child",
          })
        : bridge.conversations.acceptCounselorMessage({
            conversationId: `live_${i}`,
            messageId: `counselor-${k}`,
            text: `Counselor reply ${k}: I am here to listen, take your time (${i})`,
            counselorName: "Counselor A",
          }),
    );
    await bridge.runDue();
  }
  opened = size;
  const heapBytes = heapAfterGc();
  results.push({ conversations: size, messages: size * perConversation, heapBytes, deltaBytes: heapBytes - before });
}

process.send?.({ type: "ready", baseHeapBytes: before, results });
process.on("disconnect", () => process.exit(0));
