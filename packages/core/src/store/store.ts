import type {
  Conversation,
  ConversationState,
  Message,
  MessageDirection,
  MessageStatus,
  OutboxJob,
  OutboxJobError,
  OutboxLane,
  StoredToken,
} from "../domain/model";

/** A new job: the store assigns `id`; it starts pending, with no failure recorded. */
export type NewOutboxJob = Omit<
  OutboxJob,
  "id" | "leaseOwner" | "leaseUntil" | "state" | "firstAttemptAt" | "deadAt" | "lastError" | "replayedAt"
>;
/** A new message: the store assigns `seq`. */
export type NewMessage = Omit<Message, "seq">;

export interface MessagePage {
  messages: Message[];
  /** Pass as `before` to get the next (older) page; undefined on the last page. */
  nextCursor?: number | undefined;
}

export interface ListMessagesQuery {
  conversationId?: string | undefined;
  /** Newest first; only messages with `seq < before`. */
  before?: number | undefined;
  limit: number;
}

/** What a failed attempt records besides the new attempts count and due time. */
export interface RescheduleDetails {
  /** Epoch ms of the first failed round: written only when the job has none yet. */
  firstAttemptAt?: number | undefined;
  lastError?: OutboxJobError | undefined;
}

/** What dead-lettering a job records. */
export interface DeadLetterDetails {
  attempts: number;
  /** Epoch ms. */
  deadAt: number;
  lastError: OutboxJobError;
}

export interface DeadLetterQuery {
  conversationId?: string | undefined;
  limit: number;
  /** A job id from `nextCursor`: only dead jobs listed after it (older, or same `deadAt` and lower id). */
  before?: number | undefined;
}

export interface DeadLetterPage {
  jobs: OutboxJob[];
  /** Pass as `before` to get the next (older) page; undefined on the last page. */
  nextCursor?: number | undefined;
}

export interface OutboxStats {
  /** Pending jobs (waiting or in flight). */
  pending: number;
  /** `createdAt` of the oldest pending job, as epoch ms; undefined when none. */
  oldestPendingAt?: number | undefined;
  /** Dead-lettered jobs. */
  deadLetters: number;
}

/** How many conversations are in each state; every state is present (0 when none). */
export type ConversationCounts = Record<ConversationState, number>;

/** A conversation with how many of its messages are in each status (the console's recent list). */
export interface ConversationSummary {
  conversation: Conversation;
  /** Every status is present (0 when none). */
  messageCounts: Record<MessageStatus, number>;
  /**
   * ISO time of the conversation's last activity: the later of its `updatedAt` and its newest
   * message's `createdAt`. Read, not written: a message does not touch the conversation row.
   */
  lastActivityAt: string;
}

export interface PurgeResult {
  /** Closed conversations deleted, with their messages and jobs. */
  conversations: number;
  /** Dead jobs deleted with those conversations. */
  deadLetters: number;
  /** Closed conversations old enough to purge but kept because they still have a pending job. */
  pendingSkipped: number;
}

export interface ClaimQuery {
  /** Epoch ms. */
  now: number;
  /** Most jobs to claim at once. */
  limit: number;
  /** The claiming worker's id. */
  owner: string;
  /** How long the claim holds (ms) before another worker may take the job. */
  leaseMs: number;
}

/**
 * Everything inside one transaction. All writes of one `transaction()` commit together or not at
 * all. Updates are conditional (optimistic concurrency on `version`) so no update is lost when
 * several instances share one database.
 */
export interface StoreTx {
  getConversation(id: string): Promise<Conversation | undefined>;
  /** Throws `StoreConflictError` when a conversation with that id exists. */
  insertConversation(conversation: Conversation): Promise<void>;
  /**
   * Writes `conversation` (whose `version` is already incremented) only if the stored version is
   * `expectedVersion`. Returns false, writing nothing, when it is not.
   */
  updateConversation(conversation: Conversation, expectedVersion: number): Promise<boolean>;

  getMessage(uuid: string): Promise<Message | undefined>;
  getMessageByMessageId(
    conversationId: string,
    direction: MessageDirection,
    messageId: string,
  ): Promise<Message | undefined>;
  /**
   * The newest message of the conversation in that direction with that text hash whose
   * `createdAtMs >= sinceMs` (the 5 s identical-text rule).
   */
  findRecentByTextHash(
    conversationId: string,
    direction: MessageDirection,
    textHash: string,
    sinceMs: number,
  ): Promise<Message | undefined>;
  /** Assigns and returns `seq`. Throws `StoreConflictError` on a duplicate (conversationId, direction, messageId). */
  insertMessage(message: NewMessage): Promise<Message>;
  /** Replaces a stored message (matched by uuid). */
  updateMessage(message: Message): Promise<void>;

