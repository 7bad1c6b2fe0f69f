import type { Conversation, Message, MessageDirection, OutboxJob, OutboxLane, StoredToken } from "../domain/model";
import { StoreConflictError, StoreUnavailableError } from "./errors";
import type {
  ClaimQuery,
  ConversationCounts,
  ConversationSummary,
  DeadLetterPage,
  DeadLetterQuery,
  ListMessagesQuery,
  MessagePage,
  NewMessage,
  NewOutboxJob,
  OutboxStats,
  PurgeResult,
  Store,
  StoreTx,
} from "./store";
import {
  assertClaimQuery,
  assertNextVersion,
  assertPositiveInteger,
  compareDeadLetters,
  createSerialQueue,
  emptyConversationCounts,
  emptyMessageCounts,
  isDead,
  lastActivityAt,
} from "./store-checks";

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Fault injection for tests: consulted at the start of every operation (each `Store` and `StoreTx`
   * method). When it returns an error, the operation throws it and changes nothing; inside a
   * transaction that rolls the whole transaction back. Return a `StoreUnavailableError` to make the
   * store "unavailable", `undefined` to let the operation run.
   */
  failWith?: (() => Error | undefined) | undefined;
}

type Undo = () => void;

/**
 * A `Store` kept in memory: for tests and demos only, everything is lost when the process ends.
 *
 * It keeps the promises of the interface: every operation (reads too) runs alone, one after another,
 * so transactions never interleave and never see each other's uncommitted writes; a transaction whose
 * `fn` throws is undone completely; values are copied in and out (`structuredClone`), so a caller
 * cannot change stored state by mutating an object it passed or got back.
 *
 * Inside `transaction(fn)`, use only the `tx` handed to `fn`: calling the store itself from `fn` waits
 * for the transaction to end, which never happens (a deadlock).
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const conversations = new Map<string, Conversation>();
  const messages = new Map<string, Message>();
  /** `(conversationId, direction, messageId)` → message uuid. */
  const messageKeys = new Map<string, string>();
  const jobs = new Map<number, OutboxJob>();
  const tokens = new Map<string, StoredToken>();
  let lastSeq = 0;
  let lastJobId = 0;
  let closed = false;

  const serial = createSerialQueue();

  const check = (): void => {
    if (closed) throw new StoreUnavailableError("the store is closed");
    const error = options.failWith?.();
    if (error) throw error;
  };

  /** Runs one operation alone: after every operation queued before it. */
  const op = <T>(fn: () => T): Promise<T> =>
    serial(async () => {
      check();
      return fn();
    });

  const set = <K, V>(map: Map<K, V>, key: K, value: V, undo: Undo[] | undefined): void => {
    if (undo) {
      const had = map.has(key);
      const previous = map.get(key);
      undo.push(() => {
        if (had) map.set(key, previous as V);
        else map.delete(key);
      });
    }
    map.set(key, value);
  };

  const remove = <K, V>(map: Map<K, V>, key: K, undo: Undo[] | undefined): boolean => {
    if (!map.has(key)) return false;
    const previous = map.get(key) as V;
    undo?.push(() => map.set(key, previous));
    map.delete(key);
    return true;
  };

  const sortedJobs = (): OutboxJob[] => [...jobs.values()].sort((a, b) => a.id - b.id);
  const pending = (): OutboxJob[] => sortedJobs().filter((job) => !isDead(job));
  const sortedMessages = (): Message[] => [...messages.values()].sort((a, b) => a.seq - b.seq);

  /** The oldest pending job of every `(conversationId, lane)`, in one pass: dead jobs hold no lane. */
  const laneHeads = (): OutboxJob[] => {
    const heads = new Map<string, OutboxJob>();
    for (const job of jobs.values()) {
      if (isDead(job)) continue;
      const key = `${job.lane} ${job.conversationId}`;
      const head = heads.get(key);
      if (!head || job.id < head.id) heads.set(key, job);
    }
    return [...heads.values()];
  };

  /** Deletes a conversation with its messages and jobs; returns how many dead jobs went with it. */
  const deleteConversationRows = (id: string): number | undefined => {
    if (!conversations.delete(id)) return undefined;
    for (const message of [...messages.values()]) {
      if (message.conversationId !== id) continue;
      messages.delete(message.uuid);
      messageKeys.delete(messageKey(message.conversationId, message.direction, message.messageId));
    }
    let deadLetters = 0;
    for (const job of [...jobs.values()]) {
      if (job.conversationId !== id) continue;
      if (isDead(job)) deadLetters++;
      jobs.delete(job.id);
    }
    return deadLetters;
  };

  const makeTx = (undo: Undo[], isOpen: () => boolean): StoreTx => {
    /** Runs a tx operation: only while its transaction is open, after the fault check. */
    const txOp = <T>(fn: () => T): Promise<T> => {
      try {
        if (!isOpen()) throw new Error("this transaction has ended: use the tx only inside its fn");
        check();
        return Promise.resolve(fn());
      } catch (error) {
        return Promise.reject(error);
      }
    };

    return {
      getConversation: (id) => txOp(() => copy(conversations.get(id))),

      insertConversation: (conversation) =>
        txOp(() => {
          if (conversations.has(conversation.id)) throw new StoreConflictError("conversation");
          set(conversations, conversation.id, copy(conversation), undo);
        }),

      updateConversation: (conversation, expectedVersion) =>
        txOp(() => {
          assertNextVersion(conversation, expectedVersion);
          const stored = conversations.get(conversation.id);
          if (!stored || stored.version !== expectedVersion) return false;
          set(conversations, conversation.id, copy(conversation), undo);
          return true;
        }),

      getMessage: (uuid) => txOp(() => copy(messages.get(uuid))),

      getMessageByMessageId: (conversationId, direction, messageId) =>
        txOp(() => {
          const uuid = messageKeys.get(messageKey(conversationId, direction, messageId));
          return uuid === undefined ? undefined : copy(messages.get(uuid));
        }),

      findRecentByTextHash: (conversationId, direction, textHash, sinceMs) =>
        txOp(() => {
          let found: Message | undefined;
          for (const m of messages.values()) {
            if (m.conversationId !== conversationId || m.direction !== direction || m.textHash !== textHash) continue;
            if (m.createdAtMs < sinceMs) continue;
            if (!found || m.seq > found.seq) found = m;
          }
          return copy(found);
        }),

      insertMessage: (message: NewMessage) =>
        txOp(() => {
          if (!conversations.has(message.conversationId)) throw new Error(UNKNOWN_CONVERSATION);
          const key = messageKey(message.conversationId, message.direction, message.messageId);
          if (messageKeys.has(key) || messages.has(message.uuid)) throw new StoreConflictError("message");
          const stored: Message = { ...copy(message), seq: ++lastSeq };
          set(messages, stored.uuid, stored, undo);
          set(messageKeys, key, stored.uuid, undo);
          return copy(stored);
        }),

      updateMessage: (message) =>
        txOp(() => {
          const stored = messages.get(message.uuid);
          if (!stored) throw new Error("updateMessage: no message with that uuid");
          if (
            stored.conversationId !== message.conversationId ||
            stored.direction !== message.direction ||
            stored.messageId !== message.messageId ||
            stored.seq !== message.seq
          ) {
            throw new Error("updateMessage: conversationId, direction, messageId and seq cannot change");
          }
          set(messages, message.uuid, copy(message), undo);
        }),

      enqueueJob: (job: NewOutboxJob) =>
        txOp(() => {
          if (!conversations.has(job.conversationId)) throw new Error(UNKNOWN_CONVERSATION);
          const { leaseOwner: _owner, leaseUntil: _until, ...fields } = copy(job) as OutboxJob;
          const stored: OutboxJob = { ...fields, id: ++lastJobId };
          set(jobs, stored.id, stored, undo);
          return copy(stored);
        }),

      deleteJob: (id) =>
        txOp(() => {
          remove(jobs, id, undo);
        }),

      rescheduleJob: (id, attempts, nextAttemptAt, details) =>
        txOp(() => {
          const stored = jobs.get(id);
          if (!stored || isDead(stored)) return;
          const { leaseOwner: _owner, leaseUntil: _until, ...rest } = stored;
          const next: OutboxJob = { ...rest, attempts, nextAttemptAt };
          if (details?.firstAttemptAt !== undefined && next.firstAttemptAt === undefined) {
            next.firstAttemptAt = details.firstAttemptAt;
          }
          if (details?.lastError) next.lastError = copy(details.lastError);
          set(jobs, id, next, undo);
        }),

      deadLetterJob: (id, details) =>
        txOp(() => {
          const stored = jobs.get(id);
          if (!stored) return;
          const { leaseOwner: _owner, leaseUntil: _until, ...rest } = stored;
          const dead: OutboxJob = {
            ...rest,
            state: "dead",
            attempts: details.attempts,
            deadAt: details.deadAt,
            lastError: copy(details.lastError),
          };
          set(jobs, id, dead, undo);
        }),

      getJob: (id) => txOp(() => copy(jobs.get(id))),

      reviveJob: (id, nextAttemptAt, replayedAt) =>
        txOp(() => {
          const stored = jobs.get(id);
          if (!stored || !isDead(stored)) return false;
          const {
            state: _state,
            firstAttemptAt: _first,
            deadAt: _deadAt,
            lastError: _error,
            leaseOwner: _owner,
            leaseUntil: _until,
            ...rest
          } = stored;
          set(jobs, id, { ...rest, attempts: 0, nextAttemptAt, replayedAt }, undo);
          return true;
        }),
    };
  };

  return {
    transaction: <T>(fn: (tx: StoreTx) => Promise<T>) =>
      serial(async () => {
        check();
        const undo: Undo[] = [];
        let open = true;
        const tx = makeTx(undo, () => open);
        try {
          return await fn(tx);
        } catch (error) {
          for (let i = undo.length - 1; i >= 0; i--) undo[i]?.();
          throw error;
        } finally {
          open = false;
        }
      }),

    getConversation: (id) => op(() => copy(conversations.get(id))),

    getMessage: (uuid) => op(() => copy(messages.get(uuid))),

    listMessages: (query: ListMessagesQuery) =>
      op((): MessagePage => {
        assertPositiveInteger(query.limit, "limit");
        const { conversationId, before } = query;
        const matching = sortedMessages()
          .reverse()
          .filter(
            (m) =>
              (conversationId === undefined || m.conversationId === conversationId) &&
              (before === undefined || m.seq < before),
          );
        const page = matching.slice(0, query.limit);
        const last = page[page.length - 1];
        return {
          messages: page.map((m) => copy(m)),
          nextCursor: matching.length > page.length && last ? last.seq : undefined,
        };
      }),

    conversationMessages: (conversationId) =>
      op(() =>
        sortedMessages()
          .filter((m) => m.conversationId === conversationId)
          .map((m) => copy(m)),
      ),

    claimDueJobs: (query: ClaimQuery) =>
      op(() => {
        assertClaimQuery(query);
        const { now, limit, owner, leaseMs } = query;
        const claimable = laneHeads()
          .filter((job) => job.nextAttemptAt <= now && !isLeased(job, now))
          .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.id - b.id)
          .slice(0, limit);
        return claimable.map((job) => {
          const claimed: OutboxJob = { ...job, leaseOwner: owner, leaseUntil: now + leaseMs };
          jobs.set(job.id, claimed);
          return copy(claimed);
        });
      }),

    renewLease: (id, owner, leaseUntil) =>
      op(() => {
        const job = jobs.get(id);
        if (!job || job.leaseOwner !== owner) return false;
        jobs.set(id, { ...job, leaseUntil });
        return true;
      }),

    releaseLeases: (owner) =>
      op(() => {
        for (const job of [...jobs.values()]) {
          if (job.leaseOwner === undefined || (owner !== undefined && job.leaseOwner !== owner)) continue;
          const { leaseOwner: _owner, leaseUntil: _until, ...rest } = job;
          jobs.set(job.id, rest);
        }
      }),

    nextJobDueAt: () =>
      op(() => {
        let earliest: number | undefined;
        for (const job of laneHeads()) {
          const at = claimableAt(job);
          if (earliest === undefined || at < earliest) earliest = at;
        }
        return earliest;
      }),

    pendingJobs: (conversationId?: string, lane?: OutboxLane) =>
      op(() =>
        pending()
          .filter(
            (job) =>
              (conversationId === undefined || job.conversationId === conversationId) &&
              (lane === undefined || job.lane === lane),
          )
          .map((job) => copy(job)),
      ),

    listDeadLetters: (query: DeadLetterQuery) =>
      op((): DeadLetterPage => {
        assertPositiveInteger(query.limit, "limit");
        const { conversationId, before } = query;
        const dead = [...jobs.values()]
          .filter((job) => isDead(job) && (conversationId === undefined || job.conversationId === conversationId))
          .sort(compareDeadLetters);
        const cursor = before === undefined ? undefined : jobs.get(before);
        // A cursor job replayed or purged since: fall back to its id alone (ids only grow).
        const after =
          before === undefined
            ? dead
            : dead.filter((job) => (cursor && isDead(cursor) ? compareDeadLetters(cursor, job) < 0 : job.id < before));
        const page = after.slice(0, query.limit);
        const last = page[page.length - 1];
        return {
          jobs: page.map((job) => copy(job)),
          nextCursor: after.length > page.length && last ? last.id : undefined,
        };
      }),

    outboxStats: (_now: number) =>
      op((): OutboxStats => {
        let count = 0;
        let deadLetters = 0;
        let oldestPendingAt: number | undefined;
        for (const job of jobs.values()) {
          if (isDead(job)) {
            deadLetters++;
            continue;
          }
          count++;
          const created = Date.parse(job.createdAt);
          if (!Number.isNaN(created) && (oldestPendingAt === undefined || created < oldestPendingAt)) {
            oldestPendingAt = created;
          }
        }
        return { pending: count, oldestPendingAt, deadLetters };
      }),

    conversationCounts: () =>
      op((): ConversationCounts => {
        const counts = emptyConversationCounts();
        for (const conversation of conversations.values()) counts[conversation.state]++;
        return counts;
      }),

    // A scan: the memory store is for tests and demos; the durable stores read an index.
    // Ordered by `updatedAt`, not by `lastActivityAt` (which is read, not stored).
    recentConversations: (limit) =>
      op((): ConversationSummary[] => {
        assertPositiveInteger(limit, "limit");
        const recent = [...conversations.values()]
          .sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt) || compareStrings(b.id, a.id))
          .slice(0, limit);
        return recent.map((conversation) => {
          const messageCounts = emptyMessageCounts();
          let newestMs: number | undefined;
          for (const m of messages.values()) {
            if (m.conversationId !== conversation.id) continue;
            messageCounts[m.status]++;
            newestMs = Math.max(newestMs ?? m.createdAtMs, m.createdAtMs);
          }
          return {
            conversation: copy(conversation),
            messageCounts,
            lastActivityAt: lastActivityAt(conversation.updatedAt, newestMs),
          };
        });
      }),

    dueHunts: (now, limit) =>
      op(() => {
        assertPositiveInteger(limit, "limit");
        return [...conversations.values()]
          .filter((c) => c.state === "hunting" && c.huntDeadline !== undefined && c.huntDeadline <= now)
          .sort((a, b) => (a.huntDeadline ?? 0) - (b.huntDeadline ?? 0) || compareStrings(a.id, b.id))
          .slice(0, limit)
          .map((c) => copy(c));
      }),

    nextHuntDeadline: () =>
      op(() => {
        let earliest: number | undefined;
        for (const c of conversations.values()) {
          if (c.state !== "hunting" || c.huntDeadline === undefined) continue;
          if (earliest === undefined || c.huntDeadline < earliest) earliest = c.huntDeadline;
        }
        return earliest;
      }),

    putToken: (token) =>
      op(() => {
        tokens.set(token.hash, copy(token));
      }),

    getToken: (hash) => op(() => copy(tokens.get(hash))),

    revokeToken: (hash) =>
      op(() => {
        const token = tokens.get(hash);
        if (!token) return false;
        tokens.set(hash, { ...token, revoked: true });
        return true;
      }),

    revokeConsumerTokens: (consumer) =>
      op(() => {
        let count = 0;
        for (const token of tokens.values()) {
          if (token.consumer !== consumer || token.revoked) continue;
          tokens.set(token.hash, { ...token, revoked: true });
          count++;
        }
        return count;
      }),

    deleteExpiredTokens: (now) =>
      op(() => {
        let count = 0;
        for (const token of [...tokens.values()]) {
          if (token.expiresAt < now && tokens.delete(token.hash)) count++;
        }
        return count;
      }),

    deleteConversation: (id) => op(() => deleteConversationRows(id) !== undefined),

    purgeClosedBefore: (closedBeforeIso) =>
      op((): PurgeResult => {
        const cutoff = parseIso(closedBeforeIso);
        const withPending = new Set(pending().map((job) => job.conversationId));
        const result: PurgeResult = { conversations: 0, deadLetters: 0, pendingSkipped: 0 };
        for (const c of [...conversations.values()]) {
          const closedAtMs = closedAtOf(c);
          if (closedAtMs === undefined || closedAtMs >= cutoff) continue;
          // Something accepted is still on its way: keep the conversation until it is delivered or dead.
          if (withPending.has(c.id)) {
            result.pendingSkipped++;
            continue;
          }
          const deadLetters = deleteConversationRows(c.id);
          if (deadLetters === undefined) continue;
          result.conversations++;
          result.deadLetters += deadLetters;
        }
        return result;
      }),

    ping: () => op(() => undefined),

    close: () =>
      serial(async () => {
        closed = true;
      }),
  };
}

/** Thrown (as a plain `Error`) when a message or job names a conversation the store does not hold. */
const UNKNOWN_CONVERSATION = "the conversation does not exist";

function copy<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}

function messageKey(conversationId: string, direction: MessageDirection, messageId: string): string {
  return JSON.stringify([conversationId, direction, messageId]);
}

function isLeased(job: OutboxJob, now: number): boolean {
  return job.leaseOwner !== undefined && job.leaseUntil !== undefined && job.leaseUntil > now;
}

/** When a lane head can be claimed: once due, and once its lease (if any) has lapsed. */
function claimableAt(job: OutboxJob): number {
  return job.leaseOwner !== undefined && job.leaseUntil !== undefined
    ? Math.max(job.nextAttemptAt, job.leaseUntil)
    : job.nextAttemptAt;
}

/** Epoch ms of a closed conversation's close (`closedAt`, else `updatedAt`); undefined when not closed. */
function closedAtOf(c: Conversation): number | undefined {
  if (c.state !== "closed") return undefined;
  const at = Date.parse(c.closedAt ?? c.updatedAt);
  return Number.isNaN(at) ? undefined : at;
}

function parseIso(iso: string): number {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) throw new RangeError("purgeClosedBefore: not an ISO date");
  return at;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
