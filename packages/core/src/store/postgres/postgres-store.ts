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
import type { Client, ClientConfig, Pool, PoolClient, QueryResult, QueryResultRow } from "pg";
// Type-only (erased at build), so taking them from the port file bundles no second copy of the core.
import type { ConversationCounts, ConversationSummary, DeadLetterPage, OutboxStats, PurgeResult } from "../store";
import { conversationColumns, jobData } from "../store-checks";
import { createJobListener } from "./job-listener";
import { migrate } from "./schema";

/** Options of {@link createPostgresStore}. */
export interface PostgresStoreOptions {
  /**
   * `postgres://user:password@host:5432/database` (also `postgresql://`), with the query parameters
   * the `pg` driver reads (`sslmode`, `application_name`, `options`, …).
   */
  connectionString: string;
  /**
   * The schema holding the bridge's tables: created when missing, put first on every connection's
   * `search_path`. Lower-case letters, digits and `_`. Default: the connection's current schema
   * (usually `public`). Give the bridge a schema or a database of its own: its tables are named
   * `conversations`, `messages`, `jobs`, `tokens` and `schema_migrations`.
   */
  schema?: string | undefined;
  /** Most connections this instance opens at once (the pool size), besides the listening one. Default 10. */
  maxConnections?: number | undefined;
  /** How long to wait for a connection before the store reports itself unavailable, ms. Default 5000. */
  connectTimeoutMs?: number | undefined;
  /**
   * Longest a statement may run, waiting for row locks included, before it is cancelled and the
   * store reports itself unavailable, ms (`statement_timeout`). Default 30 000.
   */
  statementTimeoutMs?: number | undefined;
  /**
   * Least time between two wake-up notifications (`NOTIFY`) this instance sends, ms. Default 100.
   * PostgreSQL serializes the commits of notifying transactions (a database-wide lock held through
   * the commit's disk flush), so a notification per enqueue would queue every instance's commits
   * behind each other under load. Skipping one costs nothing: the enqueuing instance claims its own
   * jobs at once, and woken instances keep claiming until nothing is due. `0`: notify every time.
   */
  notifyIntervalMs?: number | undefined;
  /** TLS towards the server: `true`, or options of Node's `tls.connect`. Default: what the URL says. */
  ssl?: boolean | { rejectUnauthorized?: boolean; ca?: string; cert?: string; key?: string } | undefined;
}

/** The PostgreSQL store: a `Store` shared by several gateway instances. */
export interface PostgresStore extends Store {
  /** Always true: several instances share the database, so a starting one releases no one's leases. */
  readonly shared: true;
  /** Calls `listener` when any instance enqueued jobs (PostgreSQL `LISTEN/NOTIFY`). */
  onJobsAvailable(listener: () => void): () => void;
  /**
   * Connects and brings the schema up to date, once (every other method does it first when needed).
   * Call it at start to fail early: rejects with `StoreUnavailableError` saying why.
   */
  ready(): Promise<void>;
}

/** What a message or job naming a missing conversation throws (a caller bug; not a conflict). */
const UNKNOWN_CONVERSATION = "the conversation does not exist";
/** What a transaction's tx throws when used after its transaction ended. */
const TX_ENDED = "this transaction has ended: use the tx only inside its fn";
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** Prefix of the notification channel; the schema name follows, so schemas do not wake each other. */
const CHANNEL_PREFIX = "openchs_bridge_jobs:";

type PgModule = typeof import("pg").default;

/** What is known once the store has connected and migrated. */
interface Ready {
  pool: Pool;
  channel: string;
}

/** Per transaction: whether it is open, and the conversations whose row lock it holds. */
interface TxState {
  open: boolean;
  locked: Set<string>;
  /** The first statement that failed: the server has aborted the transaction. */
  failed: unknown;
  /** A `NOTIFY` is part of this transaction (sent at its commit). */
  notifying: boolean;
}

/**
 * The `Store` on PostgreSQL, for several gateway instances sharing one database
 * (`@openchs-bridge/core/postgres`; needs the `pg` package, loaded on first use).
 *
 * - **Schema.** Created and upgraded by the store itself on first use: versioned migrations recorded
 *   in `schema_migrations`, run under an advisory lock, so instances starting together migrate once.
 * - **Transactions.** `transaction(fn)` runs `fn` on one pooled connection, `BEGIN` … `COMMIT`
 *   (`ROLLBACK` when `fn` throws), isolation read committed. Every operation of a `tx` on a
 *   conversation first takes that conversation's row lock (`SELECT … FOR NO KEY UPDATE`), held to
 *   commit: transactions on one conversation run one after another across every instance (no lost
 *   update, and messages and jobs of a conversation are numbered in commit order), while different
 *   conversations proceed in parallel. Conditional updates (`version`) guard the rest.
 * - **Outbox.** A job is written in the transaction of its message and `NOTIFY`s the other instances
 *   at commit (at most one notification per `notifyIntervalMs`). `claimDueJobs` takes lane heads with
 *   `FOR UPDATE SKIP LOCKED` under a lease (owner, until), so two instances never hold one lane; the
 *   lease of an instance that died lapses by itself.
 * - **Errors.** A connection that cannot be made or is lost, a timeout, a server shutting down:
 *   `StoreUnavailableError`. A unique key taken, a deadlock or a serialization failure:
 *   `StoreConflictError` (the bridge retries its transaction). Nothing else is retried here.
 *
 * Clocks: leases and due times compare the `now` each instance passes, so keep the instances' clocks
 * in sync (NTP); a skew shortens or lengthens leases by as much.
 *
 * ```ts
 * import { createPostgresStore } from "@openchs-bridge/core/postgres";
 * const store = createPostgresStore({ connectionString: process.env.DATABASE_URL!, schema: "bridge" });
 * await store.ready();
 * ```
 */