  /** Assigns and returns the job's id. */
  enqueueJob(job: NewOutboxJob): Promise<OutboxJob>;
  /** Removes a finished job (pending or dead). */
  deleteJob(id: number): Promise<void>;
  /**
   * Records a failed attempt: new attempts count, next due time, and `details` (its `firstAttemptAt`
   * only when the job has none yet); releases the lease.
   */
  rescheduleJob(id: number, attempts: number, nextAttemptAt: number, details?: RescheduleDetails): Promise<void>;
  /**
   * Marks a job dead (out of retries): kept, lease released. A dead job is never claimed, is not in
   * `pendingJobs` nor `nextJobDueAt`, and does not hold its lane: the next job of the lane becomes the
   * head. Does nothing when the job is gone.
   */
  deadLetterJob(id: number, details: DeadLetterDetails): Promise<void>;
  /** A job, pending or dead. */
  getJob(id: number): Promise<OutboxJob | undefined>;
  /**
   * Only when the job is dead: makes it pending again, due at `nextAttemptAt`, with `attempts` 0,
   * `firstAttemptAt`/`deadAt`/`lastError` cleared and `replayedAt` set. It keeps its id, so it goes back
   * to its place in its lane, ahead of the jobs still waiting there. Returns false, changing nothing,
   * when the job is not dead (or gone); of two concurrent revivals exactly one gets true.
   */
  reviveJob(id: number, nextAttemptAt: number, replayedAt: number): Promise<boolean>;
}

/**
 * The persistence port. Implementations: `createMemoryStore()` (tests), `createSqliteStore()`
 * (`@openchs-bridge/core/sqlite`, the embedded durable default), PostgreSQL (several instances).
 * One conformance suite (`storeConformance`) runs against every implementation.
 */
export interface Store {
  /** Runs `fn` atomically. Transactions of one store never interleave their writes. */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;

  getConversation(id: string): Promise<Conversation | undefined>;
  getMessage(uuid: string): Promise<Message | undefined>;
  /** Messages newest first (by `seq`), optionally of one conversation. */
  listMessages(query: ListMessagesQuery): Promise<MessagePage>;
  /** All messages of a conversation, oldest first. */
  conversationMessages(conversationId: string): Promise<Message[]>;

  /**
   * Claims up to `limit` jobs that are due, each the oldest (lowest id) job of its
   * `(conversationId, lane)`, skipping lanes whose oldest job is leased by a live lease or not yet
   * due: so one lane never has two jobs in flight, and a failing job holds the ones behind it.
   * Sets `leaseOwner`/`leaseUntil` on the claimed jobs.
   */
  claimDueJobs(query: ClaimQuery): Promise<OutboxJob[]>;
  /** Extends a held lease; false if the job is gone or leased by another owner. */
  renewLease(id: number, owner: string, leaseUntil: number): Promise<boolean>;
  /** Drops every lease (single-instance stores call this at start, after a crash). */
  releaseLeases(owner?: string): Promise<void>;
  /**
   * When the next claim can succeed, to sleep until: the earliest time any lane's head job is due
   * (its `nextAttemptAt`, or its lease end if later). Jobs waiting behind a head do not count.
   * Undefined when there are no jobs.
   */
  nextJobDueAt(): Promise<number | undefined>;
  /** Pending jobs, oldest first (for inspection and tests). */
  pendingJobs(conversationId?: string, lane?: OutboxLane): Promise<OutboxJob[]>;
  /** Dead jobs, newest first (by `deadAt`, then id), optionally of one conversation. */
  listDeadLetters(query: DeadLetterQuery): Promise<DeadLetterPage>;
  /** Counts for readiness and metrics; cheap (indexed). `now` is the caller's clock (epoch ms). */
  outboxStats(now: number): Promise<OutboxStats>;
  /**
   * Conversations by state, for metrics and the console; cheap (answered from an index on `state`,
   * not by reading every conversation).
   */
  conversationCounts(): Promise<ConversationCounts>;

  /**
   * The `limit` most recently updated conversations, newest `updatedAt` first (then highest id), each
   * with its messages counted by status; from an index on the update time, not a table scan.
   */
  recentConversations(limit: number): Promise<ConversationSummary[]>;

  /** Conversations in `hunting` whose `huntDeadline <= now`, oldest deadline first. */
  dueHunts(now: number, limit: number): Promise<Conversation[]>;
  /** The earliest hunt deadline, to sleep until; undefined when none. */
  nextHuntDeadline(): Promise<number | undefined>;

  putToken(token: StoredToken): Promise<void>;
  getToken(hash: string): Promise<StoredToken | undefined>;
  /** Marks one token revoked; false when unknown. */
  revokeToken(hash: string): Promise<boolean>;
  /** Revokes every token of a consumer; returns how many. */
  revokeConsumerTokens(consumer: string): Promise<number>;
  /** Deletes tokens expired before `now`; returns how many. */
  deleteExpiredTokens(now: number): Promise<number>;

  /** Deletes a conversation with its messages and jobs, dead ones too (erasure on request); false when unknown. */
  deleteConversation(id: string): Promise<boolean>;
  /**
   * Deletes closed conversations closed before `closedBeforeIso`, with their messages and (dead)
   * jobs. Never one that still has a pending job: those are kept and counted in `pendingSkipped`.
   */
  purgeClosedBefore(closedBeforeIso: string): Promise<PurgeResult>;

  /**
   * True when several bridge processes share this store (PostgreSQL): a starting instance must
   * then not release the others' leases; they lapse by themselves. Absent means single-process.
   */
  readonly shared?: boolean | undefined;
  /**
   * Optional: calls `listener` whenever jobs may have been enqueued by another instance (e.g. by
   * PostgreSQL `LISTEN/NOTIFY`), so idle workers wake at once rather than at the next poll.
   * Returns a function that unsubscribes.
   */
  onJobsAvailable?(listener: () => void): () => void;

  /** Resolves when the store answers; throws `StoreUnavailableError` otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
