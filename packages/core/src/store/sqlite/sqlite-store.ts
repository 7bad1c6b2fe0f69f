import { DatabaseSync, type SQLOutputValue, type StatementSync } from "node:sqlite";
import {
  type ClaimQuery,
  type Conversation,
  type ListMessagesQuery,
  type Message,
  type MessagePage,
  type NewMessage,
  type NewOutboxJob,
  type OutboxJob,
  type Store,
  StoreConflictError,
  type StoredToken,
  type StoreTx,
  StoreUnavailableError,
} from "@openchs-bridge/core";
// Type-only (erased at build), so taking them from the port file bundles no second copy of the core.
import type { ConversationCounts, ConversationSummary, DeadLetterPage, OutboxStats, PurgeResult } from "../store";
import {
  addConversationCount,
  assertClaimQuery,
  assertPositiveInteger,
  conversationColumns,
  createSerialQueue,
  emptyConversationCounts,
  emptyMessageCounts,
  jobData,
  lastActivityAt,
} from "../store-checks";
import { beginImmediate } from "./begin-immediate";
import { migrate } from "./schema";
import { createWalSync } from "./wal-sync";

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /** The database file (created if missing, its directory must exist), or `":memory:"` (tests). */
  path: string;
  /**
   * Durability in WAL mode. `"FULL"` (default): a transaction's promise settles only once the WAL is
   * synced to disk, so a write acknowledged with 201 survives a power loss or an OS crash as well as a
   * process crash. (sqlite itself commits under `synchronous=NORMAL` and the store syncs the log on
   * libuv's thread pool, so the sync never blocks the event loop; see `wal-sync.ts`.)
   * `"NORMAL"` skips that sync: committed writes still survive the process being killed (SIGKILL),
   * but the last transactions before a power loss or an OS crash may be lost (never corrupted).
   */
  synchronous?: "FULL" | "NORMAL" | undefined;
  /**
   * How long (ms) a write waits for another process holding the write lock before the store reports
   * itself unavailable (`PRAGMA busy_timeout`; default 5000). `node:sqlite` is synchronous: the wait
   * blocks this thread, so keep it short, and share one file between processes only when you must.
   */
  busyTimeoutMs?: number | undefined;
}

/** What a message or job naming a missing conversation throws (a caller bug; not a conflict). */
const UNKNOWN_CONVERSATION = "the conversation does not exist";

/** SQLite primary result codes meaning the database cannot be reached or written right now. */
const UNAVAILABLE_CODES = new Set([
  5, // SQLITE_BUSY
  6, // SQLITE_LOCKED
  7, // SQLITE_NOMEM
  8, // SQLITE_READONLY
  9, // SQLITE_INTERRUPT
  10, // SQLITE_IOERR
  11, // SQLITE_CORRUPT
  13, // SQLITE_FULL
  14, // SQLITE_CANTOPEN
  15, // SQLITE_PROTOCOL
  26, // SQLITE_NOTADB
]);
const SQLITE_CONSTRAINT_FOREIGNKEY = 787;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

type Row = Record<string, SQLOutputValue>;

