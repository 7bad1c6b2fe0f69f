import pRetry, { AbortError } from "p-retry";
import type { DeliveryOutcomes } from "../conversations/delivery-outcomes";
import type { BridgeEvents } from "../conversations/events";
import type { ConversationTargets } from "../conversations/targets";
import { type ClosedBy, type Conversation, conversationChannel, type Message, type OutboxJob } from "../domain/model";
import { OpenChsBridgeError } from "../errors/openchs-bridge-error";
import { classifyFailure, type FailureInfo } from "../errors/retriability";
import type { Clock } from "../ports/clock";
import type { DeliveryContext, RenotifyNotice, UnavailableNotice } from "../ports/notices";
import type { Store } from "../store/store";
import { type DeliveryResult, withDeliverySpan } from "../tracing/delivery-span";
import { LeaseKeeper } from "./lease-keeper";
import { linkedSignal } from "./linked-signal";
import { Loop } from "./loop";
import { nextWait } from "./retry-schedule";

/** The delivery settings, every default filled in (`createBridge`'s `delivery` option, resolved). */
export interface DeliverySettings {
  attemptTimeoutMs: number;
  burstRetries: number;
  burstMinDelayMs: number;
  burstMaxDelayMs: number;
  schedule: number[];
  retryHorizonMs: number;
  maxWaitMs: number;
  jitter: number;
  leaseMs: number;
  concurrency: number;
  pollMs: number;
}

/** What the delivery loop needs of the bridge's options. */
export interface DeliveryLoopOptions {
  store: Store;
  clock: Clock;
  /** This instance's id in leases. */
  workerId: string;
  delivery: DeliverySettings;
  hunting: { renotify: ((notice: RenotifyNotice, context: DeliveryContext) => Promise<void>) | undefined };
  /** The counselor's pseudonym from an extension, when the helpline gives none. */
  counselorNameFor: (extension: string) => string;
  unavailableNotice: { text: string | undefined };
}

/**
 * The delivery loop: claims due outbox jobs (only the head of each conversation lane, under a
 * short lease renewed while the job runs, so one lane never has two deliveries in flight and a
 * failing job holds the ones behind it), delivers each through its port with quick p-retry
 * retries, then records the outcome: `sent`, a durable reschedule (`nextAttemptAt`, survives a
 * restart; see `retry-schedule.ts`), or a dead letter (kept, listed, replayable).
 */
