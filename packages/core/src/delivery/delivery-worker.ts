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
import type { DeliveryContext, UnavailableNotice } from "../ports/notices";
import type { StoreTx } from "../store/store";
import { classifyFailure, type FailureInfo } from "./classify-failure";
import { LeaseKeeper } from "./lease-keeper";
import { nextWait } from "./retry-schedule";

/**
 * The delivery loop: claims due outbox jobs (only the head of each conversation lane, under a
 * short lease renewed while the job runs, so one lane never has two deliveries in flight and a
 * failing job holds the ones behind it), delivers each through its port with quick p-retry
 * retries, then records the outcome: `sent`, a durable reschedule (`nextAttemptAt`, survives a
 * restart; see `retry-schedule.ts`), or a dead letter (kept, listed, replayable).
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

  /** Short, and renewed while the job runs (`LeaseKeeper`): a crashed instance holds its lanes only this long. */
  private get leaseMs(): number {
    return this.options.delivery.leaseMs;
  }

  async start(releaseLeases: boolean): Promise<void> {
    if (this.running) return;
    if (releaseLeases) await this.options.store.releaseLeases();
    this.controller = new AbortController();
    this.running = true;
    this.unsubscribe = this.options.store.onJobsAvailable?.(() => this.wake());
    this.wake();
  }

  /**
   * Stops claiming, lets the attempts in flight finish for up to `graceMs`, then aborts the rest
   * (their jobs stay pending, due at once, for the next start or another instance) and waits for them.
   */
  async stop(graceMs = 0): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.timer);
    await this.ticking;
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
    const lease = new LeaseKeeper(
      this.options.store,
      this.options.clock,
      job.id,
      this.options.workerId,
      this.leaseMs,
      job.leaseUntil,
    );
    try {
      await this.attempt(job, lease.lost);
    } finally {
      lease.stop();
    }
  }

  private async attempt(job: OutboxJob, lost: AbortSignal): Promise<void> {
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
    // Stopping, or the lease lost to another instance: either way this claim ends now.
    const halt = AbortSignal.any([stop, lost]);
    let attempts = 0;
    try {
      await pRetry(
        async () => {
          attempts++;
          // Erased on request during the burst (e.g. by another process): no further attempt.
          if (attempts > 1 && !(await this.stillStored(job))) throw new AbortError(new ErasedWhileDelivering());
          const timeout = AbortSignal.timeout(d.attemptTimeoutMs);
          const signal = AbortSignal.any([halt, timeout]);
          try {
            await this.send(job, conversation, message, { signal, attempt: job.attempts + attempts });
          } catch (error) {
            if (timeout.aborted && !halt.aborted) throw new AttemptTimeout(d.attemptTimeoutMs);
            throw error;
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
      // Another instance holds the job now: its outcome is theirs to record.
      if (lost.aborted) return;
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
    // Delivered: recorded even if the lease lapsed meanwhile (the job is done, whoever holds it).
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
    const d = this.options.delivery;
    const rounds = job.attempts + 1;
    // Jobs stored before the horizon existed have no first round recorded: their horizon starts now.
    const firstAttemptAt = job.firstAttemptAt ?? now;
    const lastError = { code: failure.code, message: failure.message };
    const jobError = { code: failure.code, status: failure.status };
    const error = { code: failure.code, message: failure.message, status: failure.status };

    const wait = failure.retriable
      ? nextWait({
          round: rounds,
          firstAttemptAt,
          now,
          retryAfterMs: failure.retryAfterMs,
          policy: { schedule: d.schedule, maxWaitMs: d.maxWaitMs, horizonMs: d.retryHorizonMs, jitter: d.jitter },
        })
      : "dead";
    if (wait !== "dead") {
      let nextAttemptAt = now + wait;
      let notice: { since: string } | undefined;
      await this.service.withRetryOnConflict(async (tx) => {
        nextAttemptAt = now + wait;
        notice = undefined;
        const unavailable = await this.checkUnavailable(tx, job, now, nextAttemptAt, failure);
        nextAttemptAt = unavailable.nextAttemptAt;
        notice = unavailable.notice;
        await tx.rescheduleJob(job.id, rounds, nextAttemptAt, { firstAttemptAt, lastError: jobError });
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
      if (notice) {
        this.events.emit("conversation.unavailable_notice", {
          conversationId: job.conversationId,
          since: notice.since,
        });
      }
      return;
    }

    // Dead letter: the job is kept (listed, replayable), the message marked failed, the sender told
    // where it can be.
    let failed: Message | undefined;
    await this.service.withRetryOnConflict(async (tx) => {
      failed = undefined;
      await tx.deadLetterJob(job.id, { attempts: rounds, deadAt: now, lastError: jobError });
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

  /**
   * The helpline-unavailable notice, checked when a new conversation's first message fails again:
   * once `unavailableNotice.afterS` have passed since it arrived, a `notice` job is queued on the
   * chatbot lane and the conversation marked in the same transaction (optimistic version check, so
   * one notice even with several instances). Before that, the next attempt is brought forward to the
   * deadline so the check runs in time, unless the upstream's `Retry-After` forbids it: then the
   * message cannot be accepted in time, and the notice is queued now, due at the deadline.
   */
  private async checkUnavailable(
    tx: StoreTx,
    job: OutboxJob,
    now: number,
    nextAttemptAt: number,
    failure: FailureInfo,
  ): Promise<{ nextAttemptAt: number; notice?: { since: string } | undefined }> {
    const afterMs = this.options.unavailableNotice.afterMs;
    if (afterMs <= 0 || job.kind !== "message" || job.lane !== "helpline") return { nextAttemptAt };
    const conversation = await tx.getConversation(job.conversationId);
    if (conversation?.state !== "requested" || conversation.unavailableNoticeAt) {
      return { nextAttemptAt };
    }
    const deadline = Date.parse(conversation.createdAt) + afterMs;
    const earliest = now + (failure.retryAfterMs ?? 0);
    if (now < deadline && earliest <= deadline) return { nextAttemptAt: Math.min(nextAttemptAt, deadline) };
    const due = Math.max(now, deadline);
    const at = new Date(due).toISOString();
    const saved: Conversation = {
      ...conversation,
      unavailableNoticeAt: at,
      updatedAt: new Date(now).toISOString(),
      version: conversation.version + 1,
    };
    if (!(await tx.updateConversation(saved, conversation.version))) throw new VersionConflict();
    await tx.enqueueJob({
      conversationId: conversation.id,
      lane: "chatbot",
      kind: "notice",
      payload: { since: conversation.createdAt },
      attempts: 0,
      nextAttemptAt: due,
      createdAt: new Date(now).toISOString(),
    });
    return { nextAttemptAt, notice: { since: conversation.createdAt } };
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