/** A `transaction(fn)` call waiting for its batch (see `runBatch`). */
interface PendingTransaction {
  fn: (tx: StoreTx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Transactions committed together; `sealed` once it stops taking new ones. */
interface TransactionBatch {
  entries: PendingTransaction[];
  sealed: boolean;
}

/** Most transactions committed together. */
const MAX_BATCH = 64;

/** The next turn of the event loop: the real `setImmediate`, taken at load so that a test's fake timers cannot stall the store. */
const nextTurn: (callback: () => void) => void =
  typeof setImmediate === "function" ? setImmediate : (callback) => setTimeout(callback, 0);

/**
 * The embedded durable `Store`, on `node:sqlite` (Node ≥ 22.13): one database file, WAL mode,
 * `synchronous=FULL` by default, foreign keys on, the schema created and upgraded by versioned
 * migrations (`PRAGMA user_version`). Use it for a single gateway instance; several instances sharing
 * one database need the PostgreSQL store.
 *
 * Every operation runs alone, one after another, on the one connection. Transactions are committed
 * in groups: the `transaction(fn)` calls made together (in one turn of the event loop, with no other
 * operation queued between them; at most 64) run one after another inside one `BEGIN IMMEDIATE` …
 * `COMMIT`, each in its own savepoint, so one sync to disk serves them all; a `fn` that throws is
 * rolled back alone, and every promise settles only after the `COMMIT`. Inside `fn`, use only the `tx` handed
 * to it: calling the store itself from `fn` waits for the transaction to end (a deadlock). A busy,
 * failing or closed database throws `StoreUnavailableError`; a taken unique key `StoreConflictError`.
 *
 * Throws `StoreUnavailableError` when the file cannot be opened.
 *
 * ```ts
 * import { createSqliteStore } from "@openchs-bridge/core/sqlite";
 * const store = createSqliteStore({ path: "./data/bridge.db" });
 * ```
 */
export function createSqliteStore(options: SqliteStoreOptions | string): Store {
  const { path, synchronous, busyTimeoutMs } = resolveSqliteOptions(options);
  // FULL on a file: sqlite commits under NORMAL and the log is synced off the event loop (wal-sync.ts).
  const syncsLog = synchronous === "FULL" && path !== ":memory:" && path !== "";
  const db = openDatabase(path, syncsLog ? "NORMAL" : synchronous, busyTimeoutMs);
  // The log's absolute path, as sqlite resolved the file at open (a later chdir changes neither).
  const walSync = syncsLog ? createWalSync(`${String(db.prepare("PRAGMA database_list").get()?.file)}-wal`) : undefined;
  const statements = prepareStatements(db);
  const serial = createSerialQueue();
  let closed = false;
  /** The group of transactions queued last and not started yet: a transaction called now joins it. */
  let forming: TransactionBatch | undefined;

  const ensureOpen = (): void => {
    if (closed) throw new StoreUnavailableError("the store is closed");
  };

  /** Runs one operation alone, after every operation queued before it; sqlite errors mapped. */
  const op = <T>(fn: () => T | Promise<T>): Promise<T> => {
    // Queued after the forming group: a transaction called from now on must run after this, not in it.
    forming = undefined;
    return serial(async () => {
      ensureOpen();
      try {
        return await fn();
      } catch (error) {
        throw toStoreError(error);
      }
    });
  };

  /** Resolves once what was committed so far is on disk (at once without the log sync: NORMAL, `:memory:`). */
  const durableNow = async (): Promise<void> => {
    try {
      await walSync?.afterCommit();
    } catch (error) {
      // Committed, but not known to be on disk: nobody may hear "done" (a caller retries; dedupe holds).
      throw new StoreUnavailableError("the sqlite write-ahead log could not be synced to disk", { cause: error });
    }
  };

  /**
   * Runs `fn` as one write transaction (for the multi-statement operations outside `transaction`).
   * `durable: false` settles without waiting for the log to reach the disk: for writes a crash may
   * lose (leases: a single-instance store releases them all at start). The next sync carries them,
   * as the log is written in order.
   */
  const write = async <T>(
    fn: () => T,
    { durable = true, durableInput = false }: { durable?: boolean; durableInput?: boolean } = {},
  ): Promise<T> => {
    const result = await op(async () => {
      // Nothing commits while this operation runs: once the sync in flight is done, all is on disk.
      if (durableInput) await walSync?.idle();
      await beginImmediate(db, busyTimeoutMs);
      try {
        const value = fn();
        db.exec("COMMIT");
        return value;
      } catch (error) {
        rollback(db);
        throw error;
      }
    });
    if (durable) await durableNow();
    return result;
  };

  /**
   * Group commit: runs the transactions of a batch one after another inside one sqlite transaction,
   * each in its own savepoint (a failing one is rolled back alone), commits once (one sync to disk
   * for all), and only then settles each caller's promise: nobody hears "done" before the commit.
   * The batch starts on the next turn of the event loop, so the requests that arrived together join it.
   */
  const runBatch = async (batch: TransactionBatch): Promise<void> => {
    await new Promise<void>((resolve) => nextTurn(resolve));
    // One sync at a time, as sqlite's own FULL would: the transactions called meanwhile join this
    // group (it takes entries until it begins), so a group is as large as the sync is slow.
    await walSync?.idle();
    const done: { entry: PendingTransaction; result: unknown }[] = [];
    const failed: { entry: PendingTransaction; error: unknown }[] = [];
    const end = () => {
      batch.sealed = true;
      if (forming === batch) forming = undefined;
    };
    try {
      ensureOpen();
      await beginImmediate(db, busyTimeoutMs);
    } catch (error) {
      end();
      for (const entry of batch.entries) entry.reject(toStoreError(error));
      return;
    }
    let broken: unknown;
    for (let i = 0; i < batch.entries.length && broken === undefined; i++) {
      const entry = batch.entries[i]!;
      let open = true;
      try {
        statements.savepoint.run();
        const result = await entry.fn(makeTx(() => open));
        open = false;
        statements.releaseSavepoint.run();
        done.push({ entry, result });
      } catch (error) {
        open = false;
        failed.push({ entry, error: toStoreError(error) });
        try {
          statements.rollbackToSavepoint.run();
          statements.releaseSavepoint.run();
        } catch (undoError) {
          broken = undoError;
        }
      }
      // sqlite itself rolls the whole transaction back on some errors (full disk, I/O): then nothing holds.
      if (db.isTransaction === false) broken ??= new StoreUnavailableError("the sqlite transaction was rolled back");
    }
    end();
    if (broken === undefined) {
      try {
        db.exec("COMMIT");
      } catch (error) {
        broken = error;
      }
    }
    for (const { entry, error } of failed) entry.reject(error);
    if (broken !== undefined) {
      rollback(db);
      const error = toStoreError(broken);
      for (const { entry } of done) entry.reject(error);
      for (const entry of batch.entries.slice(done.length + failed.length)) entry.reject(error);
      return;
    }
    // Settled once the log is on disk; meanwhile the next group may already commit (not awaited here).
    void durableNow().then(
      () => {
        for (const { entry, result } of done) entry.resolve(result);
      },
      (error: unknown) => {
        for (const { entry } of done) entry.reject(error);
      },
    );
  };

  /**
   * After an erasure or a purge: `secure_delete` zeroed the deleted rows in their pages, but older
   * versions of those pages are still in the write-ahead log. A TRUNCATE checkpoint copies the
   * zeroed pages into the database and empties the log (best effort: another process reading at
   * that moment leaves the log for the next checkpoint).
   */
  const erasePreviousVersions = () =>
    op(() => {
      db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get();
    });

  const {
    getConversation,
    insertConversation,
    updateConversation,
    getMessage,
    getMessageByMessageId,
    findRecentByTextHash,
    insertMessage,
    identityOfMessage,
    updateMessage,
    insertJob,
    deleteJob,
    rescheduleJob,
  } = statements;

  /** A job's row as the job (pending or dead), or undefined. */
  const readJob = (id: number): OutboxJob | undefined => {
    const row = statements.getJob.get(id);
    return row ? decodeJob(row) : undefined;
  };

  /**
   * Makes the oldest pending job of a lane its head, and no other: after a write that may have
   * changed which job that is (a delete, a dead-letter, a revival).
   */
  const refreshLaneHead = (conversationId: string, lane: string): void => {
    statements.clearLaneHead.run(conversationId, lane);
    statements.setLaneHead.run(conversationId, lane);
  };

  const readConversation = (id: string): Conversation | undefined => {
    const row = getConversation.get(id);
    return row ? decodeConversation(row) : undefined;
  };
  const readMessage = (row: Row | undefined): Message | undefined => (row ? decodeMessage(row) : undefined);

  const makeTx = (isOpen: () => boolean): StoreTx => {
    /** Runs a tx operation: only while its transaction is open; sqlite errors mapped. */
    const txOp = <T>(fn: () => T): Promise<T> => {
      try {
        if (!isOpen()) throw new Error("this transaction has ended: use the tx only inside its fn");
        ensureOpen();
        return Promise.resolve(fn());
      } catch (error) {
        return Promise.reject(toStoreError(error));
      }
    };

    return {
      getConversation: (id) => txOp(() => readConversation(id)),

      insertConversation: (c) =>
        txOp(() => {
          try {
            insertConversation.run(c.id, ...conversationColumns(c));
          } catch (error) {
            if (isUniqueViolation(error)) throw new StoreConflictError("conversation");
            throw error;
          }
        }),

      updateConversation: (c, expectedVersion) =>
        txOp(() => {
          if (c.version !== expectedVersion + 1) {
            throw new Error("updateConversation: conversation.version must be expectedVersion + 1");
          }
          return Number(updateConversation.run(...conversationColumns(c), c.id, expectedVersion).changes) > 0;
        }),

      getMessage: (uuid) => txOp(() => readMessage(getMessage.get(uuid))),

      getMessageByMessageId: (conversationId, direction, messageId) =>
        txOp(() => readMessage(getMessageByMessageId.get(conversationId, direction, messageId))),

      findRecentByTextHash: (conversationId, direction, textHash, sinceMs) =>
        txOp(() => readMessage(findRecentByTextHash.get(conversationId, direction, textHash, sinceMs))),

      insertMessage: (m: NewMessage) =>
        txOp(() => {
          let seq: number;
          try {
            const { seq: _ignored, ...fields } = m as Message;
            seq = Number(
              insertMessage.run(
                m.uuid,
                m.conversationId,
                m.direction,
                m.messageId,
                m.textHash,
                m.createdAtMs,
                JSON.stringify(fields),
              ).lastInsertRowid,
            );
          } catch (error) {
            if (isForeignKeyViolation(error)) throw new Error(UNKNOWN_CONVERSATION);
            if (isUniqueViolation(error)) throw new StoreConflictError("message");
            throw error;
          }
          return { ...structuredClone(m), seq } as Message;
        }),

      updateMessage: (m) =>
        txOp(() => {
          const stored = identityOfMessage.get(m.uuid);
          if (!stored) throw new Error("updateMessage: no message with that uuid");
          if (
            stored.conversation_id !== m.conversationId ||
            stored.direction !== m.direction ||
            stored.message_id !== m.messageId ||
            Number(stored.seq) !== m.seq
          ) {
            throw new Error("updateMessage: conversationId, direction, messageId and seq cannot change");
          }
          const { seq: _seq, ...fields } = m;
          updateMessage.run(m.textHash, m.createdAtMs, JSON.stringify(fields), m.uuid);
        }),

      enqueueJob: (job: NewOutboxJob) =>
        txOp(() => {
          const { leaseOwner: _owner, leaseUntil: _until, ...fields } = job as OutboxJob;
          let id: number;
          try {
            id = Number(
              insertJob.run(
                job.conversationId,
                job.lane,
                job.attempts,
                job.nextAttemptAt,
                epochMsOrNull(job.createdAt),
                JSON.stringify(jobData(fields)),
              ).lastInsertRowid,
            );
          } catch (error) {
            if (isForeignKeyViolation(error)) throw new Error(UNKNOWN_CONVERSATION);
            throw error;
          }
          return { ...structuredClone(fields), id };
        }),

      deleteJob: (id) =>
        txOp(() => {
          const row = statements.jobLane.get(id);
          if (!row) return;
          deleteJob.run(id);
          if (Number(row.is_head) === 1) refreshLaneHead(String(row.conversation_id), String(row.lane));
        }),

      rescheduleJob: (id, attempts, nextAttemptAt, details) =>
        txOp(() => {
          const job = readJob(id);
          if (!job || job.state === "dead") return;
          const fields = { ...job };
          if (details?.firstAttemptAt !== undefined && fields.firstAttemptAt === undefined) {
            fields.firstAttemptAt = details.firstAttemptAt;
          }
          if (details?.lastError) fields.lastError = structuredClone(details.lastError);
          rescheduleJob.run(attempts, nextAttemptAt, JSON.stringify(jobData(fields)), id);
        }),

      deadLetterJob: (id, details) =>
        txOp(() => {
          const job = readJob(id);
          if (!job) return;
          const fields = { ...job, lastError: structuredClone(details.lastError) };
          statements.deadLetterJob.run(details.attempts, details.deadAt, JSON.stringify(jobData(fields)), id);
          refreshLaneHead(job.conversationId, job.lane);
        }),

      getJob: (id) => txOp(() => readJob(id)),

      reviveJob: (id, nextAttemptAt, replayedAt) =>
        txOp(() => {
          const job = readJob(id);
          if (job?.state !== "dead") return false;
          const { firstAttemptAt: _first, lastError: _error, ...fields } = job;
          const data = JSON.stringify(jobData({ ...fields, replayedAt }));
          // Conditional on `dead`, so of two revivals racing on a shared database one changes the row.
          if (Number(statements.reviveJob.run(nextAttemptAt, data, id).changes) === 0) return false;
          refreshLaneHead(job.conversationId, job.lane);
          return true;
        }),
    };
  };

  return {
    transaction: <T>(fn: (tx: StoreTx) => Promise<T>) =>
      new Promise<T>((resolve, reject) => {
        const entry: PendingTransaction = {
          fn,
          resolve: resolve as (value: unknown) => void,
          reject,
        };
        if (forming && !forming.sealed && forming.entries.length < MAX_BATCH) {
          forming.entries.push(entry);
          return;
        }
        const batch: TransactionBatch = { entries: [entry], sealed: false };
        forming = batch;
        void serial(() => runBatch(batch));
      }),

    getConversation: (id) => op(() => readConversation(id)),

    getMessage: (uuid) => op(() => readMessage(getMessage.get(uuid))),

    listMessages: (query: ListMessagesQuery) =>
      op((): MessagePage => {
        assertPositiveInteger(query.limit, "limit");
        const before = query.before ?? Number.MAX_SAFE_INTEGER;
        const rows =
          query.conversationId === undefined
            ? statements.listMessages.all(before, query.limit + 1)
            : statements.listConversationMessages.all(query.conversationId, before, query.limit + 1);
        const messages = rows.slice(0, query.limit).map(decodeMessage);
        const last = messages[messages.length - 1];
        return { messages, nextCursor: rows.length > query.limit && last ? last.seq : undefined };
      }),

    conversationMessages: (conversationId) =>
      op(() => statements.conversationMessages.all(conversationId).map(decodeMessage)),

    claimDueJobs: (query: ClaimQuery) => {
      try {
        assertClaimQuery(query);
      } catch (error) {
        return Promise.reject(error);
      }
      const { now, limit, owner, leaseMs } = query;
      // Leases need no sync to disk: after a crash, start() releases them all (a single-instance store).
      // A job is claimed only once its enqueue is on disk: nothing is delivered that a power cut
      // could still take back from the store.
      return write(
        () =>
          statements.claimableHeads.all(now, now, limit).map((row) => {
            statements.setLease.run(owner, now + leaseMs, Number(row.id));
            return decodeJob({ ...row, lease_owner: owner, lease_until: now + leaseMs });
          }),
        { durable: false, durableInput: true },
      );
    },

    renewLease: (id, owner, leaseUntil) =>
      op(() => Number(statements.renewLease.run(leaseUntil, id, owner).changes) > 0),

    releaseLeases: (owner) =>
      op(() => {
        if (owner === undefined) statements.releaseAllLeases.run();
        else statements.releaseOwnerLeases.run(owner);
      }),

    nextJobDueAt: () => op(() => optionalNumber(statements.nextJobDueAt.get()?.at)),

    pendingJobs: (conversationId, lane) =>
      op(() => statements.pendingJobs.all(conversationId ?? null, lane ?? null).map(decodeJob)),

    listDeadLetters: (query) =>
      op((): DeadLetterPage => {
        assertPositiveInteger(query.limit, "limit");
        const { conversationId, before } = query;
        const after = (deadAt: number, id: number) =>
          conversationId === undefined
            ? statements.listDeadLetters.all(deadAt, id, query.limit + 1)
            : statements.listConversationDeadLetters.all(deadAt, id, query.limit + 1, conversationId);
        let rows: Row[];
        if (before === undefined) {
          rows = after(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
        } else {
          const cursor = statements.deadAtOf.get(before);
          rows =
            cursor && cursor.dead_at !== null
              ? after(Number(cursor.dead_at), before)
              : // The cursor job was replayed or purged since: ids only grow, so go on below it.
                statements.listDeadLettersBelowId.all(conversationId ?? null, before, query.limit + 1);
        }
        const jobs = rows.slice(0, query.limit).map(decodeJob);
        const last = jobs[jobs.length - 1];
        return { jobs, nextCursor: rows.length > query.limit && last ? last.id : undefined };
      }),

    outboxStats: (_now) =>
      op((): OutboxStats => {
        const pending = statements.countPending.get();
        const dead = statements.countDead.get();
        return {
          pending: Number(pending?.count ?? 0),
          oldestPendingAt: optionalNumber(pending?.oldest),
          deadLetters: Number(dead?.count ?? 0),
        };
      }),

    conversationCounts: () =>
      op((): ConversationCounts => {
        const counts = emptyConversationCounts();
        for (const row of statements.countConversations.all()) {
          addConversationCount(counts, String(row.state), Number(row.count));
        }
        return counts;
      }),

    recentConversations: (limit) =>
      op((): ConversationSummary[] => {
        assertPositiveInteger(limit, "limit");
        return statements.recentConversations.all(limit).map((row) => {
          const conversation = decodeConversation(row);
          const messageCounts = emptyMessageCounts();
          let newestMs: number | undefined;
          for (const count of statements.messageStatusCounts.all(conversation.id)) {
            const status = String(count.status);
            if (Object.hasOwn(messageCounts, status))
              messageCounts[status as keyof typeof messageCounts] += Number(count.n);
            newestMs = Math.max(newestMs ?? Number(count.newest), Number(count.newest));
          }
          return { conversation, messageCounts, lastActivityAt: lastActivityAt(conversation.updatedAt, newestMs) };
        });
      }),

    dueHunts: (now, limit) =>
      op(() => {
        assertPositiveInteger(limit, "limit");
        return statements.dueHunts.all(now, limit).map(decodeConversation);
      }),

    nextHuntDeadline: () => op(() => optionalNumber(statements.nextHuntDeadline.get()?.at)),

    putToken: (token) =>
      op(() => {
        statements.putToken.run(token.hash, token.consumer, token.expiresAt, token.revoked ? 1 : 0, token.createdAt);
      }),

    getToken: (hash) =>
      op(() => {
        const row = statements.getToken.get(hash);
        return row ? decodeToken(row) : undefined;
      }),

    revokeToken: (hash) => op(() => Number(statements.revokeToken.run(hash).changes) > 0),

    revokeConsumerTokens: (consumer) => op(() => Number(statements.revokeConsumerTokens.run(consumer).changes)),

    deleteExpiredTokens: (now) => op(() => Number(statements.deleteExpiredTokens.run(now).changes)),

    deleteConversation: async (id) => {
      const deleted = await write(() => Number(statements.deleteConversation.run(id).changes) > 0);
      if (deleted) await erasePreviousVersions();
      return deleted;
    },

    purgeClosedBefore: async (closedBeforeIso) => {
      const cutoff = Date.parse(closedBeforeIso);
      if (Number.isNaN(cutoff)) throw new RangeError("purgeClosedBefore: not an ISO date");
      const result = await write(
        (): PurgeResult => ({
          pendingSkipped: Number(statements.countPurgeSkipped.get(cutoff)?.count ?? 0),
          deadLetters: Number(statements.countPurgedDeadLetters.get(cutoff)?.count ?? 0),
          conversations: Number(statements.purgeClosedBefore.run(cutoff).changes),
        }),
      );
      if (result.conversations > 0) await erasePreviousVersions();
      return result;
    },

    ping: () =>
      op(() => {
        statements.ping.get();
      }),

    close: () => {
      forming = undefined;
      return serial(async () => {
        if (closed) return;
        closed = true;
        try {
          await walSync?.close();
          db.close();
        } catch (error) {
          throw toStoreError(error);
        }
      });
    },
  };
}

/**
 * The options with their defaults (`synchronous: "FULL"`, `busyTimeoutMs: 5000`), validated.
 *
 * @internal
 */
export function resolveSqliteOptions(options: SqliteStoreOptions | string): Required<{
  [K in keyof SqliteStoreOptions]: Exclude<SqliteStoreOptions[K], undefined>;
}> {
  const {
    path,
    synchronous = "FULL",
    busyTimeoutMs = 5000,
  } = typeof options === "string" ? { path: options } : options;
  if (synchronous !== "FULL" && synchronous !== "NORMAL") {
    throw new RangeError('synchronous must be "FULL" or "NORMAL"');
  }
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new RangeError("busyTimeoutMs must be a non-negative integer");
  }
  return { path, synchronous, busyTimeoutMs };
}

/**
 * Opens the database with the store's settings and migrates it. Exported for tests only (not from
 * the package): `synchronous` and `foreign_keys` are per connection, so only this connection shows them.
 *
 * @internal
 */
export function openDatabase(path: string, synchronous: "FULL" | "NORMAL", busyTimeoutMs: number): DatabaseSync {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (error) {
    throw new StoreUnavailableError("cannot open the sqlite database", { cause: error });
  }
  try {
    // busy_timeout first: switching to WAL and migrating take locks another process may hold.
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    db.exec("PRAGMA foreign_keys = ON");
    // Erasure and retention must remove a child's messages from the file, not only unlink them.
    db.exec("PRAGMA secure_delete = ON");
    if (path !== ":memory:" && path !== "") {
      const mode = db.prepare("PRAGMA journal_mode = WAL").get()?.journal_mode;
      if (mode !== "wal") throw new Error(`the sqlite database cannot use WAL mode (journal_mode is ${String(mode)})`);
    }
    db.exec(`PRAGMA synchronous = ${synchronous}`);
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw toStoreError(error);
  }
}

/** Every statement, prepared once when the store opens. */
function prepareStatements(db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql);
  const messageColumns = "seq, data";
  const jobColumns = "id, attempts, next_attempt_at, lease_owner, lease_until, state, dead_at, data";
  return {
    ping: p("SELECT 1 AS ok"),
    savepoint: p("SAVEPOINT bridge_transaction"),
    releaseSavepoint: p("RELEASE bridge_transaction"),
    rollbackToSavepoint: p("ROLLBACK TO bridge_transaction"),

    getConversation: p("SELECT data FROM conversations WHERE id = ?"),
    insertConversation: p(
      `INSERT INTO conversations (id, state, hunt_deadline, closed_at_ms, version, data, updated_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateConversation: p(
      `UPDATE conversations SET state = ?, hunt_deadline = ?, closed_at_ms = ?, version = ?, data = ?, updated_at_ms = ?
       WHERE id = ? AND version = ?`,
    ),
    dueHunts: p(
      `SELECT data FROM conversations WHERE state = 'hunting' AND hunt_deadline <= ?
       ORDER BY hunt_deadline, id LIMIT ?`,
    ),
    nextHuntDeadline: p("SELECT MIN(hunt_deadline) AS at FROM conversations WHERE state = 'hunting'"),
    // Read backwards from conversations_updated (migration 4), so ordered by the conversation's last
    // change, not its last activity; the counts from messages_conversation_seq. The same pass over the
    // conversation's messages gives the newest message time (for lastActivityAt): no extra query, and
    // no write to the conversation per message.
    recentConversations: p("SELECT data FROM conversations ORDER BY updated_at_ms DESC, id DESC LIMIT ?"),
    messageStatusCounts: p(
      `SELECT json_extract(data, '$.status') AS status, COUNT(*) AS n, MAX(created_at_ms) AS newest
       FROM messages WHERE conversation_id = ? GROUP BY status`,
    ),
    deleteConversation: p("DELETE FROM conversations WHERE id = ?"),
    // Retention never drops what is still on its way: a closed conversation with a pending job stays.
    purgeClosedBefore: p(
      `DELETE FROM conversations WHERE state = 'closed' AND closed_at_ms < ?
         AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.conversation_id = conversations.id AND jobs.state = 'pending')`,
    ),
    countPurgeSkipped: p(
      `SELECT COUNT(*) AS count FROM conversations c WHERE c.state = 'closed' AND c.closed_at_ms < ?
         AND EXISTS (SELECT 1 FROM jobs WHERE jobs.conversation_id = c.id AND jobs.state = 'pending')`,
    ),
    countPurgedDeadLetters: p(
      `SELECT COUNT(*) AS count FROM conversations c JOIN jobs d ON d.conversation_id = c.id AND d.state = 'dead'
       WHERE c.state = 'closed' AND c.closed_at_ms < ?
         AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.conversation_id = c.id AND jobs.state = 'pending')`,
    ),

    getMessage: p(`SELECT ${messageColumns} FROM messages WHERE uuid = ?`),
    getMessageByMessageId: p(
      `SELECT ${messageColumns} FROM messages WHERE conversation_id = ? AND direction = ? AND message_id = ?`,
    ),
    findRecentByTextHash: p(
      `SELECT ${messageColumns} FROM messages
       WHERE conversation_id = ? AND direction = ? AND text_hash = ? AND created_at_ms >= ?
       ORDER BY seq DESC LIMIT 1`,
    ),
    insertMessage: p(
      `INSERT INTO messages (uuid, conversation_id, direction, message_id, text_hash, created_at_ms, data)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    identityOfMessage: p("SELECT seq, conversation_id, direction, message_id FROM messages WHERE uuid = ?"),
    updateMessage: p("UPDATE messages SET text_hash = ?, created_at_ms = ?, data = ? WHERE uuid = ?"),
    listMessages: p(`SELECT ${messageColumns} FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?`),
    listConversationMessages: p(
      `SELECT ${messageColumns} FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
    ),
    conversationMessages: p(`SELECT ${messageColumns} FROM messages WHERE conversation_id = ? ORDER BY seq`),

    // A new job heads its lane when the lane has no pending job (its id is the highest so far).
    insertJob: p(
      `INSERT INTO jobs (conversation_id, lane, attempts, next_attempt_at, created_at_ms, data, is_head)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6,
               NOT EXISTS (SELECT 1 FROM jobs WHERE conversation_id = ?1 AND lane = ?2 AND state = 'pending'))`,
    ),
    getJob: p(`SELECT ${jobColumns} FROM jobs WHERE id = ?`),
    jobLane: p("SELECT conversation_id, lane, is_head FROM jobs WHERE id = ?"),
    deleteJob: p("DELETE FROM jobs WHERE id = ?"),
    clearLaneHead: p("UPDATE jobs SET is_head = 0 WHERE conversation_id = ? AND lane = ? AND is_head = 1"),
    setLaneHead: p(
      `UPDATE jobs SET is_head = 1 WHERE id =
         (SELECT MIN(id) FROM jobs WHERE conversation_id = ? AND lane = ? AND state = 'pending')`,
    ),
    rescheduleJob: p(
      `UPDATE jobs SET attempts = ?, next_attempt_at = ?, data = ?, lease_owner = NULL, lease_until = NULL
       WHERE id = ?`,
    ),
    deadLetterJob: p(
      `UPDATE jobs SET state = 'dead', is_head = 0, attempts = ?, dead_at = ?, data = ?,
         lease_owner = NULL, lease_until = NULL
       WHERE id = ?`,
    ),
    reviveJob: p(
      `UPDATE jobs SET state = 'pending', attempts = 0, next_attempt_at = ?, dead_at = NULL, data = ?
       WHERE id = ? AND state = 'dead'`,
    ),
    // Reads the due lane heads only (index jobs_heads_due), in claim order, up to the limit: the jobs
    // waiting behind a head are never read, however many there are (a helpline down for hours).
    claimableHeads: p(
      `SELECT ${jobColumns} FROM jobs
       WHERE is_head = 1 AND next_attempt_at <= ? AND (lease_owner IS NULL OR lease_until <= ?)
       ORDER BY next_attempt_at, id LIMIT ?`,
    ),
    setLease: p("UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE id = ?"),
    renewLease: p("UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ?"),
    releaseAllLeases: p("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL"),
    releaseOwnerLeases: p("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?"),
    // When a lane head can be claimed: once due, and once its lease (if any) has lapsed. The earliest
    // unleased head is the first row of jobs_heads_due; leased heads are the few jobs in flight.
    nextJobDueAt: p(
      `SELECT MIN(at) AS at FROM (
         SELECT * FROM (SELECT next_attempt_at AS at FROM jobs WHERE is_head = 1 AND lease_owner IS NULL
                        ORDER BY next_attempt_at LIMIT 1)
         UNION ALL
         SELECT MAX(next_attempt_at, lease_until) FROM jobs WHERE lease_owner IS NOT NULL AND is_head = 1)`,
    ),
    pendingJobs: p(
      `SELECT ${jobColumns} FROM jobs
       WHERE state = 'pending' AND (?1 IS NULL OR conversation_id = ?1) AND (?2 IS NULL OR lane = ?2) ORDER BY id`,
    ),
    deadAtOf: p("SELECT dead_at FROM jobs WHERE id = ? AND state = 'dead'"),
    // Dead letters newest first after a (dead_at, id) position: all of them (index jobs_dead) or one
    // conversation's (jobs_dead_conversation). The first page starts after (MAX, MAX).
    listDeadLetters: p(
      `SELECT ${jobColumns} FROM jobs WHERE state = 'dead' AND (dead_at < ?1 OR (dead_at = ?1 AND id < ?2))
       ORDER BY dead_at DESC, id DESC LIMIT ?3`,
    ),
    listConversationDeadLetters: p(
      `SELECT ${jobColumns} FROM jobs
       WHERE state = 'dead' AND conversation_id = ?4 AND (dead_at < ?1 OR (dead_at = ?1 AND id < ?2))
       ORDER BY dead_at DESC, id DESC LIMIT ?3`,
    ),
    listDeadLettersBelowId: p(
      `SELECT ${jobColumns} FROM jobs WHERE state = 'dead' AND (?1 IS NULL OR conversation_id = ?1) AND id < ?2
       ORDER BY dead_at DESC, id DESC LIMIT ?3`,
    ),
    // Each from its partial index (jobs_pending_created, jobs_dead): a count of the index and a min probe.
    countPending: p("SELECT COUNT(*) AS count, MIN(created_at_ms) AS oldest FROM jobs WHERE state = 'pending'"),
    countDead: p("SELECT COUNT(*) AS count FROM jobs WHERE state = 'dead'"),
    // From the covering index conversations_state alone (migration 3).
    countConversations: p("SELECT state, COUNT(*) AS count FROM conversations GROUP BY state"),

    putToken: p(
      `INSERT INTO tokens (hash, consumer, expires_at, revoked, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (hash) DO UPDATE SET consumer = excluded.consumer, expires_at = excluded.expires_at,
         revoked = excluded.revoked, created_at = excluded.created_at`,
    ),
    getToken: p("SELECT hash, consumer, expires_at, revoked, created_at FROM tokens WHERE hash = ?"),
    revokeToken: p("UPDATE tokens SET revoked = 1 WHERE hash = ?"),
    revokeConsumerTokens: p("UPDATE tokens SET revoked = 1 WHERE consumer = ? AND revoked = 0"),
    deleteExpiredTokens: p("DELETE FROM tokens WHERE expires_at < ?"),
  };
}

function decodeConversation(row: Row): Conversation {
  return JSON.parse(String(row.data)) as Conversation;
}

function decodeMessage(row: Row): Message {
  return { ...(JSON.parse(String(row.data)) as Omit<Message, "seq">), seq: Number(row.seq) };
}

function decodeJob(row: Row): OutboxJob {
  const job: OutboxJob = {
    ...(JSON.parse(String(row.data)) as Omit<OutboxJob, "id" | "attempts" | "nextAttemptAt">),
    id: Number(row.id),
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
  };
  if (row.lease_owner !== null && row.lease_owner !== undefined) {
    job.leaseOwner = String(row.lease_owner);
    job.leaseUntil = Number(row.lease_until);
  }
  if (row.state === "dead") {
    job.state = "dead";
    job.deadAt = Number(row.dead_at);
  }
  return job;
}

/** An ISO date as epoch ms, null when it does not parse. */
function epochMsOrNull(iso: string): number | null {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

function decodeToken(row: Row): StoredToken {
  return {
    hash: String(row.hash),
    consumer: String(row.consumer),
    expiresAt: Number(row.expires_at),
    createdAt: String(row.created_at),
    revoked: Number(row.revoked) === 1,
  };
}

function optionalNumber(value: SQLOutputValue | undefined): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

interface SqliteError {
  code?: unknown;
  errcode?: unknown;
  message?: unknown;
}

function sqliteErrcode(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, errcode } = error as SqliteError;
  return code === "ERR_SQLITE_ERROR" && typeof errcode === "number" ? errcode : undefined;
}

function isUniqueViolation(error: unknown): boolean {
  const code = sqliteErrcode(error);
  return code === SQLITE_CONSTRAINT_UNIQUE || code === SQLITE_CONSTRAINT_PRIMARYKEY;
}

function isForeignKeyViolation(error: unknown): boolean {
  return sqliteErrcode(error) === SQLITE_CONSTRAINT_FOREIGNKEY;
}

/**
 * Maps a `node:sqlite` error: busy, locked, I/O, full, corrupt or closed database →
 * `StoreUnavailableError` (the original as `cause`). Anything else is returned as it is.
 */
function toStoreError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError || error instanceof StoreConflictError) return error;
  if (typeof error !== "object" || error === null) return error;
  const { code } = error as SqliteError;
  if (code === "ERR_INVALID_STATE") {
    return new StoreUnavailableError("the sqlite database is closed", { cause: error });
  }
  const errcode = sqliteErrcode(error);
  if (errcode !== undefined && UNAVAILABLE_CODES.has(errcode & 0xff)) {
    return new StoreUnavailableError(`the sqlite database is unavailable (sqlite code ${errcode})`, { cause: error });
  }
  return error;
}

/** Ends the open transaction, if any; a failure here leaves nothing more to undo. */
function rollback(db: DatabaseSync): void {
  try {
    db.exec("ROLLBACK");
  } catch {
    // No transaction was active (sqlite already rolled it back), or the database is gone.
  }
}
