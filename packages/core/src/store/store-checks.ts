import type { Conversation, ConversationState, MessageStatus, OutboxJob } from "../domain/model";
import type { ClaimQuery, ConversationCounts } from "./store";

/** Argument checks every `Store` implementation applies the same way. */

export function assertPositiveInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
}

export function assertClaimQuery(query: ClaimQuery): void {
  assertPositiveInteger(query.limit, "limit");
  if (!Number.isFinite(query.now)) throw new RangeError("now must be a finite number");
  if (!Number.isFinite(query.leaseMs) || query.leaseMs <= 0) throw new RangeError("leaseMs must be positive");
  if (query.owner === "") throw new RangeError("owner must not be empty");
}

/** Every conversation state, in lifecycle order. */
export const CONVERSATION_STATES: readonly ConversationState[] = ["requested", "hunting", "connected", "closed"];

/** Counts with every state at 0, to fill in from a `GROUP BY state` (which omits empty states). */
export function emptyConversationCounts(): ConversationCounts {
  return { requested: 0, hunting: 0, connected: 0, closed: 0 };
}

/** Adds one `GROUP BY state` row; a state the bridge does not know (a newer schema) is ignored. */
export function addConversationCount(counts: ConversationCounts, state: string, n: number | string): void {
  if (Object.hasOwn(counts, state)) counts[state as ConversationState] += Number(n);
}

/** Message counts with every status at 0, to fill in from a `GROUP BY status` (recentConversations). */
export function emptyMessageCounts(): Record<MessageStatus, number> {
  return { accepted: 0, sent: 0, delivered: 0, read: 0, failed: 0 };
}

/**
 * `ConversationSummary.lastActivityAt`: the later of the conversation's `updatedAt` and its newest
 * message's `createdAtMs` (undefined when it has none); `updatedAt` as stored when it is the later.
 */
export function lastActivityAt(updatedAt: string, newestMessageMs: number | undefined): string {
  return newestMessageMs !== undefined && newestMessageMs > Date.parse(updatedAt)
    ? new Date(newestMessageMs).toISOString()
    : updatedAt;
}

/** A dead-lettered job (absent state = pending). */
export function isDead(job: OutboxJob): boolean {
  return job.state === "dead";
}

/** The dead-letter listing order: newest `deadAt` first, then highest id. */
export function compareDeadLetters(a: OutboxJob, b: OutboxJob): number {
  return (b.deadAt ?? 0) - (a.deadAt ?? 0) || b.id - a.id;
}

export function assertNextVersion(conversation: Conversation, expectedVersion: number): void {
  if (conversation.version !== expectedVersion + 1) {
    throw new Error("updateConversation: conversation.version must be expectedVersion + 1");
  }
}

/**
 * A promise-chain mutex: each call runs after every call queued before it has settled, whether it
 * resolved or threw.
 */
export function createSerialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/**
 * The column values of a conversation after its id, in the order of the insert and update statements.
 * `closed_at_ms` is `closedAt` (else `updatedAt`) as epoch ms, so retention compares instants, not
 * ISO strings of different precision.
 */
export function conversationColumns(c: Conversation): Array<string | number | null> {
  const closedAtMs = c.state === "closed" ? Date.parse(c.closedAt ?? c.updatedAt) : Number.NaN;
  const updatedAtMs = Date.parse(c.updatedAt);
  return [
    c.state,
    c.huntDeadline ?? null,
    Number.isNaN(closedAtMs) ? null : closedAtMs,
    c.version,
    JSON.stringify(c),
    Number.isNaN(updatedAtMs) ? null : updatedAtMs,
  ];
}

/**
 * What of a job the SQL stores keep in its JSON column: everything their columns do not hold
 * (attempts, due time, lease, state, dead time and id are columns of their own).
 */
export function jobData(job: Omit<OutboxJob, "id">): Record<string, unknown> {
  const {
    attempts: _a,
    nextAttemptAt: _n,
    leaseOwner: _o,
    leaseUntil: _u,
    state: _s,
    deadAt: _d,
    id: _id,
    ...data
  } = job as OutboxJob;
  return data;
}
