import type {
  Conversation,
  ConversationState,
  Message,
  MessageDirection,
  OutboxJob,
  OutboxLane,
  StoredToken,
} from "../domain/model";
import { StoreConflictError, StoreUnavailableError } from "./errors";
import {
  decodeConversation,
  decodeMessage,
  encodeConversation,
  encodeMessage,
  flatString,
  messageRecordMatcher,
  messageSeqOf,
  uuidKey,
} from "./memory-records";
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
  CONVERSATION_STATES,
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
 * A conversation as the memory store keeps it: its record, and its messages' records in seq order.
 * `messages` is never changed in place, only replaced: sized to its content, and a rollback puts the
 * previous array back.
 */
interface ConversationRow {
  readonly id: string;
  /** The state the record holds (undefined if not one the bridge knows), for the scans by state. */
  state: ConversationState | undefined;
  record: string;
  messages: readonly string[];
}

/** Shared by every conversation without messages. */
const NO_MESSAGES: readonly string[] = Object.freeze([]);

/**
 * Where to look for a message: `uuidKey(uuid)` → the row (or, when two uuids share a key, rows) of
 * its conversation. A small-integer key rather than the uuid: a 36-character string per message
 * would cost more than the Map entry itself.
 */
type MessageIndex = Map<number, ConversationRow | ConversationRow[]>;