export class DeliveryWorker {
  private controller = new AbortController();
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly loop: Loop;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly options: DeliveryLoopOptions,
    /** Which helpline and chatbot target serve a conversation. */
    private readonly targets: ConversationTargets,
    /** Where the outcome of each claim is recorded (the conversation side). */
    private readonly outcomes: DeliveryOutcomes,
    private readonly events: BridgeEvents,
  ) {
    this.loop = new Loop(
      {
        tick: () => this.tick(),
        nextDelay: () => this.nextDelay(),
        onError: (error) => this.events.emit("error", { where: "delivery", error: classifyFailure(error) }),
      },
      { rerunWhenWoken: true },
    );
  }

  /** Short, and renewed while the job runs (`LeaseKeeper`): a crashed instance holds its lanes only this long. */
  private get leaseMs(): number {
    return this.options.delivery.leaseMs;
  }

  async start(releaseLeases: boolean): Promise<void> {
    if (this.loop.running) return;
    if (releaseLeases) await this.options.store.releaseLeases();
    this.controller = new AbortController();
    this.unsubscribe = this.options.store.onJobsAvailable?.(() => this.wake());
    this.loop.start();
  }

  /**
   * Stops claiming, lets the attempts in flight finish for up to `graceMs`, then aborts the rest
   * (their jobs stay pending, due at once, for the next start or another instance) and waits for them.
   */
  async stop(graceMs = 0): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.loop.stop();
    if (graceMs > 0 && this.inFlight.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...this.inFlight.values()]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.controller.abort();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Look for due work now (after an enqueue). */
  wake(): void {
    this.loop.wake();
  }

  /** Delivers everything due now and waits until nothing due is left (tests, manual clocks). */
  async drain(): Promise<void> {
    // After stop(), the stop signal is spent: a drain asked for explicitly runs on a fresh one.
    if (!this.loop.running && this.controller.signal.aborted) this.controller = new AbortController();
    for (let round = 0; round < 10_000; round++) {
      await this.tick();
      if (this.inFlight.size === 0) return;
      await Promise.allSettled([...this.inFlight.values()]);
    }
  }

  /** Until the next job is due, at most `pollMs`; undefined (sleep until woken) when every slot is busy. */
  private async nextDelay(): Promise<number | undefined> {
    // Every slot busy: nothing can be claimed before one frees, and a freed slot wakes the loop. Asking
    // the store when the next job is due would cost a query per wake-up for nothing.
    if (this.inFlight.size >= this.options.delivery.concurrency) return undefined;
    let delay = this.options.delivery.pollMs;
    try {
      const due = await this.options.store.nextJobDueAt();
      if (due !== undefined) delay = Math.min(delay, Math.max(0, due - this.options.clock.now()));
    } catch {
      // The store is down: poll again later.
    }
    return delay;
  }

  private async tick(): Promise<void> {
    try {
      const free = this.options.delivery.concurrency - this.inFlight.size;
      if (free <= 0) return;
      const jobs = await this.options.store.claimDueJobs({
        now: this.options.clock.now(),
        limit: free,
        owner: this.options.workerId,
        leaseMs: this.leaseMs,
      });
      for (const job of jobs) {
        if (this.inFlight.has(job.id)) continue;
        const run = this.run(job)
          .catch((error) => {
            this.events.emit("error", { where: "delivery", error: classifyFailure(error) });
          })
          .finally(() => {
            this.inFlight.delete(job.id);
            this.wake();
          });
        this.inFlight.set(job.id, run);
      }
    } catch (error) {
      this.events.emit("error", { where: "delivery.claim", error: classifyFailure(error) });
    }
  }

  private async run(job: OutboxJob): Promise<void> {
    const lease = new LeaseKeeper(
      this.options.store,
      this.options.clock,
      job.id,
      this.options.workerId,
      this.leaseMs,
      job.leaseUntil,
    );
    try {
      await withDeliverySpan(job, () => this.attempt(job, lease.lost));
    } finally {
      lease.stop();
    }
  }

  private async attempt(job: OutboxJob, lost: AbortSignal): Promise<DeliveryResult> {
    const store = this.options.store;
    const conversation = await store.getConversation(job.conversationId);
    const message = job.messageUuid ? await store.getMessage(job.messageUuid) : undefined;
    if (!conversation || (job.messageUuid && !message)) {
      // Erased on request while queued: nothing left to deliver.
      await this.outcomes.recordErased(job);
      return { outcome: "erased" };
    }
    const d = this.options.delivery;
    const stop = this.controller.signal;
    // Stopping, or the lease lost to another instance: either way this claim ends now.
    const halted = linkedSignal([stop, lost]);
    const halt = halted.signal;
    let attempts = 0;
    try {
      await pRetry(
        async () => {
          attempts++;
          // Erased on request during the burst (e.g. by another process): no further attempt.
          if (attempts > 1 && !(await this.stillStored(job))) throw new AbortError(new ErasedWhileDelivering());
          const attempt = linkedSignal([halt], d.attemptTimeoutMs);
          try {
            await this.send(job, conversation, message, { signal: attempt.signal, attempt: job.attempts + attempts });
          } catch (error) {
            if (attempt.timedOut && !halt.aborted) throw new AttemptTimeout(d.attemptTimeoutMs);
            throw error;
          } finally {
            attempt.dispose();
          }
        },
        {
          retries: d.burstRetries,
          factor: 2,
          minTimeout: d.burstMinDelayMs,
          maxTimeout: d.burstMaxDelayMs,
          randomize: true,
          signal: halt,
          shouldRetry: ({ error }) => {
            const f = classifyFailure(error);
            // A long Retry-After is waited for durably, not by holding a worker.
            return f.retriable && (f.retryAfterMs ?? 0) <= d.burstMaxDelayMs;
          },
          onFailedAttempt: async ({ error, retriesLeft, retryDelay }) => {
            const f = classifyFailure(error);
            const quickRetry = retriesLeft > 0 && f.retriable && (f.retryAfterMs ?? 0) <= d.burstMaxDelayMs;
            if (!quickRetry || halt.aborted) return;
            // Every failed attempt is visible, the quick retries of a burst too.
            const wait = Math.max(retryDelay, f.retryAfterMs ?? 0);
            this.events.emit("delivery.retry", {
              jobId: job.id,
              conversationId: job.conversationId,
              lane: job.lane,
              kind: job.kind,
              quick: true,
              attempt: attempts,
              nextAttemptAt: this.options.clock.now() + wait,
              error: { code: f.code, message: f.message, status: f.status },
            });
            if (f.retryAfterMs !== undefined && f.retryAfterMs > retryDelay)
              await sleep(f.retryAfterMs - retryDelay, halt);
          },
        },
      );
    } catch (error) {
      halted.dispose();
      const attempt = job.attempts + attempts;
      // Another instance holds the job now: its outcome is theirs to record.
      if (lost.aborted) return { outcome: "lost", attempt };
      if (error instanceof ErasedWhileDelivering) {
        await this.outcomes.recordErased(job);
        return { outcome: "erased", attempt };
      }
      if (stop.aborted) {
        // Stopping: not a failure. Leave the job due so the next start delivers it.
        await this.outcomes.recordInterrupted(job);
        return { outcome: "interrupted", attempt };
      }
      const failure = classifyFailure(error);
      const outcome = await this.reportFailure(job, message, failure, attempts);
      return { outcome, attempt, failure: { code: failure.code, status: failure.status } };
    }
    halted.dispose();
    // Delivered: recorded even if the lease lapsed meanwhile (the job is done, whoever holds it).
    await this.outcomes.recordDelivered(job, attempts);
    return { outcome: "sent", attempt: job.attempts + attempts };
  }

  /** Whether the job's conversation (and message) still exist: erasure deletes them. */
  private async stillStored(job: OutboxJob): Promise<boolean> {
    const store = this.options.store;
    if (!(await store.getConversation(job.conversationId))) return false;
    return job.messageUuid === undefined || (await store.getMessage(job.messageUuid)) !== undefined;
  }

  private async send(
    job: OutboxJob,
    conversation: Conversation,
    message: Message | undefined,
    context: DeliveryContext,
  ): Promise<void> {
    const helpline = this.targets.helplineFor(conversation);
    const chatbot = this.targets.chatbotFor(conversation);
    if (!helpline)
      throw Object.assign(new Error("no helpline target for this conversation"), {
        retriable: false,
        code: "no_target",
      });
    switch (job.kind) {
      case "message":
      case "renotify": {
        const m = message!;
        if (m.direction === "to_helpline") {
          const round = job.kind === "renotify" ? (job.payload as { round: number; of: number }) : undefined;
          const delivery = {
            conversationId: conversation.id,
            messageId: m.messageId,
            text: m.text,
            attachments: m.attachments,
            from: conversation.contact,
            channel: conversationChannel(conversation),
            senderName: m.senderName,
            receiver: m.receiver,
            location: conversation.location,
            risk: conversation.risk,
            metadata: conversation.metadata,
            sentAt: m.createdAt,
            ...(round ? { renotify: { round: round.round, of: round.of } } : {}),
          };
          const hook = this.options.hunting.renotify;
          if (round && hook) {
            await hook(
              { conversationId: conversation.id, helpline: conversation.helpline, ...round, message: delivery },
              context,
            );
          } else {
            await helpline.deliverMessage(delivery, context);
          }
        } else {
          await chatbot.deliverMessage(
            {
              conversationId: conversation.id,
              messageId: m.messageId,
              contact: conversation.contact,
              text: m.text,
              attachments: m.attachments,
              counselorName: this.counselorName(m, conversation),
              counselorExtension: m.receiver ?? conversation.counselorExtension,
              sentAt: m.createdAt,
              ticket: conversation.ticket,
            },
            context,
          );
        }
        return;
      }
      case "close": {
        const p = job.payload as { closedBy: ClosedBy; reason?: string };
        const notice = {
          conversationId: conversation.id,
          contact: conversation.contact,
          closedBy: p.closedBy,
          reason: p.reason,
          closedAt: conversation.closedAt ?? job.createdAt,
          channel: conversationChannel(conversation),
          ticket: conversation.ticket,
        };
        await (job.lane === "helpline" ? helpline : chatbot).notifyClose(notice, context);
        return;
      }
      case "ack": {
        const p = job.payload as {
          messageId: string;
          status: "delivered" | "read" | "failed";
          timestamp: string;
          counselorName?: string;
          reason?: string;
        };
        const target = job.lane === "ack:chatbot" ? chatbot : helpline;
        await target.sendAck?.({ conversationId: conversation.id, ...p }, context);
        return;
      }
      case "notice": {
        // Stale once the helpline has the conversation (or it closed): telling the child then would mislead.
        if (conversation.state !== "requested") return;
        const p = job.payload as { since: string };
        const notice: UnavailableNotice = {
          conversationId: conversation.id,
          contact: conversation.contact,
          reason: "helpline_unavailable",
          since: p.since,
          text: this.options.unavailableNotice.text,
          ticket: conversation.ticket,
        };
        // A target that cannot tell the bot: nothing to do, the job is done.
        await chatbot.notifyUnavailable?.(notice, context);
        return;
      }
    }
  }

  /**
   * The pseudonym a counselor reply is shown with: the reply's own `sender_name`, else the one a
   * `read` ack gave the conversation, else the extension by `counselorNameTemplate` (the helpline's
   * PHP sends neither name). Undefined only when no extension is known either.
   */
  private counselorName(m: Message, conversation: Conversation): string | undefined {
    const known = m.senderName || conversation.counselorName;
    if (known) return known;
    const extension = m.receiver || conversation.counselorExtension;
    return extension ? this.options.counselorNameFor(extension) : undefined;
  }

  /**
   * A failed round: the retry schedule (`retry-schedule.ts`) says when to try again, or that the job
   * is out of retries (or never retriable) and becomes a dead letter; the outcome is recorded.
   */
  private async reportFailure(
    job: OutboxJob,
    message: Message | undefined,
    failure: FailureInfo,
    attempts: number,
  ): Promise<"retry" | "dead_letter"> {
    const now = this.options.clock.now();
    const d = this.options.delivery;
    const round = job.attempts + 1;
    // Jobs stored before the horizon existed have no first round recorded: their horizon starts now.
    const firstAttemptAt = job.firstAttemptAt ?? now;
    const wait = failure.retriable
      ? nextWait({
          round,
          firstAttemptAt,
          now,
          retryAfterMs: failure.retryAfterMs,
          policy: { schedule: d.schedule, maxWaitMs: d.maxWaitMs, horizonMs: d.retryHorizonMs, jitter: d.jitter },
        })
      : "dead";
    if (wait === "dead") {
      await this.outcomes.recordDeadLetter(job, message, failure, attempts, { round, now });
      return "dead_letter";
    }
    await this.outcomes.recordRetry(job, message, failure, attempts, {
      round,
      firstAttemptAt,
      nextAttemptAt: now + wait,
      now,
    });
    return "retry";
  }
}

/** The conversation or message of a job was erased between two attempts of a burst. */
class ErasedWhileDelivering extends OpenChsBridgeError {
  override name = "ErasedWhileDelivering";
  constructor() {
    super("erased", "the conversation was erased while its job was delivered");
  }
}

/** One attempt outlived `delivery.attemptTimeoutMs`: retriable, like any timeout. */
class AttemptTimeout extends OpenChsBridgeError {
  override name = "TimeoutError";
  readonly retriable = true;
  declare readonly code: "timeout";
  constructor(ms: number) {
    super("timeout", `the attempt timed out after ${ms} ms`);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
