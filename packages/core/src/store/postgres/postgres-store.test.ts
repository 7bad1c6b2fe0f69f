import { spawnSync } from "node:child_process";
import { StoreConflictError, StoreUnavailableError } from "@openchs-bridge/core";
import { createPostgresStore, type PostgresStoreOptions } from "@openchs-bridge/core/postgres";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { adminPool, DATABASE_URL, describePostgres, scratchSchema } from "../../../test-support/postgres/scratch";
import { storeConformance } from "../../../test-support/store-conformance";
import type { Conversation, Message, OutboxJob, OutboxLane } from "../../domain/model";
import type { NewMessage, NewOutboxJob, Store } from "../store";
import { resolvePostgresOptions } from "./postgres-store";
import { MIGRATIONS } from "./schema";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");

const conversation = (id: string): Conversation => ({
  id,
  state: "requested",
  origin: "webhook",
  helpline: "default",
  contact: "contact-1",
  huntCount: 0,
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  version: 1,
});

const newJob = (conversationId: string, lane: OutboxLane = "helpline", nextAttemptAt = T0): NewOutboxJob => ({
  conversationId,
  lane,
  kind: "message",
  payload: {},
  attempts: 0,
  nextAttemptAt,
  createdAt: "2026-01-01T00:00:00.000Z",
});

const newMessage = (conversationId: string, messageId: string, uuid: string): NewMessage => ({
  uuid,
  conversationId,
  messageId,
  messageIdGiven: true,
  direction: "to_helpline",
  source: "WENI",
  attachments: [],
  textHash: "h",
  status: "accepted",
  createdAtMs: T0,
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  attempts: 0,
  acceptedState: "requested",
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Polls `check` until it is true, or fails after `timeoutMs`. */
async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out waiting for a condition");
    await sleep(10);
  }
}

/** `DATABASE_URL` with one more query parameter (e.g. an application_name a test can find its backends by). */
function urlWith(name: string, value: string): string {
  const url = new URL(DATABASE_URL!);
  url.searchParams.set(name, value);
  return url.toString();
}