/**
 * A `Store` kept in memory: for tests and demos only, everything is lost when the process ends.
 *
 * It keeps the promises of the interface: every operation (reads too) runs alone, one after another,
 * so transactions never interleave and never see each other's uncommitted writes; a transaction whose
 * `fn` throws is undone completely; values are copied in and out, so a caller cannot change stored
 * state by mutating an object it passed or got back. Conversations and messages are kept as compact
 * JSON text (`memory-records.ts`: a JSON round trip, like the durable stores', in about a third of
 * the heap of objects), outbox jobs and tokens as `structuredClone`d objects (few at a time: a job
 * goes once delivered; and every claim reads them all).
 *
 * Inside `transaction(fn)`, use only the `tx` handed to `fn`: calling the store itself from `fn` waits
 * for the transaction to end, which never happens (a deadlock).
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const conversations = new Map<string, ConversationRow>();
  const messageIndex: MessageIndex = new Map();
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

  /** Sets `row[key]`; the rollback of the transaction (if any) sets it back. */
  const assign = <K extends keyof ConversationRow>(
    row: ConversationRow,
    key: K,
    value: ConversationRow[K],
    undo: Undo[] | undefined,
  ): void => {
    const previous = row[key];
    undo?.push(() => {
      row[key] = previous;
    });
    row[key] = value;
  };

  const sortedJobs = (): OutboxJob[] => [...jobs.values()].sort((a, b) => a.id - b.id);
  const pending = (): OutboxJob[] => sortedJobs().filter((job) => !isDead(job));

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

  const conversationOf = (row: ConversationRow): Conversation => decodeConversation(row.record, row.id);
  const messageAt = (row: ConversationRow, index: number): Message => decodeMessage(row.messages[index]!, row.id);

  /** Where a message is: its conversation's row and its index there. */
  const locateMessage = (uuid: string): { row: ConversationRow; index: number } | undefined => {
    const isIt = messageRecordMatcher(uuid);
    for (const row of indexedRows(messageIndex, uuid)) {
      const index = row.messages.findIndex(isIt);
      if (index !== -1) return { row, index };
    }
    return undefined;
  };

  const findMessage = (uuid: string): Message | undefined => {
    const found = locateMessage(uuid);
    return found && messageAt(found.row, found.index);
  };

  /** A scan of the conversation's messages: only records holding the `messageId` text are decoded. */
  const findByMessageId = (
    row: ConversationRow,
    direction: MessageDirection,
    messageId: string,
  ): Message | undefined => {
    const needle = JSON.stringify(messageId);
    for (let i = 0; i < row.messages.length; i++) {
      if (!row.messages[i]!.includes(needle)) continue;
      const message = messageAt(row, i);
      if (message.direction === direction && message.messageId === messageId) return message;
    }
    return undefined;
  };

  /** Deletes a conversation with its messages and jobs; returns how many dead jobs went with it. */
  const deleteConversationRows = (id: string): number | undefined => {
    const row = conversations.get(id);
    if (!row) return undefined;
    conversations.delete(id);
    for (const record of row.messages) unindexMessage(messageIndex, decodeMessage(record, id).uuid, row);
    let deadLetters = 0;
    for (const job of [...jobs.values()]) {
      if (job.conversationId !== id) continue;
      if (isDead(job)) deadLetters++;
      jobs.delete(job.id);
    }
    return deadLetters;
  };

  /** The conversations in `hunting`: only those records are decoded. */
  const hunting = (): Conversation[] => {
    const found: Conversation[] = [];
    for (const row of conversations.values()) if (row.state === "hunting") found.push(conversationOf(row));
    return found;
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
      getConversation: (id) =>
        txOp(() => {
          const row = conversations.get(id);
          return row && conversationOf(row);
        }),

      insertConversation: (conversation) =>
        txOp(() => {
          if (conversations.has(conversation.id)) throw new StoreConflictError("conversation");
          const id = flatString(conversation.id);
          const row: ConversationRow = {
            id,
            state: knownState(conversation.state),
            record: encodeConversation(conversation),
            messages: NO_MESSAGES,
          };
          set(conversations, id, row, undo);
        }),

      updateConversation: (conversation, expectedVersion) =>
        txOp(() => {
          assertNextVersion(conversation, expectedVersion);
          const row = conversations.get(conversation.id);
          if (!row || conversationOf(row).version !== expectedVersion) return false;
          assign(row, "record", encodeConversation(conversation), undo);
          assign(row, "state", knownState(conversation.state), undo);
          return true;
        }),

      getMessage: (uuid) => txOp(() => findMessage(uuid)),

      getMessageByMessageId: (conversationId, direction, messageId) =>
        txOp(() => {
          const row = conversations.get(conversationId);
          return row && findByMessageId(row, direction, messageId);
        }),

      findRecentByTextHash: (conversationId, direction, textHash, sinceMs) =>
        txOp(() => {
          const row = conversations.get(conversationId);
          // Newest first (a row is in seq order): the first match is the newest.
          for (let i = (row?.messages.length ?? 0) - 1; i >= 0; i--) {
            const m = messageAt(row!, i);
            if (m.direction === direction && m.textHash === textHash && m.createdAtMs >= sinceMs) return m;
          }
          return undefined;
        }),

      insertMessage: (message: NewMessage) =>
        txOp(() => {
          const row = conversations.get(message.conversationId);
          if (!row) throw new Error(UNKNOWN_CONVERSATION);
          if (locateMessage(message.uuid) || findByMessageId(row, message.direction, message.messageId)) {
            throw new StoreConflictError("message");
          }
          const record = encodeMessage({ ...message, seq: ++lastSeq });
          // concat, not push: push would leave room for ~16 more in every conversation's array.
          assign(row, "messages", row.messages.concat(record), undo);
          const key = uuidKey(message.uuid);
          const indexed = messageIndex.get(key);
          const rows = indexed === undefined ? row : Array.isArray(indexed) ? [...indexed, row] : [indexed, row];
          set(messageIndex, key, rows, undo);
          return decodeMessage(record, row.id);
        }),

      updateMessage: (message) =>
        txOp(() => {
          const found = locateMessage(message.uuid);
          if (!found) throw new Error("updateMessage: no message with that uuid");
          const stored = messageAt(found.row, found.index);
          if (
            stored.conversationId !== message.conversationId ||
            stored.direction !== message.direction ||
            stored.messageId !== message.messageId ||
            stored.seq !== message.seq
          ) {
            throw new Error("updateMessage: conversationId, direction, messageId and seq cannot change");
          }
          const { row, index } = found;
          assign(row, "messages", row.messages.with(index, encodeMessage(message)), undo);
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

    getConversation: (id) =>
      op(() => {
        const row = conversations.get(id);
        return row && conversationOf(row);
      }),

    getMessage: (uuid) => op(() => findMessage(uuid)),

    listMessages: (query: ListMessagesQuery) =>
      op((): MessagePage => {
        assertPositiveInteger(query.limit, "limit");
        const { conversationId, before } = query;
        const rows =
          conversationId === undefined ? conversations.values() : [conversations.get(conversationId)].filter(isRow);
        // Ordered by the seq at the head of each record: only the page is decoded.
        const matching: { row: ConversationRow; index: number; seq: number }[] = [];
        for (const row of rows) {
          row.messages.forEach((record, index) => {
            const seq = messageSeqOf(record);
            if (before === undefined || seq < before) matching.push({ row, index, seq });
          });
        }
        matching.sort((a, b) => b.seq - a.seq);
        const page = matching.slice(0, query.limit);
        const last = page[page.length - 1];
        return {
          messages: page.map(({ row, index }) => messageAt(row, index)),
          nextCursor: matching.length > page.length && last ? last.seq : undefined,
        };
      }),

    conversationMessages: (conversationId) =>
      op(() => {
        const row = conversations.get(conversationId);
        return row ? row.messages.map((record) => decodeMessage(record, row.id)) : [];
      }),

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
        for (const row of conversations.values()) if (row.state) counts[row.state]++;
        return counts;
      }),

    // A scan: the memory store is for tests and demos; the durable stores read an index.
    // Ordered by `updatedAt`, not by `lastActivityAt` (which is read, not stored).
    recentConversations: (limit) =>
      op((): ConversationSummary[] => {
        assertPositiveInteger(limit, "limit");
        const recent = [...conversations.values()]
          .map((row) => ({ row, conversation: conversationOf(row) }))
          .sort(
            (a, b) =>
              Date.parse(b.conversation.updatedAt) - Date.parse(a.conversation.updatedAt) ||
              compareStrings(b.row.id, a.row.id),
          )
          .slice(0, limit);
        return recent.map(({ row, conversation }) => {
          const messageCounts = emptyMessageCounts();
          let newestMs: number | undefined;
          for (const record of row.messages) {
            const m = decodeMessage(record, row.id);
            messageCounts[m.status]++;
            newestMs = Math.max(newestMs ?? m.createdAtMs, m.createdAtMs);
          }
          return { conversation, messageCounts, lastActivityAt: lastActivityAt(conversation.updatedAt, newestMs) };
        });
      }),

    dueHunts: (now, limit) =>
      op(() => {
        assertPositiveInteger(limit, "limit");
        return hunting()
          .filter((c) => c.huntDeadline !== undefined && c.huntDeadline <= now)
          .sort((a, b) => (a.huntDeadline ?? 0) - (b.huntDeadline ?? 0) || compareStrings(a.id, b.id))
          .slice(0, limit);
      }),

    nextHuntDeadline: () =>
      op(() => {
        let earliest: number | undefined;
        for (const c of hunting()) {
          if (c.huntDeadline === undefined) continue;
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
        for (const row of [...conversations.values()]) {
          if (row.state !== "closed") continue;
          const c = conversationOf(row);
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

/** The state as one of the bridge's own strings (not the caller's), undefined when unknown. */
function knownState(state: string): ConversationState | undefined {
  return CONVERSATION_STATES.find((known) => known === state);
}

function isRow(row: ConversationRow | undefined): row is ConversationRow {
  return row !== undefined;
}

/** The rows that may hold the message `uuid`. */
function indexedRows(index: MessageIndex, uuid: string): readonly ConversationRow[] {
  const indexed = index.get(uuidKey(uuid));
  return indexed === undefined ? [] : Array.isArray(indexed) ? indexed : [indexed];
}

/** Drops one entry of `row` under the message's key (erasure: no rollback). */
function unindexMessage(index: MessageIndex, uuid: string, row: ConversationRow): void {
  const key = uuidKey(uuid);
  const indexed = index.get(key);
  if (!Array.isArray(indexed)) {
    if (indexed === row) index.delete(key);
    return;
  }
  const rest = [...indexed];
  rest.splice(rest.indexOf(row), 1);
  index.set(key, rest.length === 1 ? rest[0]! : rest);
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
