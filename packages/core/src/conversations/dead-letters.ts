import type { OutboxJob, OutboxJobError, OutboxLane } from "../domain/model";
import { BridgeError } from "../errors/bridge-error";
import type { Clock } from "../ports/clock";
import type { Store, StoreTx } from "../store/store";
import type { ConversationService } from "./conversation-service";
import type { BridgeEvents } from "./events";

/**
 * A dead letter as an operator sees it: what was being delivered, where, and why it stopped. Ids and
 * codes only: never message text, tokens or contact addresses.
 */
export interface DeadLetter {
  /** The job's id: what `replay` takes. */
  id: number;
  conversationId: string;
  /** The sender's `message_id` of the message (or of the acknowledged one, for an ack); else undefined. */
  messageId: string | undefined;
  /** A hunting re-notification is a message to the helpline, so it shows as `message`. */
  kind: "message" | "close" | "ack" | "notice";
  target: "helpline" | "chatbot";
  /** Attempt rounds made before it was given up. */
  attempts: number;
  lastError: OutboxJobError;
  /** When it was dead-lettered (ISO). */
  failedAt: string;
}

export interface DeadLetterListQuery {
  conversationId?: string | undefined;
  /** Default 50, at most 500. */
  limit?: number | undefined;
  /** The `nextCursor` of the previous page. */
  cursor?: number | undefined;
}

export interface DeadLetterList {
  deadLetters: DeadLetter[];
  /** Pass as `cursor` for the next (older) page; undefined on the last page. */
  nextCursor?: number | undefined;
}

/** `bridge.deadLetters`: list what ran out of retries, and send it again. */
export interface BridgeDeadLetters {
  /** Dead letters, newest first. */
  list(query?: DeadLetterListQuery): Promise<DeadLetterList>;
  /**
   * Queues a dead letter again, in its original place in its conversation's lane. Throws
   * `BridgeError` `dead_letter_not_found` (no such job) or `dead_letter_not_dead` (it is pending:
   * never dead, or replayed already: of two racing replays one wins).
   */
  replay(id: number): Promise<"queued">;
  /** Replays every dead letter (of one conversation when named); returns how many were queued. */
  replayAll(query?: { conversationId?: string | undefined }): Promise<number>;
}

/** The most a page of dead letters holds. */
export const DEAD_LETTER_PAGE_MAX = 500;
const PAGE_DEFAULT = 50;

/**
 * The dead letters of a bridge. A replay is one transaction: revive the job (attempts from 0, its id
 * kept so it goes back to its place in the lane) and, when it carries a message whose status is
 * `failed`, set that message back to `accepted` with `replayedAt`: the one backward step of a message's
 * status, so it tells the truth again while the delivery is retried. Then the delivery loop is woken.
 */
export function createDeadLetters(deps: {
  options: { store: Store; clock: Clock };
  service: ConversationService;
  events: BridgeEvents;
  /** Wakes this process's delivery loop (others sharing the store find the job on their next poll). */
  wake: () => void;
}): BridgeDeadLetters {
  const { options, service, events, wake } = deps;
  const { store, clock } = options;

  async function reviveOne(tx: StoreTx, id: number): Promise<OutboxJob> {
    const job = await tx.getJob(id);
    if (!job) throw new BridgeError("dead_letter_not_found", "no dead letter with that id", { field: "id" });
    const notDead = () =>
      new BridgeError("dead_letter_not_dead", "that job is not dead: it is queued already", { state: "pending" });
    if (job.state !== "dead") throw notDead();
    const now = clock.now();
    if (!(await tx.reviveJob(id, now, now))) throw notDead();
    if (job.messageUuid === undefined) return job;
    const message = await tx.getMessage(job.messageUuid);
    if (message?.status !== "failed") return job;
    const at = new Date(now).toISOString();
    await tx.updateMessage({ ...message, status: "accepted", replayedAt: at, updatedAt: at });
    return job;
  }

  /** Reported after the commit, so a replay that failed is never announced. */
  function replayed(job: OutboxJob): void {
    events.emit("dead_letter.replayed", {
      jobId: job.id,
      conversationId: job.conversationId,
      kind: job.kind,
      lane: job.lane,
    });
  }

  async function replay(id: number): Promise<"queued"> {
    if (!Number.isSafeInteger(id) || id <= 0) {
      throw new BridgeError("dead_letter_not_found", "no dead letter with that id", { field: "id" });
    }
    replayed(await service.withRetryOnConflict((tx) => reviveOne(tx, id)));
    wake();
    return "queued";
  }

  return {
    async list(query = {}) {
      const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? PAGE_DEFAULT)), DEAD_LETTER_PAGE_MAX);
      const page = await store.listDeadLetters({
        conversationId: query.conversationId,
        limit,
        before: query.cursor,
      });
      const deadLetters = await Promise.all(page.jobs.map(async (job) => toDeadLetter(job, await messageIdOf(job))));
      return { deadLetters, ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}) };
    },

    replay,

    async replayAll(query = {}) {
      // The ids first, then one transaction each: a replayed job leaves the list, which would move
      // a cursor under our feet.
      const ids: number[] = [];
      let before: number | undefined;
      do {
        const page = await store.listDeadLetters({
          conversationId: query.conversationId,
          limit: DEAD_LETTER_PAGE_MAX,
          before,
        });
        ids.push(...page.jobs.map((job) => job.id));
        before = page.nextCursor;
      } while (before !== undefined);
      let count = 0;
      for (const id of ids) {
        try {
          replayed(await service.withRetryOnConflict((tx) => reviveOne(tx, id)));
          count++;
        } catch (error) {
          // Replayed (or erased) meanwhile by someone else: not ours to count, not a failure.
          if (
            error instanceof BridgeError &&
            (error.code === "dead_letter_not_dead" || error.code === "dead_letter_not_found")
          )
            continue;
          throw error;
        }
      }
      if (count > 0) wake();
      return count;
    },
  };

  async function messageIdOf(job: OutboxJob): Promise<string | undefined> {
    if (job.messageUuid !== undefined) return (await store.getMessage(job.messageUuid))?.messageId;
    const acked = job.kind === "ack" ? job.payload.messageId : undefined;
    return typeof acked === "string" ? acked : undefined;
  }
}

/** The side a lane delivers to. */
export function laneTarget(lane: OutboxLane): "helpline" | "chatbot" {
  return lane === "helpline" || lane === "ack:helpline" ? "helpline" : "chatbot";
}

/** A dead job as listed (see {@link DeadLetter}). */
export function toDeadLetter(job: OutboxJob, messageId: string | undefined): DeadLetter {
  return {
    id: job.id,
    conversationId: job.conversationId,
    messageId,
    kind: job.kind === "renotify" ? "message" : job.kind,
    target: laneTarget(job.lane),
    attempts: job.attempts,
    lastError: job.lastError ?? { code: "unknown" },
    failedAt: new Date(job.deadAt ?? Date.parse(job.createdAt)).toISOString(),
  };
}