describePostgres("PostgreSQL store", () => {
  storeConformance("postgres", async () => {
    const { schema, drop } = scratchSchema();
    const open = () => createPostgresStore({ connectionString: DATABASE_URL!, schema, maxConnections: 4 });
    return { store: open(), reopen: async () => open(), cleanup: drop };
  });

  describe("several instances on one database", () => {
    let schema: string;
    let drop: () => Promise<void>;
    const opened: Store[] = [];

    beforeEach(() => {
      ({ schema, drop } = scratchSchema());
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await drop();
    });

    /** One gateway instance's store on the test's schema. */
    const open = (options: Partial<PostgresStoreOptions> = {}) => {
      const store = createPostgresStore({ connectionString: DATABASE_URL!, schema, maxConnections: 4, ...options });
      opened.push(store);
      return store;
    };
    const sql = async <R extends Record<string, unknown>>(text: string, params: unknown[] = []) =>
      (await adminPool().query<R>(text, params)).rows;

    it("says it is shared, so a starting instance releases no one's leases", () => {
      expect(open().shared).toBe(true);
    });

    it("migrates once when several instances start together, records each version, and keeps data on reopen", async () => {
      const stores = Array.from({ length: 5 }, () => open());
      await Promise.all(stores.map((s) => s.ready()));
      const versions = await sql<{ version: number }>(
        `SELECT version FROM ${schema}.schema_migrations ORDER BY version`,
      );
      expect(versions.map((r) => r.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
      const tables = await sql<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
        [schema],
      );
      expect(tables.map((t) => t.table_name)).toEqual([
        "conversations",
        "jobs",
        "messages",
        "schema_migrations",
        "tokens",
      ]);

      await stores[0]?.transaction((tx) => tx.insertConversation(conversation("c1")));
      const later = open();
      expect(await later.getConversation("c1")).toStrictEqual(conversation("c1"));
      expect(await sql(`SELECT version FROM ${schema}.schema_migrations`)).toHaveLength(MIGRATIONS.length);
    });

    it("refuses a schema written by a newer version of the package, saying so", async () => {
      await open().ready();
      await sql(`INSERT INTO ${schema}.schema_migrations (version) VALUES ($1)`, [MIGRATIONS.length + 1]);
      const error = await open()
        .ready()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(String((error as Error).message)).toMatch(/newer than this package knows/);
    });

    it("indexes what the claim walks: the lane index and the due lane heads", async () => {
      await open().ready();
      const indexes = await sql<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE schemaname = $1", [
        schema,
      ]);
      const all = indexes.map((i) => i.indexdef).join("\n");
      expect(all).toMatch(/jobs_lane ON \S+ USING btree \(conversation_id, lane, id\)/);
      expect(all).toMatch(/jobs_heads_due ON \S+ USING btree \(next_attempt_at, id\) WHERE is_head/);
      expect(all).toMatch(/UNIQUE INDEX jobs_lane_head ON \S+ USING btree \(conversation_id, lane\) WHERE is_head/);
      expect(all).toMatch(/jobs_dead ON \S+ USING btree \(dead_at, id\) WHERE \(state = 'dead'::text\)/);
      expect(all).toMatch(/messages_conversation_seq ON \S+ USING btree \(conversation_id, seq\)/);
      expect(all).toMatch(/UNIQUE INDEX \S+ ON \S+ USING btree \(conversation_id, direction, message_id\)/);
    });

    it("migrates a version-1 schema: its jobs pending, each lane's oldest the head, createdAt as epoch ms", async () => {
      // A schema as version 1 left it, with queued jobs in two lanes.
      await sql(`CREATE SCHEMA ${schema}`);
      await sql(
        `SET search_path = ${schema}; ${MIGRATIONS[0]};
         CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
         INSERT INTO schema_migrations (version) VALUES (1); SET search_path = public`,
      );
      await sql(`INSERT INTO ${schema}.conversations (id, state, version, data) VALUES ('c1', 'requested', 1, $1)`, [
        JSON.stringify(conversation("c1")),
      ]);
      const job = (lane: string, createdAt: string) =>
        sql(
          `INSERT INTO ${schema}.jobs (conversation_id, lane, attempts, next_attempt_at, data) VALUES ('c1', $1, 0, 0, $2)`,
          [lane, JSON.stringify({ conversationId: "c1", lane, kind: "message", payload: {}, createdAt })],
        );
      await job("helpline", "2026-01-01T00:00:01.500Z");
      await job("helpline", "2026-01-01T00:00:02.000Z");
      await job("chatbot", "2026-01-01T00:00:00.250Z");
      await job("chatbot", "not a date");

      const store = open();
      await store.ready();
      const rows = await sql<{ state: string; is_head: boolean; created_at_ms: number | null }>(
        `SELECT state, is_head, created_at_ms FROM ${schema}.jobs ORDER BY id`,
      );
      expect(rows).toEqual([
        { state: "pending", is_head: true, created_at_ms: Date.parse("2026-01-01T00:00:01.500Z") },
        { state: "pending", is_head: false, created_at_ms: Date.parse("2026-01-01T00:00:02.000Z") },
        { state: "pending", is_head: true, created_at_ms: Date.parse("2026-01-01T00:00:00.250Z") },
        { state: "pending", is_head: false, created_at_ms: null },
      ]);
      expect(await store.outboxStats(0)).toEqual({
        pending: 4,
        oldestPendingAt: Date.parse("2026-01-01T00:00:00.250Z"),
        deadLetters: 0,
      });
      const claimed = await store.claimDueJobs({ now: 0, limit: 10, owner: "w", leaseMs: 1000 });
      expect(claimed.map((j) => j.lane).sort()).toEqual(["chatbot", "helpline"]);
    });

    it("finds the due heads through the heads index, never walking the jobs behind them", async () => {
      await open().ready();
      const client = await adminPool().connect();
      try {
        // A table this small would be read whole: ask for the plan an index would give.
        await client.query("SET enable_seqscan = off");
        const { rows } = await client.query<{ "QUERY PLAN": string }>(
          `EXPLAIN SELECT id FROM ${schema}.jobs WHERE is_head AND next_attempt_at <= 0
             AND (lease_owner IS NULL OR lease_until <= 0) ORDER BY next_attempt_at, id LIMIT 10`,
        );
        const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
        expect(plan).toMatch(/Index Scan on jobs_heads_due|Index Scan using jobs_heads_due/);
        expect(plan).not.toMatch(/Seq Scan|jobs_lane|jobs_pending_lane/);
      } finally {
        await client.query("RESET enable_seqscan");
        client.release();
      }
    });

    it("counts conversations by state from the state index (an index-only scan), not the table", async () => {
      await open().ready();
      const client = await adminPool().connect();
      try {
        await client.query("SET enable_seqscan = off");
        const { rows } = await client.query<{ "QUERY PLAN": string }>(
          `EXPLAIN SELECT state, count(*) AS count FROM ${schema}.conversations GROUP BY state`,
        );
        const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
        expect(plan).toMatch(/Index Only Scan using conversations_state/);
        expect(plan).not.toMatch(/Seq Scan/);
      } finally {
        await client.query("RESET enable_seqscan");
        client.release();
      }
    });

    it("wakes other instances when a dead job is revived, so one of them delivers it", async () => {
      const a = open({ notifyIntervalMs: 60_000 });
      const b = open();
      await a.transaction((tx) => tx.insertConversation(conversation("c1")));
      const job = await a.transaction((tx) => tx.enqueueJob(newJob("c1"))); // notifies (and starts the interval)
      await a.transaction((tx) => tx.deadLetterJob(job.id, { attempts: 5, deadAt: T0, lastError: { code: "x" } }));
      let calls = 0;
      b.onJobsAvailable(() => {
        calls++;
      });
      await until(() => calls === 1); // once when it starts listening
      // Inside the enqueue throttle: a revival notifies all the same.
      expect(await a.transaction((tx) => tx.reviveJob(job.id, T0, T0))).toBe(true);
      await until(() => calls === 2);
      expect(await a.transaction((tx) => tx.reviveJob(job.id, T0, T0))).toBe(false);
      await sleep(200);
      expect(calls).toBe(2);
    });

    it("revives a dead job once when two instances replay it at the same time", async () => {
      const a = open();
      const b = open();
      await a.transaction((tx) => tx.insertConversation(conversation("c1")));
      const first = await a.transaction((tx) => tx.enqueueJob(newJob("c1")));
      const second = await a.transaction((tx) => tx.enqueueJob(newJob("c1")));
      await a.transaction((tx) => tx.deadLetterJob(first.id, { attempts: 5, deadAt: T0, lastError: { code: "x" } }));
      const results = await Promise.all(
        [a, b, a, b].map((s) => s.transaction((tx) => tx.reviveJob(first.id, T0, T0 + 1))),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const heads = await sql<{ id: string }>(`SELECT id FROM ${schema}.jobs WHERE is_head`);
      expect(heads.map((r) => Number(r.id))).toEqual([first.id]);
      expect((await b.pendingJobs()).map((j) => j.id)).toEqual([first.id, second.id]);
    });

    it("runs transactions on one conversation one after another across instances: no lost update", async () => {
      const a = open();
      const b = open();
      await a.transaction((tx) => tx.insertConversation(conversation("c1")));
      const bump = (store: Store) =>
        store.transaction(async (tx) => {
          const c = await tx.getConversation("c1");
          if (!c) throw new Error("missing");
          await sleep(5);
          return tx.updateConversation({ ...c, huntCount: c.huntCount + 1, version: c.version + 1 }, c.version);
        });
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => bump(i % 2 ? a : b)));
      expect(results).toEqual(Array(12).fill(true));
      expect(await b.getConversation("c1")).toMatchObject({ huntCount: 12, version: 13 });
    });

    it("lets transactions on different conversations run at the same time", async () => {
      const a = open();
      const b = open();
      await a.transaction(async (tx) => {
        await tx.insertConversation(conversation("c1"));
        await tx.insertConversation(conversation("c2"));
      });
      const held = gate();
      const locked = gate();
      const first = a.transaction(async (tx) => {
        await tx.getConversation("c1");
        locked.open();
        await held.promise;
      });
      await locked.promise;
      // c2 is not held up by the transaction holding c1.
      const other = await b.transaction(async (tx) => (await tx.getConversation("c2"))?.id);
      expect(other).toBe("c2");
      held.open();
      await first;
    });

    it("numbers a conversation's jobs and messages in commit order across instances", async () => {
      const a = open();
      const b = open();
      await a.transaction((tx) => tx.insertConversation(conversation("c1")));
      const held = gate();
      const enqueued = gate();
      let firstJob: OutboxJob | undefined;
      const first = a.transaction(async (tx) => {
        firstJob = await tx.enqueueJob(newJob("c1"));
        enqueued.open();
        await held.promise;
        return tx.insertMessage(newMessage("c1", "m1", "00000000-0000-4000-8000-000000000001"));
      });
      await enqueued.promise;
      let secondDone = false;
      const second = b
        .transaction(async (tx) => {
          const job = await tx.enqueueJob(newJob("c1"));
          const message = await tx.insertMessage(newMessage("c1", "m2", "00000000-0000-4000-8000-000000000002"));
          return { job, message };
        })
        .finally(() => {
          secondDone = true;
        });
      await sleep(150);
      // The second waits for the first: its job cannot become visible ahead of the first's.
      expect(secondDone).toBe(false);
      expect(await b.pendingJobs()).toEqual([]);
      held.open();
      const m1 = await first;
      const { job, message: m2 } = await second;
      expect(job.id).toBeGreaterThan(firstJob?.id ?? Number.NaN);
      expect(m2.seq).toBeGreaterThan(m1.seq);
      const claimed = await b.claimDueJobs({ now: T0, limit: 10, owner: "w", leaseMs: 1000 });
      expect(claimed.map((j) => j.id)).toEqual([firstJob?.id]);
    });

    it("does not let a job enqueued by a rolled-back transaction hold its lane", async () => {
      const a = open();
      const b = open();
      await a.transaction((tx) => tx.insertConversation(conversation("c1")));
      const held = gate();
      const enqueued = gate();
      const doomed = a.transaction(async (tx) => {
        await tx.enqueueJob(newJob("c1"));
        enqueued.open();
        await held.promise;
        throw new Error("rolled back");
      });
      await enqueued.promise;
      const second = b.transaction((tx) => tx.enqueueJob(newJob("c1")));
      held.open();
      await expect(doomed).rejects.toThrow("rolled back");
      const kept = await second;
      const claimed = await a.claimDueJobs({ now: T0, limit: 10, owner: "w", leaseMs: 1000 });
      expect(claimed.map((j) => j.id)).toEqual([kept.id]);
    });

    it("stores one message when two instances accept the same message_id at once", async () => {
      const a = open();
      const b = open();
      await a.transaction((tx) => tx.insertConversation(conversation("c1")));
      const accept = (store: Store, uuid: string) =>
        store.transaction(async (tx) => {
          if (await tx.getMessageByMessageId("c1", "to_helpline", "same")) return "duplicate";
          await sleep(20);
          const m = await tx.insertMessage(newMessage("c1", "same", uuid));
          await tx.enqueueJob({ ...newJob("c1"), messageUuid: m.uuid });
          return "accepted";
        });
      const results = await Promise.all([
        accept(a, "00000000-0000-4000-8000-00000000000a"),
        accept(b, "00000000-0000-4000-8000-00000000000b"),
      ]);
      expect(results.sort()).toEqual(["accepted", "duplicate"]);
      expect(await a.conversationMessages("c1")).toHaveLength(1);
      expect(await a.pendingJobs()).toHaveLength(1);
    });

    it("lets one of two instances creating the same conversation win; the other gets StoreConflictError", async () => {
      const a = open();
      const b = open();
      await a.ready();
      const results = await Promise.allSettled([
        a.transaction((tx) => tx.insertConversation({ ...conversation("c1"), contact: "from-a" })),
        b.transaction((tx) => tx.insertConversation({ ...conversation("c1"), contact: "from-b" })),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(rejected.reason).toBeInstanceOf(StoreConflictError);
      expect(["from-a", "from-b"]).toContain((await a.getConversation("c1"))?.contact);
    });

    it("gives concurrent instances disjoint claims: one job per lane in flight, each lane in id order, each job once", async () => {
      const instances = [open(), open(), open()];
      const setup = instances[0]!;
      const lanes: OutboxLane[] = ["helpline", "chatbot"];
      const conversations = ["c1", "c2", "c3", "c4", "c5", "c6"];
      await setup.transaction(async (tx) => {
        for (const id of conversations) await tx.insertConversation(conversation(id));
      });
      const expected = new Map<string, number[]>();
      for (let round = 0; round < 5; round++) {
        for (const c of conversations) {
          for (const lane of lanes) {
            const job = await setup.transaction((tx) => tx.enqueueJob(newJob(c, lane)));
            expected.set(`${c}/${lane}`, [...(expected.get(`${c}/${lane}`) ?? []), job.id]);
          }
        }
      }
      const total = conversations.length * lanes.length * 5;
      const inFlight = new Set<string>();
      const delivered = new Map<string, number[]>();
      const violations: string[] = [];
      let done = 0;
      const worker = async (store: Store, owner: string) => {
        const deadline = Date.now() + 20_000;
        while (done < total && Date.now() < deadline) {
          const jobs = await store.claimDueJobs({ now: Date.now(), limit: 3, owner, leaseMs: 60_000 });
          if (jobs.length === 0) {
            await sleep(2);
            continue;
          }
          await Promise.all(
            jobs.map(async (job) => {
              const key = `${job.conversationId}/${job.lane}`;
              if (inFlight.has(key)) violations.push(`${key} had two jobs in flight`);
              inFlight.add(key);
              await sleep(Math.random() * 4);
              delivered.set(key, [...(delivered.get(key) ?? []), job.id]);
              inFlight.delete(key);
              await store.transaction((tx) => tx.deleteJob(job.id));
              done++;
            }),
          );
        }
      };
      await Promise.all(instances.map((s, i) => worker(s, `w${i}`)));
      expect(violations).toEqual([]);
      expect(done).toBe(total);
      expect(Object.fromEntries(delivered)).toEqual(Object.fromEntries(expected));
      expect(await setup.pendingJobs()).toEqual([]);
    });

    it("lets another instance take the claims of one that died once their lease lapses", async () => {
      const dying = open();
      const survivor = open();
      await dying.transaction(async (tx) => {
        await tx.insertConversation(conversation("c1"));
        await tx.enqueueJob(newJob("c1"));
        await tx.enqueueJob(newJob("c1"));
      });
      const [held] = await dying.claimDueJobs({ now: T0, limit: 10, owner: "dying", leaseMs: 30_000 });
      await dying.close(); // killed: its lease is never released
      expect(await survivor.claimDueJobs({ now: T0 + 29_999, limit: 10, owner: "survivor", leaseMs: 1 })).toEqual([]);
      expect(await survivor.nextJobDueAt()).toBe(T0 + 30_000);
      const [taken] = await survivor.claimDueJobs({ now: T0 + 30_000, limit: 10, owner: "survivor", leaseMs: 5 });
      expect(taken).toMatchObject({ id: held?.id, leaseOwner: "survivor", leaseUntil: T0 + 30_005 });
    });

    it("wakes other instances when jobs are enqueued: at commit, not on rollback, not after unsubscribing", async () => {
      const a = open({ notifyIntervalMs: 0 });
      const b = open();
      await a.transaction((tx) => tx.insertConversation(conversation("c1")));
      let calls = 0;
      const unsubscribe = b.onJobsAvailable(() => {
        calls++;
      });
      await until(() => calls === 1); // once when it starts listening: jobs may be waiting already
      const held = gate();
      const enqueued = gate();
      const committed = a.transaction(async (tx) => {
        await tx.enqueueJob(newJob("c1"));
        await tx.enqueueJob(newJob("c1", "chatbot"));
        enqueued.open();
        await held.promise;
      });
      await enqueued.promise;
      await sleep(100);
      expect(calls).toBe(1); // nothing before the commit
      held.open();
      await committed;
      await until(() => calls === 2);

      await expect(
        a.transaction(async (tx) => {
          await tx.enqueueJob(newJob("c1"));
          throw new Error("rolled back");
        }),
      ).rejects.toThrow("rolled back");
      await sleep(200);
      expect(calls).toBe(2);

      unsubscribe();
      await sleep(50);
      await a.transaction((tx) => tx.enqueueJob(newJob("c1")));
      await sleep(200);
      expect(calls).toBe(2);
    });

    it("sends at most one notification per notifyIntervalMs, and one again once it has passed", async () => {
      const a = open({ notifyIntervalMs: 1000 });
      const b = open();
      await a.transaction((tx) => tx.insertConversation(conversation("c1")));
      let calls = 0;
      b.onJobsAvailable(() => {
        calls++;
      });
      await until(() => calls === 1);
      const started = Date.now();
      for (let i = 0; i < 5; i++) await a.transaction((tx) => tx.enqueueJob(newJob("c1")));
      await until(() => calls === 2);
      await sleep(Math.max(0, started + 700 - Date.now()));
      expect(calls).toBe(2); // the four enqueues after the first, inside the interval, woke no one
      await sleep(Math.max(0, started + 1050 - Date.now()));
      await a.transaction((tx) => tx.enqueueJob(newJob("c1")));
      await until(() => calls === 3);
      expect(await b.pendingJobs()).toHaveLength(6);
    });

    it("listens again after its connection is lost, and wakes its listener then", async () => {
      const a = open();
      const b = open();
      await a.transaction((tx) => tx.insertConversation(conversation("c1")));
      let calls = 0;
      b.onJobsAvailable(() => {
        calls++;
      });
      await until(() => calls === 1);
      const listening = async () =>
        sql<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE query = $1", [
          `LISTEN "openchs_bridge_jobs:${schema}"`,
        ]);
      await until(async () => (await listening()).length === 1);
      await sql("SELECT pg_terminate_backend($1)", [(await listening())[0]?.pid]);
      await until(() => calls === 2); // reconnected: jobs enqueued meanwhile would have been missed
      await a.transaction((tx) => tx.enqueueJob(newJob("c1")));
      await until(() => calls === 3);
    });

    it("reports a database it cannot reach as unavailable, never showing the password", async () => {
      const store = open({
        connectionString: "postgres://bridge:s3cret-pass@127.0.0.1:1/nowhere",
        connectTimeoutMs: 500,
      });
      for (const attempt of [
        store.ping(),
        store.getConversation("c1"),
        store.transaction((tx) => tx.insertConversation(conversation("c1"))),
        store.claimDueJobs({ now: T0, limit: 1, owner: "w", leaseMs: 1 }),
      ]) {
        const error = await attempt.catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect(`${String(error)} ${JSON.stringify(error)} ${(error as Error).stack}`).not.toMatch(/s3cret-pass/);
      }
    });

    it("reports a connection lost inside a transaction as unavailable, writes nothing, and works again after", async () => {
      const app = `bridge_kill_${schema}`;
      const store = open({ connectionString: urlWith("application_name", app) });
      await store.transaction((tx) => tx.insertConversation(conversation("c1")));
      const inserted = gate();
      const doomed = store.transaction(async (tx) => {
        await tx.insertConversation(conversation("c2"));
        inserted.open();
        await sleep(300);
        await tx.insertConversation(conversation("c3"));
      });
      await inserted.promise;
      await sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [app]);
      await expect(doomed).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(await store.getConversation("c2")).toBeUndefined();
      await store.transaction((tx) => tx.insertConversation(conversation("c4")));
      expect(await store.getConversation("c4")).toStrictEqual(conversation("c4"));
    });

    it("turns a deadlock between two instances into StoreConflictError for one of them; the other commits", async () => {
      const a = open();
      const b = open();
      await a.transaction(async (tx) => {
        await tx.insertConversation(conversation("c1"));
        await tx.insertConversation(conversation("c2"));
      });
      const bothLocked = { a: gate(), b: gate() };
      const crosswise = (
        store: Store,
        first: string,
        second: string,
        mine: { open: () => void },
        theirs: Promise<void>,
      ) =>
        store.transaction(async (tx) => {
          const c = await tx.getConversation(first);
          mine.open();
          await theirs;
          await tx.getConversation(second);
          return c?.id;
        });
      const results = await Promise.allSettled([
        crosswise(a, "c1", "c2", bothLocked.a, bothLocked.b.promise),
        crosswise(b, "c2", "c1", bothLocked.b, bothLocked.a.promise),
      ]);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(rejected).toHaveLength(1);
      expect(rejected[0]?.reason).toBeInstanceOf(StoreConflictError);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    });

    it("keeps instants exactly as given, fractions of a millisecond included", async () => {
      const store = open();
      const hunting: Conversation = { ...conversation("c1"), state: "hunting", huntDeadline: T0 + 0.25 };
      await store.transaction((tx) => tx.insertConversation(hunting));
      const job = await store.transaction((tx) => tx.enqueueJob(newJob("c1", "helpline", T0 + 0.5)));
      expect(await store.nextHuntDeadline()).toBe(T0 + 0.25);
      expect(await store.dueHunts(T0, 10)).toEqual([]);
      expect(await store.dueHunts(T0 + 0.25, 10)).toStrictEqual([hunting]);
      expect(await store.claimDueJobs({ now: T0 + 0.4, limit: 1, owner: "w", leaseMs: 1 })).toEqual([]);
      const [claimed] = await store.claimDueJobs({ now: T0 + 0.5, limit: 1, owner: "w", leaseMs: 0.5 });
      expect(claimed).toStrictEqual({ ...job, leaseOwner: "w", leaseUntil: T0 + 1 });
    });

    it("round-trips text PostgreSQL's jsonb would refuse (a NUL character)", async () => {
      const store = open();
      await store.transaction((tx) => tx.insertConversation(conversation("c1")));
      const m = { ...newMessage("c1", "m1", "00000000-0000-4000-8000-000000000009"), text: "a\u0000b 🙏" };
      const stored = await store.transaction((tx) => tx.insertMessage(m));
      expect((await store.getMessage(m.uuid))?.text).toBe("a\u0000b 🙏");
      expect(stored).toStrictEqual({ ...m, seq: stored.seq } satisfies Message);
    });
  });

  describe("options", () => {
    it("validates at construction and fills in defaults", () => {
      expect(resolvePostgresOptions("postgres://h/db")).toMatchObject({
        connectionString: "postgres://h/db",
        maxConnections: 10,
        connectTimeoutMs: 5000,
        statementTimeoutMs: 30_000,
      });
      expect(() => createPostgresStore("mysql://h/db")).toThrow(RangeError);
      expect(() => createPostgresStore({ connectionString: "postgres://h/db", schema: "Bad-Name" })).toThrow(
        RangeError,
      );
      expect(() => createPostgresStore({ connectionString: "postgres://h/db", maxConnections: 0 })).toThrow(RangeError);
    });
  });
});

describe("@openchs-bridge/core/postgres", () => {
  it("does not load the pg driver until a store is used", () => {
    const script = `
      import { createRequire } from "node:module";
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => /[\\\\/]node_modules[\\\\/]pg[\\\\/]/.test(k));
      const { createPostgresStore } = await import("@openchs-bridge/core/postgres");
      const store = createPostgresStore("postgres://nobody@127.0.0.1:1/none");
      console.log(JSON.stringify({ afterImport: loaded(), shared: store.shared }));
    `;
    const child = spawnSync(
      process.execPath,
      ["--conditions=@openchs-bridge/source", "--import", "tsx", "--input-type=module", "-e", script],
      { encoding: "utf8", cwd: new URL("../../../../..", import.meta.url).pathname },
    );
    expect(child.stderr).toBe("");
    expect(JSON.parse(child.stdout)).toEqual({ afterImport: false, shared: true });
  });
});
