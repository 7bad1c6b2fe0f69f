import pRetry, { AbortError } from "p-retry";
import { type ConversationService, VersionConflict } from "../bridge/conversation-service";
import type { BridgeEvents } from "../bridge/events";
import type { ResolvedOptions } from "../bridge/options";
import {
  type ClosedBy,
  type Conversation,
  conversationChannel,
  type Message,
  type OutboxJob,
  type OutboxLane,
} from "../domain/model";
import { applyConversationEvent, messageTransition } from "../domain/state-machine";
import type { DeliveryContext } from "../ports/notices";
import { classifyFailure, type FailureInfo } from "./classify-failure";

/**
 * The delivery loop: claims due outbox jobs (only the head of each conversation lane, under a
 * lease, so one lane never has two deliveries in flight and a failing job holds the ones behind
 * it), delivers each through its port with quick p-retry retries, then records the outcome:
 * `sent`, a durable reschedule (`nextAttemptAt`, survives a restart), or a dead letter.
 */
export class DeliveryWorker {
  private running = false;
  private controller = new AbortController();
  private readonly inFlight = new Map<number, Promise<void>>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly service: ConversationService,
    private readonly events: BridgeEvents,
  ) {}

  private get leaseMs(): number {
    const d = this.options.delivery;
    // Long enough for a whole burst (every attempt timing out, every wait at its longest).
    return (d.burstRetries + 1) * d.attemptTimeoutMs + d.burstRetries * d.burstMaxDelayMs + 30_000;
  }

  async start(releaseLeases: boolean): Promise<void> {
    if (this.running) return;
    if (releaseLeases) await this.options.store.releaseLeases();
    this.controller = new AbortController();
    this.running = true;
    this.unsubscribe = this.options.store.onJobsAvailable?.(() => this.wake());
    this.wake();
  }

  /** Stops claiming, aborts in-flight attempts (their jobs stay pending) and waits for them. */
  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.timer);
    this.controller.abort();
    await this.ticking;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Look for due work now (after an enqueue). */
  wake(): void {
    if (!this.running) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick().finally(() => {
      this.ticking = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      } else void this.scheduleNext();
    });
  }

  /** Delivers everything due now and waits until nothing due is left (tests, manual clocks). */
  async drain(): Promise<void> {
    // After stop(), the stop signal is spent: a drain asked for explicitly runs on a fresh one.
    if (!this.running && this.controller.signal.aborted) this.controller = new AbortController();
    for (let round = 0; round < 10_000; round++) {
      await this.tick();
      if (this.inFlight.size === 0) return;
      await Promise.allSettled([...this.inFlight.values()]);
    }
  }

  private async scheduleNext(): Promise<void> {
    if (!this.running) return;
    clearTimeout(this.timer);
    // Every slot busy: nothing can be claimed before one frees, and a freed slot wakes the loop. Asking
    // the store when the next job is due would cost a query per wake-up for nothing.
    if (this.inFlight.size >= this.options.delivery.concurrency) return;
    let delay = this.options.delivery.pollMs;
    try {
      const due = await this.options.store.nextJobDueAt();
      if (due !== undefined) delay = Math.min(delay, Math.max(0, due - this.options.clock.now()));
    } catch {
      // The store is down: poll again later.
    }
    if (!this.running) return;
    this.timer = setTimeout(() => this.wake(), delay);
    (this.timer as { unref?: () => void }).unref?.();
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
    const store = this.options.store;
    const conversation = await store.getConversation(job.conversationId);
    const message = job.messageUuid ? await store.getMessage(job.messageUuid) : undefined;
    if (!conversation || (job.messageUuid && !message)) {
      // Erased on request while queued: nothing left to deliver.
      await store.transaction((tx) => tx.deleteJob(job.id));
      return;
    }
    const d = this.options.delivery;
    const stop = this.controller.signal;
    let attempts = 0;
    try {
      await pRetry(
        async () => {
          attempts++;
          // Erased on request during the burst (e.g. by another process): no further attempt.
          if (attempts > 1 && !(await this.stillStored(job))) throw new AbortError(new ErasedWhileDelivering());
          const timeout = AbortSignal.timeout(d.attemptTimeoutMs);
          const signal = AbortSignal.any([stop, timeout]);
          try {
            await this.send(job, conversation, message, { signal, attempt: job.attempts + attempts });
          } catch (error) {
            if (timeout.aborted && !stop.aborted) throw new AttemptTimeout(d.attemptTimeoutMs);
            throw error;
          }
        },
        {
          retries: d.burstRetries,
          factor: 2,
          minTimeout: d.burstMinDelayMs,
          maxTimeout: d.burstMaxDelayMs,
          randomize: true,
          signal: stop,
          shouldRetry: ({ error }) => {
            const f = classifyFailure(error);
            // A long Retry-After is waited for durably, not by holding a worker.
            return f.retriable && (f.retryAfterMs ?? 0) <= d.burstMaxDelayMs;
          },
          onFailedAttempt: async ({ error, retriesLeft, retryDelay }) => {
            const f = classifyFailure(error);
            const quickRetry = retriesLeft > 0 && f.retriable && (f.retryAfterMs ?? 0) <= d.burstMaxDelayMs;
            if (!quickRetry || stop.aborted) return;
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
              await sleep(f.retryAfterMs - retryDelay, stop);
          },
        },
      );
    } catch (error) {
      if (error instanceof ErasedWhileDelivering) {
        await store.transaction((tx) => tx.deleteJob(job.id));
        return;
      }
      if (stop.aborted) {
        // Stopping: not a failure. Leave the job due so the next start delivers it.
        await store.transaction((tx) => tx.rescheduleJob(job.id, job.attempts, this.options.clock.now()));
        return;
      }
      await this.recordFailure(job, message, classifyFailure(error), attempts);
      return;
    }
    await this.recordSuccess(job, attempts);
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
    const helpline = this.options.helplines.get(conversation.helpline);
    const chatbot = this.service.chatbotFor(conversation);
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

  private async recordSuccess(job: OutboxJob, attempts: number): Promise<void> {
    const now = this.options.clock.now();
    const at = new Date(now).toISOString();
    let sent: Message | undefined;
    let hunting: Conversation | undefined;
    await this.service.withRetryOnConflict(async (tx) => {
      sent = undefined;
      hunting = undefined;
      await tx.deleteJob(job.id);
      if (job.kind !== "message" || !job.messageUuid) return;
      const message = await tx.getMessage(job.messageUuid);
      if (!message) return;
      const updated: Message = {
        ...message,
        attempts: message.attempts + attempts,
        lastError: undefined,
        updatedAt: at,
        status: messageTransition(message.status, "sent") === "apply" ? "sent" : message.status,
      };
      await tx.updateMessage(updated);
      if (message.status !== updated.status) sent = updated;
      if (message.direction !== "to_helpline") return;
      const conversation = await tx.getConversation(job.conversationId);
      if (!conversation) return;
      const next = applyConversationEvent(conversation, {
        type: "delivered_to_helpline",
        huntDeadline: now + this.options.hunting.timeoutMs,
      });
      if (next.ok && next.changed) {
        const saved = { ...next.conversation, version: conversation.version + 1, updatedAt: at };
        if (!(await tx.updateConversation(saved, conversation.version))) throw new VersionConflict();
        hunting = saved;
      }
    });
    if (sent) this.events.emit("message.sent", { ...this.service.messageEventBase(sent), attempts: sent.attempts });
    if (hunting) {
      this.events.emit("conversation.hunting", { conversationId: hunting.id, huntDeadline: hunting.huntDeadline });
    }
  }

  private async recordFailure(
    job: OutboxJob,
    message: Message | undefined,
    failure: FailureInfo,
    attempts: number,
  ): Promise<void> {
    const now = this.options.clock.now();
    const at = new Date(now).toISOString();
    const schedule = this.options.delivery.schedule;
    const rounds = job.attempts + 1;
    const lastError = { code: failure.code, message: failure.message };
    const error = { code: failure.code, message: failure.message, status: failure.status };

    if (failure.retriable && rounds <= schedule.length) {
      const nextAttemptAt = now + Math.max(schedule[rounds - 1]!, failure.retryAfterMs ?? 0);
      await this.options.store.transaction(async (tx) => {
        await tx.rescheduleJob(job.id, rounds, nextAttemptAt);
        if (job.kind === "message" && message) {
          const current = await tx.getMessage(message.uuid);
          if (current)
            await tx.updateMessage({ ...current, attempts: current.attempts + attempts, lastError, updatedAt: at });
        }
      });
      this.events.emit("delivery.retry", {
        jobId: job.id,
        conversationId: job.conversationId,
        lane: job.lane,
        kind: job.kind,
        quick: false,
        attempt: rounds,
        nextAttemptAt,
        error,
      });
      return;
    }

    // Dead letter: the job is removed, the message marked failed, the sender told where it can be.
    let failed: Message | undefined;
    await this.service.withRetryOnConflict(async (tx) => {
      failed = undefined;
      await tx.deleteJob(job.id);
      if (job.kind !== "message" || !message) return;
      const current = await tx.getMessage(message.uuid);
      if (!current) return;
      const apply = messageTransition(current.status, "failed") === "apply";
      const updated: Message = {
        ...current,
        attempts: current.attempts + attempts,
        lastError,
        updatedAt: at,
        status: apply ? "failed" : current.status,
      };
      await tx.updateMessage(updated);
      if (!apply) return;
      failed = updated;
      const conversation = await tx.getConversation(job.conversationId);
      const senderLane: OutboxLane = current.direction === "to_helpline" ? "ack:chatbot" : "ack:helpline";
      if (conversation && this.hasAckTarget(conversation, senderLane)) {
        await tx.enqueueJob({
          conversationId: job.conversationId,
          lane: senderLane,
          kind: "ack",
          payload: { messageId: current.messageId, status: "failed", timestamp: at, reason: failure.code },
          attempts: 0,
          nextAttemptAt: now,
          createdAt: at,
        });
      }
    });
    this.events.emit("delivery.dead_letter", {
      jobId: job.id,
      conversationId: job.conversationId,
      lane: job.lane,
      kind: job.kind,
      attempts: rounds,
      messageId: message?.messageId,
      error,
    });
    if (failed) this.events.emit("message.failed", { ...this.service.messageEventBase(failed), error });
  }

  private hasAckTarget(conversation: Conversation, lane: OutboxLane): boolean {
    const target =
      lane === "ack:chatbot"
        ? this.service.chatbotFor(conversation)
        : this.options.helplines.get(conversation.helpline);
    return typeof target?.sendAck === "function";
  }
}

/** The conversation or message of a job was erased between two attempts of a burst. */
class ErasedWhileDelivering extends Error {
  override name = "ErasedWhileDelivering";
}

class AttemptTimeout extends Error {
  override name = "TimeoutError";
  readonly retriable = true;
  readonly code = "timeout";
  constructor(ms: number) {
    super(`the attempt timed out after ${ms} ms`);
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
