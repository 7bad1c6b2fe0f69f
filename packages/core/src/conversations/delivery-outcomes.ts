import type { Conversation, Message, OutboxJob, OutboxLane } from "../domain/model";
import { applyConversationEvent, messageTransition } from "../domain/state-machine";
import type { FailureInfo } from "../errors/retriability";
import type { Clock } from "../ports/clock";
import type { Store, StoreTx } from "../store/store";
import { type ConversationService, VersionConflict } from "./conversation-service";
import type { BridgeEvents } from "./events";

/** What outcome recording needs of the bridge's options. */
export interface DeliveryOutcomeOptions {
  store: Store;
  clock: Clock;
  /** A delivered first message starts the hunt: its deadline is this far ahead. */
  hunting: { timeoutMs: number };
  /** The helpline-unavailable notice: `afterMs` 0 is off. */
  unavailableNotice: { afterMs: number };
}

/**
 * What a delivery attempt changed, written back: the conversation side of the delivery loop. The
 * loop claims, sends through the ports and reports here; this records, in one transaction each,
 * the job, the message's status, the conversation's state, the sender's `failed` ack and the
 * helpline-unavailable notice, then emits the events.
 */
export class DeliveryOutcomes {
  constructor(
    private readonly options: DeliveryOutcomeOptions,
    private readonly service: ConversationService,
    private readonly events: BridgeEvents,
  ) {}

  /** Delivered: the job is done; a message becomes `sent`, a first one delivered to the helpline starts the hunt. */
  async recordDelivered(job: OutboxJob, attempts: number): Promise<void> {
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
    this.events.emit("delivery.sent", {
      jobId: job.id,
      conversationId: job.conversationId,
      lane: job.lane,
      kind: job.kind,
      attempts,
    });
    if (sent) this.events.emit("message.sent", { ...this.service.messageEventBase(sent), attempts: sent.attempts });
    if (hunting) {
      this.events.emit("conversation.hunting", { conversationId: hunting.id, huntDeadline: hunting.huntDeadline });
    }
  }

  /**
   * A failed round to be tried again at `nextAttemptAt` (the loop's retry schedule decided it): the
   * job rescheduled, the message's attempts and last error kept, the unavailable notice checked.
   */
  async recordRetry(
    job: OutboxJob,
    message: Message | undefined,
    failure: FailureInfo,
    attempts: number,
    retry: { round: number; firstAttemptAt: number; nextAttemptAt: number; now: number },
  ): Promise<void> {
    const now = retry.now;
    const at = new Date(now).toISOString();
    const lastError = { code: failure.code, message: failure.message };
    const jobError = { code: failure.code, status: failure.status };
    let nextAttemptAt = retry.nextAttemptAt;
    let notice: { since: string } | undefined;
    await this.service.withRetryOnConflict(async (tx) => {
      notice = undefined;
      const unavailable = await this.checkUnavailable(tx, job, now, retry.nextAttemptAt, failure);
      nextAttemptAt = unavailable.nextAttemptAt;
      notice = unavailable.notice;
      await tx.rescheduleJob(job.id, retry.round, nextAttemptAt, {
        firstAttemptAt: retry.firstAttemptAt,
        lastError: jobError,
      });
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
      attempt: retry.round,
      nextAttemptAt,
      error: { code: failure.code, message: failure.message, status: failure.status },
    });
    if (notice) {
      this.events.emit("conversation.unavailable_notice", { conversationId: job.conversationId, since: notice.since });
    }
  }

  /**
   * Out of retries (or never retriable): the job is kept as a dead letter (listed, replayable), the
   * message marked `failed`, and its sender told where it can be (a `failed` ack).
   */
  async recordDeadLetter(
    job: OutboxJob,
    message: Message | undefined,
    failure: FailureInfo,
    attempts: number,
    dead: { round: number; now: number },
  ): Promise<void> {
    const { round, now } = dead;
    const at = new Date(now).toISOString();
    const lastError = { code: failure.code, message: failure.message };
    const jobError = { code: failure.code, status: failure.status };
    const error = { code: failure.code, message: failure.message, status: failure.status };
    let failed: Message | undefined;
    await this.service.withRetryOnConflict(async (tx) => {
      failed = undefined;
      await tx.deadLetterJob(job.id, { attempts: round, deadAt: now, lastError: jobError });
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
      if (conversation && this.service.targets.hasAckEndpoint(conversation, senderLane)) {
        await tx.enqueueJob({
          conversationId: job.conversationId,
          lane: senderLane,
          kind: "ack",
          payload: { messageId: current.messageId, status: "failed", timestamp: at, reason: failure.code },
          attempts: 0,
          nextAttemptAt: now,
          createdAt: at,
          // The failed message's trace: its ack is part of the same story.
          traceContext: job.traceContext,
        });
      }
    });
    this.events.emit("delivery.dead_letter", {
      jobId: job.id,
      conversationId: job.conversationId,
      lane: job.lane,
      kind: job.kind,
      attempts: round,
      messageId: message?.messageId,
      error,
    });
    if (failed) this.events.emit("message.failed", { ...this.service.messageEventBase(failed), error });
  }

  /** The conversation (or message) was erased on request: nothing is left to deliver. */
  async recordErased(job: OutboxJob): Promise<void> {
    await this.options.store.transaction((tx) => tx.deleteJob(job.id));
  }

  /** Stopping is not a failure: the job stays due at once, for the next start or another instance. */
  async recordInterrupted(job: OutboxJob): Promise<void> {
    await this.options.store.transaction((tx) => tx.rescheduleJob(job.id, job.attempts, this.options.clock.now()));
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
      traceContext: job.traceContext,
    });
    return { nextAttemptAt, notice: { since: conversation.createdAt } };
  }
}
