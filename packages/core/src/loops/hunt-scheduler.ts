import type { ConversationService } from "../conversations/conversation-service";
import type { BridgeEvents } from "../conversations/events";
import { closedEvent, toEventError } from "../conversations/events";
import type { Clock } from "../ports/clock";
import type { Store } from "../store/store";
import { Loop } from "./loop";

/** What the hunting loop needs of the bridge's options. */
export interface HuntingLoopOptions {
  store: Store;
  clock: Clock;
  hunting: { timeoutMs: number; max: number; onExhausted: "close" | "wait" };
  /** Longest sleep between two looks at the deadlines. */
  delivery: { pollMs: number };
  includeText: boolean;
}

/**
 * Fires hunting deadlines. Deadlines are stored on the conversation (not only in `setTimeout`), so
 * they fire after a restart too: each tick asks the store for the due ones, applies `hunt_timeout`
 * (re-notify, or give up and close) in a transaction, and sleeps until the next deadline.
 */
export class HuntScheduler {
  private readonly loop: Loop;

  constructor(
    private readonly options: HuntingLoopOptions,
    private readonly service: ConversationService,
    private readonly events: BridgeEvents,
    private readonly wakeDelivery: () => void,
  ) {
    this.loop = new Loop({
      tick: async () => {
        await this.fireDue();
      },
      nextDelay: () => this.nextDelay(),
      onError: (error) => this.events.emit("error", { where: "hunting", error: toEventError(error) }),
    });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Re-check deadlines now (a new deadline may be earlier than the one slept for). */
  wake(): void {
    this.loop.wake();
  }

  /** Handles every deadline due now; returns how many fired. */
  async fireDue(): Promise<number> {
    const { store, clock, hunting } = this.options;
    let fired = 0;
    try {
      for (;;) {
        const due = await store.dueHunts(clock.now(), 50);
        if (due.length === 0) return fired;
        for (const candidate of due) {
          const now = clock.now();
          const pending = await this.service.oldestUnreadClientMessage(candidate.id);
          const outcome = await this.service.withRetryOnConflict(async (tx) => {
            const conversation = await tx.getConversation(candidate.id);
            // Another instance, a read or a close may have got there first.
            if (conversation?.state !== "hunting" || conversation.huntDeadline === undefined) return undefined;
            if (conversation.huntDeadline > now) return undefined;
            return this.service.applyAndEnqueue(
              tx,
              conversation,
              {
                type: "hunt_timeout",
                nextDeadline: now + hunting.timeoutMs,
                huntMax: hunting.max,
                onExhausted: hunting.onExhausted,
                at: new Date(now).toISOString(),
              },
              pending?.uuid,
            );
          });
          if (!outcome?.changed) continue;
          fired++;
          const renotify = outcome.effects.find((e) => e.type === "renotify");
          const c = outcome.conversation;
          this.events.emit("hunt.timeout", {
            conversationId: c.id,
            round: renotify?.round ?? c.huntCount + 1,
            of: hunting.max,
            exhausted: renotify === undefined,
          });
          if (c.state === "closed") {
            this.events.emit("conversation.closed", closedEvent(c, this.options.includeText));
          }
          this.wakeDelivery();
        }
      }
    } catch (error) {
      this.events.emit("error", { where: "hunting", error: toEventError(error) });
      return fired;
    }
  }

  /** Until the next deadline, at most `pollMs`. */
  private async nextDelay(): Promise<number> {
    let delay = this.options.delivery.pollMs;
    try {
      const next = await this.options.store.nextHuntDeadline();
      if (next !== undefined) delay = Math.min(delay, Math.max(0, next - this.options.clock.now()));
    } catch {
      // The store is down: look again later.
    }
    return delay;
  }
}
