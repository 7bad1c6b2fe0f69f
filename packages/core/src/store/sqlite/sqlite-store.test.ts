import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { StoreConflictError, StoreUnavailableError } from "@openchs-bridge/core";
import { createSqliteStore } from "@openchs-bridge/core/sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { storeConformance } from "../../../test-support/store-conformance";
import type { Conversation } from "../../domain/model";
import { MIGRATIONS } from "./schema";
import { openDatabase, resolveSqliteOptions } from "./sqlite-store";

const tempDir = () => mkdtempSync(join(tmpdir(), "openchs-bridge-sqlite-"));

storeConformance("sqlite (file)", async () => {
  const dir = tempDir();
  const path = join(dir, "bridge.db");
  return {
    store: createSqliteStore({ path }),
    reopen: async () => createSqliteStore({ path }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

storeConformance("sqlite (:memory:)", async () => ({ store: createSqliteStore(":memory:") }));

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

describe("createSqliteStore", () => {
  let dir: string;
  let path: string;
  const toClose: { close(): unknown }[] = [];

  beforeEach(() => {
    dir = tempDir();
    path = join(dir, "bridge.db");
  });

  afterEach(async () => {
    for (const c of toClose.splice(0)) await c.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = (options: Parameters<typeof createSqliteStore>[0] = path) => {
    const store = createSqliteStore(options);
    toClose.push(store);
    return store;
  };
  const raw = () => {
    const db = new DatabaseSync(path);
    toClose.push(db);
    return db;
  };

  it("puts the file in WAL mode", async () => {
    await open().ping();
    expect(raw().prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
  });

  it("opens its connection with foreign keys on, the busy timeout, and synchronous=FULL unless told NORMAL", () => {
    const pragma = (db: DatabaseSync, name: string) => Object.values(db.prepare(`PRAGMA ${name}`).get() ?? {})[0];
    const full = openDatabase(path, "FULL", 1234);
    toClose.push(full);
    expect(pragma(full, "synchronous")).toBe(2);
    expect(pragma(full, "foreign_keys")).toBe(1);
    expect(pragma(full, "busy_timeout")).toBe(1234);
    const normal = openDatabase(path, "NORMAL", 0);
    toClose.push(normal);
    expect(pragma(normal, "synchronous")).toBe(1);
    expect(() => createSqliteStore({ path, synchronous: "OFF" as "FULL" })).toThrow(RangeError);
  });

  it("creates the schema once: reopening runs no migration again and keeps the data", async () => {
    const first = open();
    await first.transaction((tx) => tx.insertConversation(conversation("c1")));
    await first.close();
    expect(raw().prepare("PRAGMA user_version").get()).toEqual({ user_version: MIGRATIONS.length });

    const second = open();
    expect(await second.getConversation("c1")).toStrictEqual(conversation("c1"));
    await second.close();
    const third = open();
    expect(await third.getConversation("c1")).toStrictEqual(conversation("c1"));
    expect(raw().prepare("PRAGMA user_version").get()).toEqual({ user_version: MIGRATIONS.length });
  });

  it("refuses a database written by a newer schema version", async () => {
    const store = open();
    await store.close();
    raw().exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    expect(() => createSqliteStore(path)).toThrow(/newer than this package knows/);
  });

  it("indexes every column it queries", async () => {
    open();
    const db = raw();
    const indexed = (table: string) =>
      (
        db.prepare(`SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type = 'index'`).all(table) as {
          sql: string | null;
        }[]
      )
        .map((r) => r.sql ?? "(auto)")
        .join("\n");
    expect(indexed("messages")).toMatch(/\(conversation_id, seq\)/);
    expect(indexed("messages")).toMatch(/\(conversation_id, direction, text_hash, created_at_ms\)/);
    expect(indexed("jobs")).toMatch(/\(conversation_id, lane, id\)/);
    expect(indexed("jobs")).toMatch(/\(next_attempt_at, id\) WHERE is_head = 1/);
    expect(indexed("conversations")).toMatch(/\(hunt_deadline\)/);
    expect(indexed("tokens")).toMatch(/\(consumer\)/);
    // The claim query walks the lane index instead of scanning and sorting the whole table.
    const plan = db
      .prepare("EXPLAIN QUERY PLAN SELECT MIN(id) FROM jobs GROUP BY conversation_id, lane")
      .all()
      .map((r) => String(r.detail))
      .join("\n");
    expect(plan).toMatch(/USING COVERING INDEX jobs_lane/);
  });

  it("claims, finds the next due time and counts the outbox through indexes, never scanning the jobs", async () => {
    open();
    const db = raw();
    const plan = (sql: string, ...params: (number | string | null)[]) =>
      db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...params)
        .map((r) => String(r.detail))
        .join("\n");
    // What the store runs (sqlite-store.ts): no plan may read the jobs table row by row.
    const claim = plan(
      `SELECT id FROM jobs WHERE is_head = 1 AND next_attempt_at <= ? AND (lease_owner IS NULL OR lease_until <= ?)
       ORDER BY next_attempt_at, id LIMIT ?`,
      0,
      0,
      1,
    );
    expect(claim).toMatch(/USING INDEX jobs_heads_due/);
    expect(claim).not.toMatch(/SCAN jobs$|TEMP B-TREE/m);
    const pending = plan("SELECT COUNT(*), MIN(created_at_ms) FROM jobs WHERE state = 'pending'");
    expect(pending).toMatch(/USING COVERING INDEX jobs_pending_created/);
    expect(plan("SELECT COUNT(*) FROM jobs WHERE state = 'dead'")).toMatch(/USING COVERING INDEX jobs_dead/);
    const after = "state = 'dead' AND (dead_at < ?1 OR (dead_at = ?1 AND id < ?2)) ORDER BY dead_at DESC, id DESC";
    const dead = plan(`SELECT id FROM jobs WHERE ${after} LIMIT ?3`, 1, 1, 10);
    expect(dead).toMatch(/USING (COVERING )?INDEX jobs_dead /);
    expect(dead).not.toMatch(/TEMP B-TREE/);
    const ofOne = plan(`SELECT id FROM jobs WHERE conversation_id = ?4 AND ${after} LIMIT ?3`, 1, 1, 10, "c1");
    expect(ofOne).toMatch(/USING (COVERING )?INDEX jobs_dead_conversation/);
    expect(ofOne).not.toMatch(/TEMP B-TREE/);
  });

  it("counts conversations by state from the covering index, never reading the conversations' rows", () => {
    open();
    const plan = raw()
      .prepare("EXPLAIN QUERY PLAN SELECT state, COUNT(*) AS count FROM conversations GROUP BY state")
      .all()
      .map((r) => String(r.detail))
      .join("\n");
    expect(plan).toMatch(/USING COVERING INDEX conversations_state/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
  });

  it("lists recent conversations by reading conversations_updated backwards, never sorting the table", () => {
    open();
    const plan = raw()
      .prepare("EXPLAIN QUERY PLAN SELECT data FROM conversations ORDER BY updated_at_ms DESC, id DESC LIMIT 20")
      .all()
      .map((r) => String(r.detail))
      .join("\n");
    expect(plan).toMatch(/USING INDEX conversations_updated/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
  });

  it("migrates a version-3 database: its conversations get updated_at_ms from their JSON, listed newest first", async () => {
    const v3 = new DatabaseSync(path);
    for (const migration of MIGRATIONS.slice(0, 3)) v3.exec(migration);
    v3.exec("PRAGMA user_version = 3");
    for (const [id, updatedAt] of [
      ["older", "2026-01-01T00:00:01.250Z"],
      ["newer", "2026-01-01T00:00:02.500Z"],
    ] as const) {
      v3.prepare("INSERT INTO conversations (id, state, version, data) VALUES (?, 'requested', 1, ?)").run(
        id,
        JSON.stringify({ ...conversation(id), updatedAt }),
      );
    }
    v3.close();

    const store = open();
    expect(raw().prepare("SELECT id, updated_at_ms FROM conversations ORDER BY id").all()).toEqual([
      { id: "newer", updated_at_ms: Date.parse("2026-01-01T00:00:02.500Z") },
      { id: "older", updated_at_ms: Date.parse("2026-01-01T00:00:01.250Z") },
    ]);
    expect((await store.recentConversations(10)).map((r) => r.conversation.id)).toEqual(["newer", "older"]);
  });

  it("migrates a version-1 database: its jobs pending, each lane's oldest the head, and the claim takes the heads", async () => {
    // A database as version 1 of the schema left it, with two lanes of queued jobs.
    const v1 = new DatabaseSync(path);
    v1.exec(MIGRATIONS[0] ?? "");
    v1.exec("PRAGMA user_version = 1");
    v1.prepare("INSERT INTO conversations (id, state, version, data) VALUES ('c1', 'requested', 1, ?)").run(
      JSON.stringify(conversation("c1")),
    );
    const job = (lane: string, createdAt: string) =>
      v1
        .prepare("INSERT INTO jobs (conversation_id, lane, attempts, next_attempt_at, data) VALUES ('c1', ?, 0, 0, ?)")
        .run(lane, JSON.stringify({ conversationId: "c1", lane, kind: "message", payload: {}, createdAt }));
    job("helpline", "2026-01-01T00:00:01.500Z");
    job("helpline", "2026-01-01T00:00:02.000Z");
    job("chatbot", "2026-01-01T00:00:00.250Z");
    v1.close();

    const store = open();
    const db = raw();
    expect(db.prepare("PRAGMA user_version").get()).toEqual({ user_version: MIGRATIONS.length });
    expect(db.prepare("SELECT id, state, is_head, created_at_ms FROM jobs ORDER BY id").all()).toEqual([
      { id: 1, state: "pending", is_head: 1, created_at_ms: Date.parse("2026-01-01T00:00:01.500Z") },
      { id: 2, state: "pending", is_head: 0, created_at_ms: Date.parse("2026-01-01T00:00:02.000Z") },
      { id: 3, state: "pending", is_head: 1, created_at_ms: Date.parse("2026-01-01T00:00:00.250Z") },
    ]);
    expect(await store.outboxStats(0)).toEqual({
      pending: 3,
      oldestPendingAt: Date.parse("2026-01-01T00:00:00.250Z"),
      deadLetters: 0,
    });
    const claimed = await store.claimDueJobs({ now: 0, limit: 10, owner: "w", leaseMs: 1000 });
    expect(claimed.map((j) => j.id).sort()).toEqual([1, 3]);
    expect(claimed.every((j) => j.state === undefined)).toBe(true);
  });

  it("keeps exactly one head per lane through enqueue, delete, dead-letter and revive", async () => {
    const store = open();
    await store.transaction((tx) => tx.insertConversation(conversation("c1")));
    const enqueue = () =>
      store.transaction((tx) =>
        tx.enqueueJob({
          conversationId: "c1",
          lane: "helpline",
          kind: "message",
          payload: {},
          attempts: 0,
          nextAttemptAt: 0,
          createdAt: "2026-01-01T00:00:00.000Z",
        }),
      );
    const heads = () =>
      raw()
        .prepare("SELECT id FROM jobs WHERE is_head = 1")
        .all()
        .map((r) => Number(r.id));
    const [a, b, c] = [await enqueue(), await enqueue(), await enqueue()];
    expect(heads()).toEqual([a.id]);
    await store.transaction((tx) => tx.deadLetterJob(a.id, { attempts: 3, deadAt: 1, lastError: { code: "x" } }));
    expect(heads()).toEqual([b.id]);
    await store.transaction((tx) => tx.deleteJob(c.id)); // not the head: the head stays
    expect(heads()).toEqual([b.id]);
    expect(await store.transaction((tx) => tx.reviveJob(a.id, 0, 2))).toBe(true);
    expect(heads()).toEqual([a.id]);
    await store.transaction(async (tx) => {
      await tx.deleteJob(a.id);
      await tx.deleteJob(b.id);
    });
    expect(heads()).toEqual([]);
    const d = await enqueue();
    expect(heads()).toEqual([d.id]);
  });

  it("shares committed data with a second handle on the same file, and never uncommitted data", async () => {
    const a = open();
    const b = open();
    await a.transaction((tx) => tx.insertConversation(conversation("c1")));
    expect(await b.getConversation("c1")).toStrictEqual(conversation("c1"));

    // A unique key taken through one handle is a conflict through the other.
    await expect(b.transaction((tx) => tx.insertConversation(conversation("c1")))).rejects.toBeInstanceOf(
      StoreConflictError,
    );

    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inserted!: () => void;
    const didInsert = new Promise<void>((resolve) => {
      inserted = resolve;
    });
    const pending = a.transaction(async (tx) => {
      await tx.insertConversation(conversation("c2"));
      inserted();
      await held;
    });
    await didInsert;
    expect(await b.getConversation("c2")).toBeUndefined();
    release();
    await pending;
    expect(await b.getConversation("c2")).toStrictEqual(conversation("c2"));
  });

  it("sees data committed by another process", async () => {
    const store = open();
    await store.ping();
    const script = `
      const { DatabaseSync } = require("node:sqlite");
      const db = new DatabaseSync(process.argv[1]);
      db.exec("PRAGMA busy_timeout = 5000");
      const c = { id: "from-child", state: "requested", origin: "webhook", helpline: "default", contact: "x",
        huntCount: 0, createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z", version: 1 };
      db.prepare("INSERT INTO conversations (id, state, hunt_deadline, closed_at_ms, version, data) VALUES (?, ?, NULL, NULL, 1, ?)")
        .run(c.id, c.state, JSON.stringify(c));
      db.close();
    `;
    const child = spawnSync(process.execPath, ["-e", script, path], { encoding: "utf8" });
    expect(child.stderr).toBe("");
    expect(child.status).toBe(0);
    expect(await store.getConversation("from-child")).toMatchObject({ id: "from-child", version: 1 });
  });

  it("keeps a committed write through a SIGKILL of the writing process", async () => {
    // The child commits through the store, reports it, then is killed before it can close anything.
    const storeModule = new URL("./sqlite-store.ts", import.meta.url).pathname;
    const script = `
      import { createSqliteStore } from ${JSON.stringify(storeModule)};
      const store = createSqliteStore(process.argv[1]);
      const c = { id: "survivor", state: "requested", origin: "webhook", helpline: "default", contact: "x",
        huntCount: 0, createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z", version: 1 };
      await store.transaction((tx) => tx.insertConversation(c));
      process.kill(process.pid, "SIGKILL");
    `;
    const child = spawnSync(
      process.execPath,
      ["--conditions=@openchs-bridge/source", "--import", "tsx", "--input-type=module", "-e", script, path],
      {
        encoding: "utf8",
        cwd: new URL("../../../../..", import.meta.url).pathname,
      },
    );
    expect(child.signal).toBe("SIGKILL");
    expect(await open().getConversation("survivor")).toMatchObject({ id: "survivor" });
  });

  it("reports a database held by another writer as unavailable once the busy timeout passes", async () => {
    const store = open({ path, busyTimeoutMs: 50 });
    await store.ping();
    const other = raw();
    other.exec("PRAGMA busy_timeout = 0");
    other.exec("BEGIN IMMEDIATE");
    try {
      const error = await store.transaction((tx) => tx.insertConversation(conversation("c1"))).catch((e) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(String(error.message)).not.toMatch(/c1/);
      await expect(store.claimDueJobs({ now: 0, limit: 1, owner: "w", leaseMs: 1 })).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
    } finally {
      other.exec("ROLLBACK");
    }
    // Once the other writer is gone the store works again, with nothing half-written.
    await store.transaction((tx) => tx.insertConversation(conversation("c1")));
    expect(await store.getConversation("c1")).toStrictEqual(conversation("c1"));
  });

  it("cannot open a file in a missing directory: StoreUnavailableError", () => {
    expect(() => createSqliteStore(join(dir, "missing", "bridge.db"))).toThrow(StoreUnavailableError);
  });

  it("defaults to synchronous=FULL (a 201 survives a power loss) and a 5 s busy timeout", () => {
    expect(resolveSqliteOptions(path)).toEqual({ path, synchronous: "FULL", busyTimeoutMs: 5000 });
    expect(resolveSqliteOptions({ path, synchronous: "NORMAL", busyTimeoutMs: 10 })).toEqual({
      path,
      synchronous: "NORMAL",
      busyTimeoutMs: 10,
    });
  });

  it("rejects bad options at construction", () => {
    expect(() => createSqliteStore({ path, busyTimeoutMs: -1 })).toThrow(RangeError);
  });

  describe("group commit", () => {
    const ids = (db: DatabaseSync) =>
      db
        .prepare("SELECT id FROM conversations ORDER BY id")
        .all()
        .map((row) => row.id);

    it("commits transactions called together as one, and settles each only once that commit is visible", async () => {
      const store = open();
      await store.ping();
      const db = raw();
      let seenInside: unknown[] | undefined;
      const visibleAtResolve: unknown[][] = [];
      const first = store.transaction((tx) => tx.insertConversation(conversation("a")));
      const second = store.transaction(async (tx) => {
        await tx.insertConversation(conversation("b"));
        // Same sqlite transaction as the first: another connection sees neither yet.
        seenInside = ids(db);
      });
      await Promise.all([first, second].map((p) => p.then(() => visibleAtResolve.push(ids(db)))));
      expect(seenInside).toEqual([]);
      expect(visibleAtResolve).toEqual([
        ["a", "b"],
        ["a", "b"],
      ]);
    });

    it("rolls back a failing transaction alone and commits the others of its group", async () => {
      const store = open();
      await store.ping();
      const results = await Promise.allSettled([
        store.transaction((tx) => tx.insertConversation(conversation("a"))),
        store.transaction((tx) => tx.insertConversation(conversation("a"))),
        store.transaction(async (tx) => {
          await tx.insertConversation(conversation("d"));
          throw new Error("boom");
        }),
        store.transaction((tx) => tx.insertConversation(conversation("c"))),
      ]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(StoreConflictError);
      expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ message: "boom" });
      expect(ids(raw())).toEqual(["a", "c"]);
    });

    it("keeps the order of calls: an operation called between two transactions runs between them", async () => {
      const store = open();
      await store.ping();
      const first = store.transaction((tx) => tx.insertConversation(conversation("a")));
      const readBetween = Promise.all([store.getConversation("a"), store.getConversation("b")]);
      const second = store.transaction((tx) => tx.insertConversation(conversation("b")));
      await Promise.all([first, second]);
      const [a, b] = await readBetween;
      expect(a?.id).toBe("a");
      expect(b).toBeUndefined();
    });

    it("rejects every transaction of a group when the store is closed before it runs", async () => {
      const store = createSqliteStore(path);
      const pending = [0, 1].map((i) => store.transaction((tx) => tx.insertConversation(conversation(`c${i}`))));
      await store.close();
      // close() was queued after the group: the group ran (and committed) first.
      await expect(Promise.all(pending)).resolves.toHaveLength(2);
      await expect(store.transaction((tx) => tx.getConversation("c0"))).rejects.toBeInstanceOf(StoreUnavailableError);
    });
  });
});