export function createPostgresStore(options: PostgresStoreOptions | string): PostgresStore {
  const resolved = resolvePostgresOptions(options);
  const config = clientConfig(resolved);
  let pool: Pool | undefined;
  let readyPromise: Promise<Ready> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  const inFlight = new Set<Promise<unknown>>();
  /** When a committed transaction of this store last sent a notification (epoch ms). */
  let notifiedAt = Number.NEGATIVE_INFINITY;

  const init = async (): Promise<Ready> => {
    const pg = await loadPg();
    if (!pool) {
      pool = new pg.Pool({ ...config, max: resolved.maxConnections });
      // An idle pooled connection that fails emits "error": without a listener the process would crash.
      // The pool drops that connection and opens a new one when next needed.
      pool.on("error", () => undefined);
    }
    const { client, release } = await checkout(pool);
    let failed: Error | undefined;
    try {
      const schema = resolved.schema ?? (await currentSchema(client));
      await migrate(client, schema);
      return { pool, channel: `${CHANNEL_PREFIX}${schema}`.slice(0, 63) };
    } catch (error) {
      failed = asError(error);
      throw error;
    } finally {
      release(failed);
    }
  };

  /** Connects and migrates once; a failure is not remembered, so the next call tries again. */
  const ready = (): Promise<Ready> => {
    readyPromise ??= init().catch((error: unknown) => {
      readyPromise = undefined;
      throw toInitError(error);
    });
    return readyPromise;
  };

  /** Runs one operation once the store is ready; tracked so `close()` lets it finish; errors mapped. */
  const run = <T>(fn: (ctx: Ready) => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new StoreUnavailableError("the store is closed"));
    const promise = (async () => {
      const ctx = await ready();
      try {
        return await fn(ctx);
      } catch (error) {
        throw toStoreError(error);
      }
    })();
    inFlight.add(promise);
    promise.then(
      () => inFlight.delete(promise),
      () => inFlight.delete(promise),
    );
    return promise;
  };

  const query = <R extends QueryResultRow>(sql: string, params: unknown[] = []) =>
    run(({ pool }) => pool.query<R>(sql, params));

  const listener = createJobListener(async () => {
    if (closed) throw new StoreUnavailableError("the store is closed");
    const [{ channel }, pg] = await Promise.all([ready(), loadPg()]);
    if (closed) throw new StoreUnavailableError("the store is closed");
    return { client: new pg.Client(config) as Client, channel };
  });

  const makeTx = (client: PoolClient, state: TxState, channel: string): StoreTx => {
    /** One statement of the transaction: only while it is open; a failure aborts it (server side). */
    const q = async <R extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<QueryResult<R>> => {
      if (!state.open) throw new Error(TX_ENDED);
      try {
        return await client.query<R>(sql, params);
      } catch (error) {
        state.failed ??= error;
        throw toStoreError(error);
      }
    };

    /**
     * Takes the conversation's row lock for the rest of the transaction (once); false when there is
     * no such conversation. Every statement on a conversation's data comes after it, so it reads what
     * the transactions before it committed, and no other transaction changes it until this one ends.
     */
    const lock = async (conversationId: string): Promise<boolean> => {
      if (state.locked.has(conversationId)) return true;
      const { rowCount } = await q("SELECT 1 FROM conversations WHERE id = $1 FOR NO KEY UPDATE", [conversationId]);
      if (!rowCount) return false;
      state.locked.add(conversationId);
      return true;
    };

    const messageRow = async (uuid: string) =>
      (await q<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE uuid = $1`, [uuid])).rows[0];

    /** Locks the job's conversation (a job never changes conversation); false for an unknown job. */
    const lockJob = async (id: number): Promise<boolean> => {
      // One round trip: the job's conversation, locked.
      const row = (
        await q<{ id: string }>(
          `SELECT c.id FROM conversations c
           WHERE c.id = (SELECT conversation_id FROM jobs WHERE id = $1)
           FOR NO KEY UPDATE OF c`,
          [id],
        )
      ).rows[0];
      if (!row) return false;
      state.locked.add(row.id);
      return true;
    };

    /** The job, read under its conversation's lock: every write to a lane's jobs holds that lock. */
    const lockedJob = async (id: number): Promise<OutboxJob | undefined> => {
      if (!(await lockJob(id))) return undefined;
      const row = (await q<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`, [id])).rows[0];
      return row ? decodeJob(row) : undefined;
    };

    /**
     * Makes the oldest pending job of a lane its head, and no other: after a write that may have changed
     * which job that is. The caller holds the conversation's lock, so no other transaction moves it.
     */
    const refreshLaneHead = async (conversationId: string, lane: string): Promise<void> => {
      await q("UPDATE jobs SET is_head = false WHERE conversation_id = $1 AND lane = $2 AND is_head", [
        conversationId,
        lane,
      ]);
      await q(
        `UPDATE jobs SET is_head = true WHERE id =
           (SELECT min(id) FROM jobs WHERE conversation_id = $1 AND lane = $2 AND state = 'pending')`,
        [conversationId, lane],
      );
    };

    /**
     * Appends `pg_notify` to `statement` (a data-modifying one with `RETURNING`) when this transaction
     * should wake the other instances at its commit: once per transaction, and with `throttled` none
     * while a notification this instance sent is more recent than `notifyIntervalMs`.
     */
    const notifying = <R extends QueryResultRow>(statement: string, params: unknown[], throttled: boolean) => {
      const notify = !state.notifying && (!throttled || Date.now() - notifiedAt >= resolved.notifyIntervalMs);
      if (!notify) return q<R>(statement, params);
      state.notifying = true;
      return q<R>(`WITH changed AS (${statement}) SELECT *, pg_notify($${params.length + 1}, '') FROM changed`, [
        ...params,
        channel,
      ]);
    };

    return {
      getConversation: async (id) => {
        const row = (await q<{ data: string }>("SELECT data FROM conversations WHERE id = $1 FOR NO KEY UPDATE", [id]))
          .rows[0];
        if (!row) return undefined;
        state.locked.add(id);
        return decodeConversation(row);
      },

      insertConversation: async (c) => {
        const { rowCount } = await q(
          `INSERT INTO conversations (id, state, hunt_deadline, closed_at_ms, version, data, updated_at_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
          [c.id, ...conversationColumns(c)],
        );
        // A concurrent insert of the same id waits for the first to commit, then does nothing.
        if (!rowCount) throw new StoreConflictError("conversation");
        state.locked.add(c.id);
      },

      updateConversation: async (c, expectedVersion) => {
        if (c.version !== expectedVersion + 1) {
          throw new Error("updateConversation: conversation.version must be expectedVersion + 1");
        }
        const { rowCount } = await q(
          `UPDATE conversations SET state = $1, hunt_deadline = $2, closed_at_ms = $3, version = $4, data = $5,
             updated_at_ms = $6
           WHERE id = $7 AND version = $8`,
          [...conversationColumns(c), c.id, expectedVersion],
        );
        if (!rowCount) return false;
        state.locked.add(c.id);
        return true;
      },

      getMessage: async (uuid) => {
        let row = await messageRow(uuid);
        if (row && !state.locked.has(row.conversation_id)) {
          // Read again under the conversation's lock: what was read before it may be stale.
          row = (await lock(row.conversation_id)) ? await messageRow(uuid) : undefined;
        }
        return row ? decodeMessage(row) : undefined;
      },

      getMessageByMessageId: async (conversationId, direction, messageId) => {
        if (!(await lock(conversationId))) return undefined;
        const { rows } = await q<MessageRow>(
          `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND direction = $2 AND message_id = $3`,
          [conversationId, direction, messageId],
        );
        return rows[0] ? decodeMessage(rows[0]) : undefined;
      },

      findRecentByTextHash: async (conversationId, direction, textHash, sinceMs) => {
        if (!(await lock(conversationId))) return undefined;
        const { rows } = await q<MessageRow>(
          `SELECT ${MESSAGE_COLUMNS} FROM messages
           WHERE conversation_id = $1 AND direction = $2 AND text_hash = $3 AND created_at_ms >= $4
           ORDER BY seq DESC LIMIT 1`,
          [conversationId, direction, textHash, sinceMs],
        );
        return rows[0] ? decodeMessage(rows[0]) : undefined;
      },

      insertMessage: async (m: NewMessage) => {
        if (!(await lock(m.conversationId))) throw new Error(UNKNOWN_CONVERSATION);
        const { seq: _ignored, ...fields } = m as Message;
        const { rows } = await q<{ seq: string }>(
          `INSERT INTO messages (uuid, conversation_id, direction, message_id, text_hash, created_at_ms, data)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING seq`,
          [m.uuid, m.conversationId, m.direction, m.messageId, m.textHash, m.createdAtMs, JSON.stringify(fields)],
        );
        // Either unique key (uuid, or conversation + direction + message_id) taken: nothing written.
        if (!rows[0]) throw new StoreConflictError("message");
        return { ...structuredClone(m), seq: Number(rows[0].seq) } as Message;
      },

      updateMessage: async (m) => {
        if (!(await lock(m.conversationId))) throw new Error("updateMessage: no message with that uuid");
        const { seq: _seq, ...fields } = m;
        const { rowCount } = await q(
          `UPDATE messages SET text_hash = $1, created_at_ms = $2, data = $3
           WHERE uuid = $4 AND conversation_id = $5 AND direction = $6 AND message_id = $7 AND seq = $8`,
          [
            m.textHash,
            m.createdAtMs,
            JSON.stringify(fields),
            m.uuid,
            m.conversationId,
            m.direction,
            m.messageId,
            m.seq,
          ],
        );
        if (rowCount) return;
        if (await messageRow(m.uuid)) {
          throw new Error("updateMessage: conversationId, direction, messageId and seq cannot change");
        }
        throw new Error("updateMessage: no message with that uuid");
      },

      enqueueJob: async (job: NewOutboxJob) => {
        if (!(await lock(job.conversationId))) throw new Error(UNKNOWN_CONVERSATION);
        const { leaseOwner: _owner, leaseUntil: _until, ...fields } = job as OutboxJob;
        const createdAtMs = Date.parse(job.createdAt);
        // A new job heads its lane when the lane has no pending job (its id is the highest so far);
        // the conversation's lock keeps another transaction from adding one meanwhile.
        const { rows } = await notifying<{ id: string }>(
          `INSERT INTO jobs (conversation_id, lane, attempts, next_attempt_at, created_at_ms, data, is_head)
           VALUES ($1, $2, $3, $4, $5, $6,
                   NOT EXISTS (SELECT 1 FROM jobs WHERE conversation_id = $1 AND lane = $2 AND state = 'pending'))
           RETURNING id`,
          [
            job.conversationId,
            job.lane,
            job.attempts,
            job.nextAttemptAt,
            Number.isNaN(createdAtMs) ? null : createdAtMs,
            JSON.stringify(jobData(fields)),
          ],
          // The notification goes out at commit (not at all on rollback); the enqueuing instance
          // claims its own jobs at once, so skipping one under load costs nothing.
          true,
        );
        return { ...structuredClone(fields), id: Number(rows[0]?.id) };
      },

      deleteJob: async (id) => {
        if (!(await lockJob(id))) return;
        const { rows } = await q<{ conversation_id: string; lane: string; is_head: boolean }>(
          "DELETE FROM jobs WHERE id = $1 RETURNING conversation_id, lane, is_head",
          [id],
        );
        const row = rows[0];
        if (row?.is_head) await refreshLaneHead(row.conversation_id, row.lane);
      },

      rescheduleJob: async (id, attempts, nextAttemptAt, details) => {
        const job = await lockedJob(id);
        if (!job || job.state === "dead") return;
        const fields = { ...job };
        if (details?.firstAttemptAt !== undefined && fields.firstAttemptAt === undefined) {
          fields.firstAttemptAt = details.firstAttemptAt;
        }
        if (details?.lastError) fields.lastError = structuredClone(details.lastError);
        await q(
          `UPDATE jobs SET attempts = $2, next_attempt_at = $3, data = $4, lease_owner = NULL, lease_until = NULL
           WHERE id = $1`,
          [id, attempts, nextAttemptAt, JSON.stringify(jobData(fields))],
        );
      },

      deadLetterJob: async (id, details) => {
        const job = await lockedJob(id);
        if (!job) return;
        const fields = { ...job, lastError: structuredClone(details.lastError) };
        await q(
          `UPDATE jobs SET state = 'dead', is_head = false, attempts = $2, dead_at = $3, data = $4,
             lease_owner = NULL, lease_until = NULL
           WHERE id = $1`,
          [id, details.attempts, details.deadAt, JSON.stringify(jobData(fields))],
        );
        await refreshLaneHead(job.conversationId, job.lane);
      },

      // Under the conversation's lock, like every read of a tx: what it reads stays true to commit.
      getJob: (id) => lockedJob(id),

      reviveJob: async (id, nextAttemptAt, replayedAt) => {
        // Under the conversation's lock: of two revivals, the second finds the job pending.
        const job = await lockedJob(id);
        if (job?.state !== "dead") return false;
        const { firstAttemptAt: _first, lastError: _error, ...fields } = job;
        // Always wakes the other instances (a replay is rare): one of them may be the only one delivering.
        const { rowCount } = await notifying(
          `UPDATE jobs SET state = 'pending', attempts = 0, next_attempt_at = $2, dead_at = NULL, data = $3
           WHERE id = $1 AND state = 'dead' RETURNING id`,
          [id, nextAttemptAt, JSON.stringify(jobData({ ...fields, replayedAt }))],
          false,
        );
        if (!rowCount) return false;
        await refreshLaneHead(job.conversationId, job.lane);
        return true;
      },
    };
  };

  return {
    shared: true,

    ready: () => run(async () => undefined),

    transaction: <T>(fn: (tx: StoreTx) => Promise<T>) =>
      run(async ({ pool, channel }) => {
        const { client, release, lost } = await checkout(pool);
        /** Set when the connection must not go back to the pool (its state is unknown). */
        let discard: Error | undefined;
        const state: TxState = { open: true, locked: new Set(), failed: undefined, notifying: false };
        try {
          await client.query("BEGIN");
          let result: T;
          try {
            result = await fn(makeTx(client, state, channel));
          } catch (error) {
            state.open = false;
            await client.query("ROLLBACK").catch((rollbackError: unknown) => {
              discard = asError(rollbackError);
            });
            throw error;
          }
          state.open = false;
          const commit = await client.query("COMMIT");
          // COMMIT of a transaction a failed statement aborted answers ROLLBACK, without an error.
          if (commit.command !== "COMMIT") {
            throw state.failed ?? new Error("the transaction was rolled back: a statement inside it failed");
          }
          if (state.notifying) notifiedAt = Date.now();
          return result;
        } catch (error) {
          if (isUnavailable(error)) discard ??= asError(error);
          throw error;
        } finally {
          state.open = false;
          release(discard ?? lost());
        }
      }),

    getConversation: async (id) => {
      const { rows } = await query<{ data: string }>("SELECT data FROM conversations WHERE id = $1", [id]);
      return rows[0] ? decodeConversation(rows[0]) : undefined;
    },

    getMessage: async (uuid) => {
      const { rows } = await query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE uuid = $1`, [uuid]);
      return rows[0] ? decodeMessage(rows[0]) : undefined;
    },

    listMessages: async (q: ListMessagesQuery): Promise<MessagePage> => {
      assertPositiveInteger(q.limit, "limit");
      const before = q.before ?? Number.MAX_SAFE_INTEGER;
      const { rows } =
        q.conversationId === undefined
          ? await query<MessageRow>(
              `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE seq < $1 ORDER BY seq DESC LIMIT $2`,
              [before, q.limit + 1],
            )
          : await query<MessageRow>(
              `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq < $2
               ORDER BY seq DESC LIMIT $3`,
              [q.conversationId, before, q.limit + 1],
            );
      const messages = rows.slice(0, q.limit).map(decodeMessage);
      const last = messages[messages.length - 1];
      return { messages, nextCursor: rows.length > q.limit && last ? last.seq : undefined };
    },

    conversationMessages: async (conversationId) => {
      const { rows } = await query<MessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY seq`,
        [conversationId],
      );
      return rows.map(decodeMessage);
    },

    claimDueJobs: async (claim: ClaimQuery) => {
      assertClaimQuery(claim);
      const { now, limit, owner, leaseMs } = claim;
      // Only lane heads (is_head: the lowest pending id of the lane, leased or not) are read, through
      // index jobs_heads_due: the jobs waiting behind them are never walked. SKIP LOCKED passes over
      // heads another instance is claiming, finishing or rescheduling right now; a head whose lease
      // another instance set meanwhile, or that stopped being a head, fails the re-checked condition.
      const { rows } = await query<JobRow>(
        `UPDATE jobs SET lease_owner = $3, lease_until = $4
         WHERE id IN (
           SELECT j.id FROM jobs j
           WHERE j.is_head AND j.next_attempt_at <= $1
             AND (j.lease_owner IS NULL OR j.lease_until <= $1)
           ORDER BY j.next_attempt_at, j.id
           LIMIT $2
           FOR UPDATE SKIP LOCKED
         )
         RETURNING ${JOB_COLUMNS}`,
        [now, limit, owner, now + leaseMs],
      );
      return rows.map(decodeJob).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.id - b.id);
    },

    renewLease: async (id, owner, leaseUntil) => {
      const { rowCount } = await query("UPDATE jobs SET lease_until = $1 WHERE id = $2 AND lease_owner = $3", [
        leaseUntil,
        id,
        owner,
      ]);
      return (rowCount ?? 0) > 0;
    },

    releaseLeases: async (owner) => {
      if (owner === undefined) {
        await query("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL");
      } else {
        await query("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1", [owner]);
      }
    },

    nextJobDueAt: async () => {
      // When a lane head can be claimed: once due, and once its lease (if any) has lapsed. The earliest
      // unleased head is the first entry of jobs_heads_due; leased heads are the few jobs in flight.
      const { rows } = await query<{ at: number | null }>(
        `SELECT least(
           (SELECT next_attempt_at FROM jobs WHERE is_head AND lease_owner IS NULL
            ORDER BY next_attempt_at LIMIT 1),
           (SELECT min(greatest(next_attempt_at, lease_until)) FROM jobs WHERE is_head AND lease_owner IS NOT NULL)
         ) AS at`,
      );
      return optionalNumber(rows[0]?.at);
    },

    pendingJobs: async (conversationId, lane) => {
      const { rows } = await query<JobRow>(
        `SELECT ${JOB_COLUMNS} FROM jobs
         WHERE state = 'pending' AND ($1::text IS NULL OR conversation_id = $1) AND ($2::text IS NULL OR lane = $2)
         ORDER BY id`,
        [conversationId ?? null, lane ?? null],
      );
      return rows.map(decodeJob);
    },

    listDeadLetters: async ({ conversationId, limit, before }): Promise<DeadLetterPage> => {
      assertPositiveInteger(limit, "limit");
      // Newest first after the cursor job's (dead_at, id), through jobs_dead or jobs_dead_conversation.
      // A cursor job replayed or purged since is no longer listed: then go on below its id alone.
      const cursor =
        before === undefined
          ? undefined
          : (await query<{ dead_at: number }>("SELECT dead_at FROM jobs WHERE id = $1 AND state = 'dead'", [before]))
              .rows[0];
      const params: unknown[] = [limit + 1];
      let position = "";
      if (cursor) {
        params.push(cursor.dead_at, before);
        position = "AND (dead_at, id) < ($2, $3)";
      } else if (before !== undefined) {
        params.push(before);
        position = "AND id < $2";
      }
      let ofConversation = "";
      if (conversationId !== undefined) {
        params.push(conversationId);
        ofConversation = `AND conversation_id = $${params.length}`;
      }
      const { rows } = await query<JobRow>(
        `SELECT ${JOB_COLUMNS} FROM jobs WHERE state = 'dead' ${ofConversation} ${position}
         ORDER BY dead_at DESC, id DESC LIMIT $1`,
        params,
      );
      const jobs = rows.slice(0, limit).map(decodeJob);
      const last = jobs[jobs.length - 1];
      return { jobs, nextCursor: rows.length > limit && last ? last.id : undefined };
    },

    outboxStats: async (_now): Promise<OutboxStats> => {
      // Each from its partial index (jobs_pending_created, jobs_dead).
      const { rows } = await query<{ pending: string; oldest: number | null; dead: string }>(
        `SELECT (SELECT count(*) FROM jobs WHERE state = 'pending') AS pending,
                (SELECT min(created_at_ms) FROM jobs WHERE state = 'pending') AS oldest,
                (SELECT count(*) FROM jobs WHERE state = 'dead') AS dead`,
      );
      const row = rows[0];
      return {
        pending: Number(row?.pending ?? 0),
        oldestPendingAt: optionalNumber(row?.oldest),
        deadLetters: Number(row?.dead ?? 0),
      };
    },

    conversationCounts: async (): Promise<ConversationCounts> => {
      // An index-only scan of conversations_state (migration 3); GROUP BY omits empty states.
      const { rows } = await query<{ state: string; count: string }>(
        "SELECT state, count(*) AS count FROM conversations GROUP BY state",
      );
      const counts: ConversationCounts = { requested: 0, hunting: 0, connected: 0, closed: 0 };
      for (const row of rows) {
        if (Object.hasOwn(counts, row.state)) counts[row.state as keyof ConversationCounts] += Number(row.count);
      }
      return counts;
    },

    recentConversations: async (limit): Promise<ConversationSummary[]> => {
      assertPositiveInteger(limit, "limit");
      // Read backwards from conversations_updated (migration 4), so ordered by the conversation's last
      // change, not its last activity; the counts from messages_conversation_seq. The same query gives
      // the newest message time (for lastActivityAt): no extra query, no write per message.
      const { rows } = await query<{ id: string; data: string }>(
        "SELECT id, data FROM conversations ORDER BY updated_at_ms DESC, id DESC LIMIT $1",
        [limit],
      );
      const counts = await query<{ conversation_id: string; status: string; n: string; newest: number | string }>(
        `SELECT conversation_id, data::json ->> 'status' AS status, count(*) AS n, max(created_at_ms) AS newest
         FROM messages WHERE conversation_id = ANY($1) GROUP BY conversation_id, status`,
        [rows.map((row) => row.id)],
      );
      return rows.map((row) => {
        const messageCounts: ConversationSummary["messageCounts"] = {
          accepted: 0,
          sent: 0,
          delivered: 0,
          read: 0,
          failed: 0,
        };
        let newestMs: number | undefined;
        for (const count of counts.rows) {
          if (count.conversation_id !== row.id) continue;
          if (Object.hasOwn(messageCounts, count.status)) {
            messageCounts[count.status as keyof typeof messageCounts] += Number(count.n);
          }
          newestMs = Math.max(newestMs ?? Number(count.newest), Number(count.newest));
        }
        const conversation = decodeConversation(row);
        return { conversation, messageCounts, lastActivityAt: lastActivityAt(conversation.updatedAt, newestMs) };
      });
    },

    dueHunts: async (now, limit) => {
      assertPositiveInteger(limit, "limit");
      const { rows } = await query<{ data: string }>(
        `SELECT data FROM conversations WHERE state = 'hunting' AND hunt_deadline <= $1
         ORDER BY hunt_deadline, id LIMIT $2`,
        [now, limit],
      );
      return rows.map(decodeConversation);
    },

    nextHuntDeadline: async () => {
      const { rows } = await query<{ at: number | null }>(
        "SELECT min(hunt_deadline) AS at FROM conversations WHERE state = 'hunting'",
      );
      return optionalNumber(rows[0]?.at);
    },

    putToken: async (token) => {
      await query(
        `INSERT INTO tokens (hash, consumer, expires_at, revoked, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (hash) DO UPDATE SET consumer = excluded.consumer, expires_at = excluded.expires_at,
           revoked = excluded.revoked, created_at = excluded.created_at`,
        [token.hash, token.consumer, token.expiresAt, token.revoked, token.createdAt],
      );
    },

    getToken: async (hash) => {
      const { rows } = await query<TokenRow>(
        "SELECT hash, consumer, expires_at, revoked, created_at FROM tokens WHERE hash = $1",
        [hash],
      );
      return rows[0] ? decodeToken(rows[0]) : undefined;
    },

    revokeToken: async (hash) => {
      const { rowCount } = await query("UPDATE tokens SET revoked = true WHERE hash = $1", [hash]);
      return (rowCount ?? 0) > 0;
    },

    revokeConsumerTokens: async (consumer) => {
      const { rowCount } = await query("UPDATE tokens SET revoked = true WHERE consumer = $1 AND NOT revoked", [
        consumer,
      ]);
      return rowCount ?? 0;
    },

    deleteExpiredTokens: async (now) => {
      const { rowCount } = await query("DELETE FROM tokens WHERE expires_at < $1", [now]);
      return rowCount ?? 0;
    },

    deleteConversation: async (id) => {
      // Its messages and jobs go with it (ON DELETE CASCADE), in the same statement.
      const { rowCount } = await query("DELETE FROM conversations WHERE id = $1", [id]);
      return (rowCount ?? 0) > 0;
    },

    purgeClosedBefore: async (closedBeforeIso) => {
      const cutoff = Date.parse(closedBeforeIso);
      if (Number.isNaN(cutoff)) throw new RangeError("purgeClosedBefore: not an ISO date");
      return run(({ pool }) =>
        inTransaction(pool, async (client): Promise<PurgeResult> => {
          // Locks the candidates in id order, so two instances purging at once wait for each other
          // instead of deadlocking. Held to commit, the lock keeps any job from being enqueued to them,
          // so the next statement (a new snapshot) sees every pending job they will ever have here.
          const locked = await client.query<{ id: string }>(
            "SELECT id FROM conversations WHERE state = 'closed' AND closed_at_ms < $1 ORDER BY id FOR UPDATE",
            [cutoff],
          );
          const candidates = locked.rows.map((r) => r.id);
          if (candidates.length === 0) return { conversations: 0, deadLetters: 0, pendingSkipped: 0 };
          const { rows } = await client.query<{ id: string; pending: boolean; dead: string }>(
            `SELECT c.id,
                    EXISTS (SELECT 1 FROM jobs WHERE conversation_id = c.id AND state = 'pending') AS pending,
                    (SELECT count(*) FROM jobs WHERE conversation_id = c.id AND state = 'dead') AS dead
             FROM unnest($1::text[]) AS c(id)`,
            [candidates],
          );
          // Retention never drops what is still on its way: a conversation with a pending job stays.
          const purgeable = rows.filter((r) => !r.pending);
          const { rowCount } = await client.query("DELETE FROM conversations WHERE id = ANY($1::text[])", [
            purgeable.map((r) => r.id),
          ]);
          return {
            conversations: rowCount ?? 0,
            deadLetters: purgeable.reduce((sum, r) => sum + Number(r.dead), 0),
            pendingSkipped: rows.length - purgeable.length,
          };
        }),
      );
    },

    onJobsAvailable(listen) {
      if (closed) return () => undefined;
      return listener.subscribe(listen);
    },

    ping: async () => {
      await query("SELECT 1");
    },

    close() {
      closing ??= (async () => {
        closed = true;
        await Promise.allSettled([...inFlight]);
        await readyPromise?.catch(() => undefined);
        await listener.stop();
        await pool?.end().catch(() => undefined);
      })();
      return closing;
    },
  };
}

/**
 * The options with their defaults (`maxConnections` 10, `connectTimeoutMs` 5000, `statementTimeoutMs`
 * 30 000, `notifyIntervalMs` 100), validated.
 *
 * @internal
 */
export function resolvePostgresOptions(options: PostgresStoreOptions | string): PostgresStoreOptions & {
  maxConnections: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  notifyIntervalMs: number;
} {
  const given = typeof options === "string" ? { connectionString: options } : options;
  const { maxConnections = 10, connectTimeoutMs = 5000, statementTimeoutMs = 30_000, notifyIntervalMs = 100 } = given;
  if (!/^postgres(ql)?:\/\//.test(given.connectionString ?? "")) {
    throw new RangeError("connectionString must be a postgres:// or postgresql:// URL");
  }
  if (given.schema !== undefined && !SCHEMA_NAME.test(given.schema)) {
    throw new RangeError("schema must be lower-case letters, digits and _ (at most 63), not starting with a digit");
  }
  for (const [name, value] of Object.entries({ maxConnections, connectTimeoutMs, statementTimeoutMs })) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  }
  if (!Number.isSafeInteger(notifyIntervalMs) || notifyIntervalMs < 0) {
    throw new RangeError("notifyIntervalMs must be a non-negative integer");
  }
  return { ...given, maxConnections, connectTimeoutMs, statementTimeoutMs, notifyIntervalMs };
}

/** The driver's connection settings for the pool and the listening connection. */
function clientConfig(options: ReturnType<typeof resolvePostgresOptions>): ClientConfig {
  return {
    connectionString: options.connectionString,
    application_name: "openchs-bridge",
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    // The client gives up a little after the server would have: a connection that went silent.
    query_timeout: options.statementTimeoutMs + 5000,
    // A process that hangs inside a transaction must not hold its conversations' locks for ever.
    idle_in_transaction_session_timeout: Math.max(60_000, options.statementTimeoutMs * 2),
    keepAlive: true,
    ...(options.schema !== undefined ? { options: `-c search_path=${options.schema}` } : {}),
    ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
  };
}

let pgModule: Promise<PgModule> | undefined;

/** Loads the `pg` driver once, on first use: importing this module alone does not load it. */
function loadPg(): Promise<PgModule> {
  pgModule ??= import("pg")
    .then((module) => (module as { default?: PgModule }).default ?? (module as unknown as PgModule))
    .catch((error: unknown) => {
      pgModule = undefined;
      throw new StoreUnavailableError(
        "the PostgreSQL store needs the pg package, which is not installed: npm install pg",
        { cause: error },
      );
    });
  return pgModule;
}

/**
 * A connection of the pool, for several statements. While it is out of the pool, a failure of its
 * connection is emitted as an "error" event on it (crashing the process when unheard): it is
 * recorded, and the connection is then destroyed on release instead of going back to the pool.
 */
async function checkout(
  pool: Pool,
): Promise<{ client: PoolClient; lost: () => Error | undefined; release: (discard?: Error) => void }> {
  const client = await pool.connect();
  let lostWith: Error | undefined;
  const onError = (error: Error): void => {
    lostWith ??= error;
  };
  client.on("error", onError);
  return {
    client,
    lost: () => lostWith,
    release: (discard) => {
      client.removeListener("error", onError);
      client.release(discard ?? lostWith);
    },
  };
}

/** Runs `fn` on one pooled connection inside `BEGIN` … `COMMIT` (`ROLLBACK` when it throws). */
async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const { client, release, lost } = await checkout(pool);
  let discard: Error | undefined;
  try {
    await client.query("BEGIN");
    try {
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollbackError: unknown) => {
        discard = asError(rollbackError);
      });
      throw error;
    }
  } catch (error) {
    if (isUnavailable(error)) discard ??= asError(error);
    throw error;
  } finally {
    release(discard ?? lost());
  }
}

async function currentSchema(client: PoolClient): Promise<string> {
  const { rows } = await client.query<{ schema: string | null }>("SELECT current_schema() AS schema");
  const schema = rows[0]?.schema;
  if (!schema) {
    throw new Error("the connection's search_path names no existing schema: set the schema option");
  }
  return schema;
}

const MESSAGE_COLUMNS = "seq, conversation_id, data";
const JOB_COLUMNS = "id, attempts, next_attempt_at, lease_owner, lease_until, state, dead_at, data";

interface MessageRow {
  seq: string;
  conversation_id: string;
  data: string;
}

interface JobRow {
  id: string;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  state: string;
  dead_at: number | null;
  data: string;
}

interface TokenRow {
  hash: string;
  consumer: string;
  expires_at: number;
  revoked: boolean;
  created_at: string;
}

function decodeConversation(row: { data: string }): Conversation {
  return JSON.parse(row.data) as Conversation;
}

function decodeMessage(row: MessageRow): Message {
  return { ...(JSON.parse(row.data) as Omit<Message, "seq">), seq: Number(row.seq) };
}

function decodeJob(row: JobRow): OutboxJob {
  const job: OutboxJob = {
    ...(JSON.parse(row.data) as Omit<OutboxJob, "id" | "attempts" | "nextAttemptAt">),
    id: Number(row.id),
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
  };
  if (row.lease_owner !== null) {
    job.leaseOwner = row.lease_owner;
    job.leaseUntil = Number(row.lease_until);
  }
  if (row.state === "dead") {
    job.state = "dead";
    job.deadAt = Number(row.dead_at);
  }
  return job;
}

function decodeToken(row: TokenRow): StoredToken {
  return {
    hash: row.hash,
    consumer: row.consumer,
    expiresAt: Number(row.expires_at),
    createdAt: row.created_at,
    revoked: row.revoked,
  };
}

function optionalNumber(value: number | null | undefined): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

/** SQLSTATE classes and codes meaning the database cannot be reached or written right now. */
const UNAVAILABLE_CLASSES = ["08", "53", "57", "58", "28"];
const UNAVAILABLE_CODES = new Set([
  "3D000", // invalid_catalog_name: the database does not exist
  "55P03", // lock_not_available
  "25006", // read_only_sql_transaction: a standby, or a failover under way
]);
/** Socket errors of the driver's connection. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
]);
/** The driver's own errors for a connection that cannot be made or was lost (they carry no code). */
const DRIVER_UNAVAILABLE =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|not queryable|Cannot use a pool after calling end|connection error/i;

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code } = error as { code?: unknown };
  return typeof code === "string" ? code : undefined;
}

function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  const code = errorCode(error);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_CLASSES.includes(code.slice(0, 2));
  }
  return error instanceof Error && DRIVER_UNAVAILABLE.test(error.message);
}

/**
 * Maps a driver error: unreachable, lost, timed out, shutting down → `StoreUnavailableError` (the
 * original as `cause`); a unique key taken → `StoreConflictError`; a deadlock or serialization
 * failure → `StoreConflictError` (the transaction may be run again). Anything else as it is. The
 * messages name the SQLSTATE only: a server message may quote a key's value (a message id).
 */
function toStoreError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError || error instanceof StoreConflictError) return error;
  const code = errorCode(error);
  if (code === "23505") {
    const table = (error as { table?: unknown }).table;
    return new StoreConflictError(table === "conversations" ? "conversation" : "message");
  }
  if (code === "40001" || code === "40P01") {
    return new StoreConflictError(
      "conversation",
      `a concurrent transaction conflicted with this one (SQLSTATE ${code}); run it again`,
    );
  }
  if (isUnavailable(error)) {
    return new StoreUnavailableError(
      `the PostgreSQL database is unavailable (${code ?? (error instanceof Error ? error.message : "unknown error")})`,
      { cause: error },
    );
  }
  return error;
}

/** Like `toStoreError`, for the first connection and the migrations: says why, for the operator. */
function toInitError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError) return error;
  const mapped = toStoreError(error);
  const reason = error instanceof Error ? error.message : String(error);
  if (mapped instanceof StoreUnavailableError) {
    return new StoreUnavailableError(`cannot open the PostgreSQL store: ${reason}`, { cause: error });
  }
  return new StoreUnavailableError(`cannot migrate the PostgreSQL store: ${reason}`, { cause: error });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** As store-checks' `lastActivityAt` (this file takes nothing from the core at run time but its exports). */
function lastActivityAt(updatedAt: string, newestMessageMs: number | undefined): string {
  return newestMessageMs !== undefined && newestMessageMs > Date.parse(updatedAt)
    ? new Date(newestMessageMs).toISOString()
    : updatedAt;
}

function assertPositiveInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
}

function assertClaimQuery(query: ClaimQuery): void {
  assertPositiveInteger(query.limit, "limit");
  if (!Number.isFinite(query.now)) throw new RangeError("now must be a finite number");
  if (!Number.isFinite(query.leaseMs) || query.leaseMs <= 0) throw new RangeError("leaseMs must be positive");
  if (query.owner === "") throw new RangeError("owner must not be empty");
}
