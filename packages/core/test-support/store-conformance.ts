import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Conversation, Message, OutboxJob, StoredToken } from "../src/domain/model";
import { StoreConflictError, StoreUnavailableError } from "../src/store/errors";
import type { NewMessage, NewOutboxJob, Store } from "../src/store/store";

/** What a conformance run needs from an implementation, built fresh (and empty) for every test. */
export interface StoreUnderTest {
  store: Store;
  /** Frees what `make` created (temp files, databases); called after the store is closed. */
  cleanup?: () => Promise<void>;
  /**
   * Opens a new store over the same data, after the suite closed `store`. Durable stores pass it so
   * the suite checks that committed data survives a restart.
   */
  reopen?: () => Promise<Store>;
}

/**
 * The one test suite every `Store` implementation must pass: registers a vitest `describe` block that
 * checks each method and each promise of the `Store`/`StoreTx` doc comments. `make` is called before
 * every test and must return an empty store.
 *
 * ```ts
 * storeConformance("memory", async () => ({ store: createMemoryStore() }));
 * ```
 */
export function storeConformance(name: string, make: () => Promise<StoreUnderTest>): void {
  describe(`Store conformance: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: Store;
    /** Every store opened by a test, closed after it. */
    let opened: Store[];

    beforeEach(async () => {
      subject = await make();
      store = subject.store;
      opened = [store];
    });

    afterEach(async () => {
      for (const s of opened) await s.close();
      await subject.cleanup?.();
    });

    const reopen = async (): Promise<Store> => {
      if (!subject.reopen) throw new Error("no reopen");
      await store.close();
      store = await subject.reopen();
      opened.push(store);
      return store;
    };

    const insertConversation = (c: Conversation) => store.transaction((tx) => tx.insertConversation(c));
    const insertMessage = (m: NewMessage) => store.transaction((tx) => tx.insertMessage(m));
    const enqueue = (j: NewOutboxJob) => store.transaction((tx) => tx.enqueueJob(j));
    const withConversations = async (...ids: string[]) => {
      for (const id of ids) await insertConversation(conversation(id));
    };
    const deadLetter = (id: number, deadAt: number, attempts = 7) =>
      store.transaction((tx) =>
        tx.deadLetterJob(id, { attempts, deadAt, lastError: { code: "upstream_5xx", status: 503 } }),
      );

    describe("conversations", () => {
      it("round-trips a conversation with only the required fields, optional ones staying absent", async () => {
        const c = conversation("c-min");
        await insertConversation(c);
        expect(await store.getConversation("c-min")).toStrictEqual(c);
        expect(await store.transaction((tx) => tx.getConversation("c-min"))).toStrictEqual(c);
      });

      it("round-trips a conversation with every optional field set", async () => {
        const c = fullConversation("c-full");
        await insertConversation(c);
        expect(await store.getConversation("c-full")).toStrictEqual(c);
      });

      it("keeps a conversation's channel across an update, and a message's chat_channel as it came", async () => {
        // The channel is what the helpline echoes back: a lost one would send it the default instead.
        await insertConversation({ ...conversation("c1"), channel: "FACEBOOK" });
        const next: Conversation = { ...conversation("c1"), channel: "FACEBOOK", state: "connected", version: 2 };
        expect(await store.transaction((tx) => tx.updateConversation(next, 1))).toBe(true);
        expect((await store.getConversation("c1"))?.channel).toBe("FACEBOOK");
        const reply = await insertMessage({
          ...newMessage("c1", "r1"),
          direction: "to_chatbot",
          source: "OUTBOX",
          channel: "chat",
        });
        expect((await store.getMessage(reply.uuid))?.channel).toBe("chat");
        expect((await store.conversationMessages("c1")).map((m) => m.channel)).toEqual(["chat"]);
      });

      it("answers undefined for an unknown conversation", async () => {
        expect(await store.getConversation("nope")).toBeUndefined();
        expect(await store.transaction((tx) => tx.getConversation("nope"))).toBeUndefined();
      });

      it("rejects a duplicate conversation id with StoreConflictError and writes nothing", async () => {
        await insertConversation(conversation("c1"));
        const error = await store
          .transaction((tx) => tx.insertConversation({ ...conversation("c1"), contact: "other" }))
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StoreConflictError);
        expect((error as StoreConflictError).entity).toBe("conversation");
        expect((await store.getConversation("c1"))?.contact).toBe(conversation("c1").contact);

        // Caught inside the transaction: the conflicting insert wrote nothing, the rest commits.
        await store.transaction(async (tx) => {
          await expect(tx.insertConversation({ ...conversation("c1"), contact: "other" })).rejects.toBeInstanceOf(
            StoreConflictError,
          );
          expect((await tx.getConversation("c1"))?.contact).toBe(conversation("c1").contact);
          await tx.insertConversation(conversation("c2"));
        });
        expect((await store.getConversation("c1"))?.contact).toBe(conversation("c1").contact);
        expect(await store.getConversation("c2")).toBeDefined();
      });

      it("updates only when the stored version is the expected one", async () => {
        await insertConversation(conversation("c1"));
        const v2 = { ...conversation("c1"), state: "hunting" as const, huntDeadline: T0 + 60_000, version: 2 };
        expect(await store.transaction((tx) => tx.updateConversation(v2, 1))).toBe(true);
        expect(await store.getConversation("c1")).toStrictEqual(v2);

        // Stale: another writer already moved it to version 2.
        const stale = { ...conversation("c1"), state: "closed" as const, version: 2 };
        expect(await store.transaction((tx) => tx.updateConversation(stale, 1))).toBe(false);
        expect(await store.getConversation("c1")).toStrictEqual(v2);

        expect(await store.transaction((tx) => tx.updateConversation({ ...conversation("zz"), version: 2 }, 1))).toBe(
          false,
        );
        expect(await store.getConversation("zz")).toBeUndefined();
      });

      it("removes an optional field that an update leaves out", async () => {
        await insertConversation({ ...conversation("c1"), huntDeadline: T0 + 1, counselorName: "Amina" });
        const { huntDeadline: _deadline, counselorName: _name, ...rest } = conversation("c1");
        const next: Conversation = { ...rest, state: "connected", version: 2 };
        expect(await store.transaction((tx) => tx.updateConversation(next, 1))).toBe(true);
        expect(await store.getConversation("c1")).toStrictEqual(next);
      });

      it("refuses an update whose version is not expectedVersion + 1 (a lost-update bug in the caller)", async () => {
        await insertConversation(conversation("c1"));
        await expect(
          store.transaction((tx) => tx.updateConversation({ ...conversation("c1"), state: "hunting" }, 1)),
        ).rejects.toThrow();
        expect((await store.getConversation("c1"))?.state).toBe("requested");
      });

      it("lets a transaction read its own writes", async () => {
        await store.transaction(async (tx) => {
          await tx.insertConversation(conversation("c1"));
          expect(await tx.getConversation("c1")).toStrictEqual(conversation("c1"));
          expect(await tx.updateConversation({ ...conversation("c1"), version: 2, huntCount: 1 }, 1)).toBe(true);
          expect((await tx.getConversation("c1"))?.huntCount).toBe(1);
        });
        expect((await store.getConversation("c1"))?.version).toBe(2);
      });

      it("counts conversations by state, every state present, following updates and erasure", async () => {
        expect(await store.conversationCounts()).toEqual({ requested: 0, hunting: 0, connected: 0, closed: 0 });
        await withConversations("r1", "r2", "h1");
        await insertConversation({ ...conversation("c1"), state: "connected" });
        await insertConversation({ ...conversation("x1"), state: "closed", closedAt: "2026-01-01T00:00:00.000Z" });
        const hunting: Conversation = { ...conversation("h1"), state: "hunting", huntDeadline: T0, version: 2 };
        expect(await store.transaction((tx) => tx.updateConversation(hunting, 1))).toBe(true);
        expect(await store.conversationCounts()).toEqual({ requested: 2, hunting: 1, connected: 1, closed: 1 });

        // A rolled-back transaction counts for nothing; an erased conversation leaves its state's count.
        await store
          .transaction(async (tx) => {
            await tx.insertConversation(conversation("rolled-back"));
            throw new Error("abort");
          })
          .catch(() => undefined);
        expect(await store.deleteConversation("r2")).toBe(true);
        expect(await store.conversationCounts()).toEqual({ requested: 1, hunting: 1, connected: 1, closed: 1 });
      });
    });

    describe("messages", () => {
      it("assigns seq on insert and round-trips a message with only the required fields", async () => {
        await withConversations("c1");
        const m = newMessage("c1", "m1");
        const stored = await insertMessage(m);
        expect(stored).toStrictEqual({ ...m, seq: stored.seq });
        expect(Number.isSafeInteger(stored.seq)).toBe(true);
        expect(await store.getMessage(m.uuid)).toStrictEqual(stored);
        expect(await store.transaction((tx) => tx.getMessage(m.uuid))).toStrictEqual(stored);
      });

      it("round-trips a message with every optional field set", async () => {
        await withConversations("c1");
        const m = fullMessage("c1", "m1");
        const stored = await insertMessage(m);
        expect(await store.getMessage(m.uuid)).toStrictEqual({ ...m, seq: stored.seq });
      });

      it("answers undefined for an unknown message", async () => {
        await withConversations("c1");
        expect(await store.getMessage("no-such-uuid")).toBeUndefined();
        expect(
          await store.transaction((tx) => tx.getMessageByMessageId("c1", "to_helpline", "no-such-id")),
        ).toBeUndefined();
      });

      it("assigns strictly increasing seq across the store, never reusing one after a deletion", async () => {
        await withConversations("c1", "c2");
        const seqs: number[] = [];
        for (let i = 0; i < 5; i++) seqs.push((await insertMessage(newMessage(i % 2 ? "c1" : "c2", `m${i}`))).seq);
        expect(await store.deleteConversation("c2")).toBe(true);
        await withConversations("c3");
        seqs.push((await insertMessage(newMessage("c3", "m9"))).seq);
        for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] ?? Number.NaN);
      });

      it("finds a message by (conversationId, direction, messageId)", async () => {
        await withConversations("c1", "c2");
        const a = await insertMessage(newMessage("c1", "same"));
        const b = await insertMessage({
          ...newMessage("c1", "same"),
          direction: "to_chatbot",
          source: "OUTBOX",
          uuid: uuid(77),
        });
        const c = await insertMessage(newMessage("c2", "same"));
        await store.transaction(async (tx) => {
          expect(await tx.getMessageByMessageId("c1", "to_helpline", "same")).toStrictEqual(a);
          expect(await tx.getMessageByMessageId("c1", "to_chatbot", "same")).toStrictEqual(b);
          expect(await tx.getMessageByMessageId("c2", "to_helpline", "same")).toStrictEqual(c);
          expect(await tx.getMessageByMessageId("c2", "to_chatbot", "same")).toBeUndefined();
        });
      });

      it("rejects a duplicate (conversationId, direction, messageId) with StoreConflictError and writes nothing", async () => {
        await withConversations("c1");
        const first = await insertMessage(newMessage("c1", "m1"));
        const error = await insertMessage({ ...newMessage("c1", "m1"), uuid: uuid(99) }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StoreConflictError);
        expect((error as StoreConflictError).entity).toBe("message");
        expect(await store.getMessage(uuid(99))).toBeUndefined();
        expect(await store.conversationMessages("c1")).toStrictEqual([first]);

        await store.transaction(async (tx) => {
          await expect(tx.insertMessage({ ...newMessage("c1", "m1"), uuid: uuid(98) })).rejects.toBeInstanceOf(
            StoreConflictError,
          );
          expect(await tx.getMessage(uuid(98))).toBeUndefined();
        });
        expect(await store.conversationMessages("c1")).toStrictEqual([first]);
      });

      it("rejects a second message with the same uuid", async () => {
        await withConversations("c1");
        await insertMessage(newMessage("c1", "m1"));
        const again = { ...newMessage("c1", "m2"), uuid: newMessage("c1", "m1").uuid };
        await expect(insertMessage(again)).rejects.toBeInstanceOf(StoreConflictError);
        expect(await store.transaction((tx) => tx.getMessageByMessageId("c1", "to_helpline", "m2"))).toBeUndefined();
      });

      it("refuses a message or a job for a conversation it does not hold, writing nothing", async () => {
        await expect(insertMessage(newMessage("ghost", "m1"))).rejects.toThrow();
        await expect(enqueue(newJob("ghost"))).rejects.toThrow();
        expect(await store.getMessage(newMessage("ghost", "m1").uuid)).toBeUndefined();
        expect(await store.pendingJobs()).toEqual([]);
      });

      it("finds the newest message with a text hash inside the window, same conversation and direction", async () => {
        await withConversations("c1", "c2");
        const at = (n: string, ms: number, extra: Partial<Message> = {}) =>
          insertMessage({ ...newMessage("c1", n), createdAtMs: ms, textHash: "h1", ...extra });
        await at("old", T0 - 10_000);
        const edge = await at("edge", T0 - 5_000);
        await at("other-hash", T0, { textHash: "h2" });
        await at("other-direction", T0, { direction: "to_chatbot", source: "OUTBOX" });
        await insertMessage({ ...newMessage("c2", "other-conv"), createdAtMs: T0, textHash: "h1" });

        const find = (since: number) =>
          store.transaction((tx) => tx.findRecentByTextHash("c1", "to_helpline", "h1", since));
        expect(await find(T0 - 5_000)).toStrictEqual(edge);
        expect(await find(T0 - 4_999)).toBeUndefined();

        const newer = await at("newer", T0 - 6_000); // older timestamp, but stored later: newest by seq
        expect(await find(T0 - 20_000)).toStrictEqual(newer);
      });

      it("replaces a stored message on update, dropping optional fields left out", async () => {
        await withConversations("c1");
        const stored = await insertMessage(fullMessage("c1", "m1"));
        const { lastError: _lastError, ...rest } = stored;
        const next: Message = { ...rest, status: "delivered", attempts: 3, updatedAt: "2026-01-01T00:01:00.000Z" };
        await store.transaction((tx) => tx.updateMessage(next));
        expect(await store.getMessage(stored.uuid)).toStrictEqual(next);

        const failed: Message = { ...next, status: "failed", lastError: { code: "upstream_4xx", message: "refused" } };
        await store.transaction((tx) => tx.updateMessage(failed));
        expect(await store.getMessage(stored.uuid)).toStrictEqual(failed);
      });

      it("lists messages newest first, page by page with the cursor, across conversations", async () => {
        await withConversations("c1", "c2");
        const all: Message[] = [];
        for (let i = 0; i < 7; i++) all.push(await insertMessage(newMessage(i % 3 ? "c1" : "c2", `m${i}`)));
        const newestFirst = [...all].reverse();

        const seen: Message[] = [];
        let before: number | undefined;
        const cursors: (number | undefined)[] = [];
        for (let guard = 0; guard < 10; guard++) {
          const page = await store.listMessages({ limit: 3, before });
          seen.push(...page.messages);
          cursors.push(page.nextCursor);
          if (page.nextCursor === undefined) break;
          before = page.nextCursor;
        }
        expect(seen).toStrictEqual(newestFirst);
        expect(cursors).toEqual([newestFirst[2]?.seq, newestFirst[5]?.seq, undefined]);
      });

      it("gives no cursor on a last page that is exactly full", async () => {
        await withConversations("c1");
        for (let i = 0; i < 4; i++) await insertMessage(newMessage("c1", `m${i}`));
        const first = await store.listMessages({ limit: 2 });
        expect(first.nextCursor).toBeDefined();
        const second = await store.listMessages({ limit: 2, before: first.nextCursor });
        expect(second.messages).toHaveLength(2);
        expect(second.nextCursor).toBeUndefined();
        expect(await store.listMessages({ limit: 10 })).toMatchObject({ nextCursor: undefined });
      });

      it("lists the messages of one conversation only, with paging", async () => {
        await withConversations("c1", "c2");
        const inC1: Message[] = [];
        for (let i = 0; i < 6; i++) {
          const m = await insertMessage(newMessage(i % 2 ? "c1" : "c2", `m${i}`));
          if (m.conversationId === "c1") inC1.push(m);
        }
        const page1 = await store.listMessages({ conversationId: "c1", limit: 2 });
        expect(page1.messages).toStrictEqual([inC1[2], inC1[1]]);
        const page2 = await store.listMessages({ conversationId: "c1", limit: 2, before: page1.nextCursor });
        expect(page2).toStrictEqual({ messages: [inC1[0]], nextCursor: undefined });
        expect(await store.listMessages({ conversationId: "nope", limit: 5 })).toEqual({ messages: [] });
      });

      it("returns every message of a conversation oldest first", async () => {
        await withConversations("c1", "c2");
        const inC1: Message[] = [];
        for (let i = 0; i < 5; i++) {
          const m = await insertMessage(newMessage(i % 2 ? "c2" : "c1", `m${i}`));
          if (m.conversationId === "c1") inC1.push(m);
        }
        expect(await store.conversationMessages("c1")).toStrictEqual(inC1);
        expect(await store.conversationMessages("nope")).toEqual([]);
      });
    });

    describe("transactions", () => {
      it("returns what fn returns", async () => {
        expect(await store.transaction(async () => 42)).toBe(42);
      });

      it("undoes every write of a transaction whose fn throws, and rethrows the same error", async () => {
        await withConversations("c1");
        const kept = await insertMessage(newMessage("c1", "kept"));
        const doomed = await enqueue(newJob("c1", { kind: "close" }));
        const retried = await enqueue(newJob("c1", { lane: "chatbot" }));
        const boom = new Error("boom");

        const thrown = await store
          .transaction(async (tx) => {
            await tx.insertConversation(conversation("c2"));
            expect(await tx.updateConversation({ ...conversation("c1"), state: "hunting", version: 2 }, 1)).toBe(true);
            await tx.insertMessage(newMessage("c2", "lost"));
            await tx.updateMessage({ ...kept, status: "sent", attempts: 1 });
            await tx.enqueueJob(newJob("c2"));
            await tx.deleteJob(doomed.id);
            await tx.rescheduleJob(retried.id, 4, T0 + 99_000);
            throw boom;
          })
          .catch((e: unknown) => e);

        expect(thrown).toBe(boom);
        expect(await store.getConversation("c2")).toBeUndefined();
        expect(await store.getConversation("c1")).toStrictEqual(conversation("c1"));
        expect(await store.getMessage(newMessage("c2", "lost").uuid)).toBeUndefined();
        expect(await store.getMessage(kept.uuid)).toStrictEqual(kept);
        expect(await store.pendingJobs()).toStrictEqual([doomed, retried]);
        expect((await store.listMessages({ limit: 10 })).messages).toStrictEqual([kept]);
      });

      it("never interleaves two transactions: concurrent read-then-write loses no update", async () => {
        await withConversations("c1");
        const bump = () =>
          store.transaction(async (tx) => {
            const c = await tx.getConversation("c1");
            if (!c) throw new Error("missing");
            await new Promise((resolve) => setTimeout(resolve, 10));
            return tx.updateConversation({ ...c, huntCount: c.huntCount + 1, version: c.version + 1 }, c.version);
          });
        expect(await Promise.all([bump(), bump(), bump()])).toEqual([true, true, true]);
        expect(await store.getConversation("c1")).toMatchObject({ huntCount: 3, version: 4 });
      });

      it("lets no one see a transaction's writes before it commits (and so never after a rollback)", async () => {
        let inserted!: () => void;
        const insertedP = new Promise<void>((resolve) => {
          inserted = resolve;
        });
        const tx = store.transaction(async (t) => {
          await t.insertConversation(conversation("c1"));
          await t.enqueueJob(newJob("c1"));
          inserted();
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw new Error("rolled back");
        });
        await insertedP;
        // Handled from now on: the reads below may take a turn of the event loop (a sync to disk).
        const rolledBack = expect(tx).rejects.toThrow("rolled back");
        const [read, claimed, pending] = await Promise.all([
          store.getConversation("c1"),
          store.claimDueJobs({ now: T0, limit: 10, owner: "w", leaseMs: 1000 }),
          store.pendingJobs(),
        ]);
        await rolledBack;
        expect(read).toBeUndefined();
        expect(claimed).toEqual([]);
        expect(pending).toEqual([]);
      });

      it("refuses a tx used after its transaction ended", async () => {
        let leaked: Parameters<Parameters<Store["transaction"]>[0]>[0] | undefined;
        await store.transaction(async (tx) => {
          leaked = tx;
        });
        await expect(leaked?.insertConversation(conversation("late"))).rejects.toThrow();
        expect(await store.getConversation("late")).toBeUndefined();
      });
    });

    describe("outbox jobs", () => {
      const claim = (now: number, limit = 10, owner = "w1", leaseMs = 30_000) =>
        store.claimDueJobs({ now, limit, owner, leaseMs });

      it("assigns strictly increasing ids and lists pending jobs oldest first, by conversation and lane", async () => {
        await withConversations("c1", "c2");
        const a = await enqueue(newJob("c1", { messageUuid: uuid(1), payload: { nested: { n: [1, 2] } } }));
        const b = await enqueue(newJob("c2"));
        const c = await enqueue(newJob("c1", { lane: "ack:chatbot", kind: "ack", payload: { status: "read" } }));
        expect(a).toStrictEqual({
          ...newJob("c1", { messageUuid: uuid(1), payload: { nested: { n: [1, 2] } } }),
          id: a.id,
        });
        expect(b.id).toBeGreaterThan(a.id);
        expect(c.id).toBeGreaterThan(b.id);
        expect(await store.pendingJobs()).toStrictEqual([a, b, c]);
        expect(await store.pendingJobs("c1")).toStrictEqual([a, c]);
        expect(await store.pendingJobs("c1", "ack:chatbot")).toStrictEqual([c]);
        expect(await store.pendingJobs(undefined, "helpline")).toStrictEqual([a, b]);
        expect(await store.pendingJobs("nope")).toEqual([]);
      });

      it("never reuses a job id after a deletion", async () => {
        await withConversations("c1");
        const a = await enqueue(newJob("c1"));
        await store.transaction((tx) => tx.deleteJob(a.id));
        const b = await enqueue(newJob("c1"));
        expect(b.id).toBeGreaterThan(a.id);
      });

      it("keeps a job's trace context through claim, reschedule, dead letter and revival", async () => {
        await withConversations("c1");
        const traceContext = {
          traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
          tracestate: "vendor=opaque",
        };
        const job = await enqueue(newJob("c1", { traceContext }));
        expect(job.traceContext).toStrictEqual(traceContext);
        const [claimed] = await claim(T0);
        expect(claimed?.traceContext).toStrictEqual(traceContext);
        await store.transaction((tx) => tx.rescheduleJob(job.id, 1, T0, { lastError: { code: "timeout" } }));
        expect((await store.pendingJobs("c1"))[0]?.traceContext).toStrictEqual(traceContext);
        await store.transaction((tx) =>
          tx.deadLetterJob(job.id, { attempts: 2, deadAt: T0 + 1, lastError: { code: "timeout" } }),
        );
        expect((await store.listDeadLetters({ limit: 1 })).jobs[0]?.traceContext).toStrictEqual(traceContext);
        await store.transaction((tx) => tx.reviveJob(job.id, T0 + 2, T0 + 2));
        expect((await claim(T0 + 2))[0]?.traceContext).toStrictEqual(traceContext);
        // A job queued while tracing was off has none.
        const plain = await enqueue(newJob("c1", { lane: "chatbot" }));
        expect((await store.pendingJobs("c1", "chatbot"))[0]).toStrictEqual(plain);
        expect(plain.traceContext).toBeUndefined();
      });

      it("claims only the oldest job of a lane, and the next one once the first is gone", async () => {
        await withConversations("c1");
        const first = await enqueue(newJob("c1"));
        const second = await enqueue(newJob("c1"));
        expect(ids(await claim(T0))).toEqual([first.id]);
        await store.transaction((tx) => tx.deleteJob(first.id));
        expect(ids(await claim(T0))).toEqual([second.id]);
      });

      it("keeps FIFO by id within a lane even when a later job is due earlier", async () => {
        await withConversations("c1");
        const first = await enqueue(newJob("c1", { nextAttemptAt: T0 }));
        await enqueue(newJob("c1", { nextAttemptAt: T0 - 60_000 }));
        expect(ids(await claim(T0))).toEqual([first.id]);
      });

      it("lets a not-yet-due head block its lane", async () => {
        await withConversations("c1");
        const head = await enqueue(newJob("c1", { nextAttemptAt: T0 + 5_000 }));
        await enqueue(newJob("c1", { nextAttemptAt: T0 }));
        expect(await claim(T0)).toEqual([]);
        expect(await claim(T0 + 4_999)).toEqual([]);
        expect(ids(await claim(T0 + 5_000))).toEqual([head.id]);
      });

      it("sets the lease on claimed jobs and lets a leased head block its lane until the lease lapses", async () => {
        await withConversations("c1");
        const head = await enqueue(newJob("c1"));
        await enqueue(newJob("c1"));
        const [claimed] = await claim(T0, 10, "w1", 1_000);
        expect(claimed).toStrictEqual({ ...head, leaseOwner: "w1", leaseUntil: T0 + 1_000 });
        expect((await store.pendingJobs())[0]).toStrictEqual(claimed);

        expect(await claim(T0 + 999, 10, "w2")).toEqual([]);
        const [again] = await claim(T0 + 1_000, 10, "w2", 1_000);
        expect(again).toMatchObject({ id: head.id, leaseOwner: "w2", leaseUntil: T0 + 2_000 });
      });

      it("claims lanes and conversations independently", async () => {
        await withConversations("c1", "c2");
        const h1 = await enqueue(newJob("c1", { lane: "helpline" }));
        await enqueue(newJob("c1", { lane: "helpline" }));
        const c1 = await enqueue(newJob("c1", { lane: "chatbot" }));
        const a1 = await enqueue(newJob("c1", { lane: "ack:helpline", kind: "ack" }));
        const a2 = await enqueue(newJob("c1", { lane: "ack:chatbot", kind: "ack" }));
        const h2 = await enqueue(newJob("c2", { lane: "helpline" }));
        const blocked = await enqueue(newJob("c2", { lane: "chatbot", nextAttemptAt: T0 + 1 }));
        const claimed = await claim(T0);
        expect(ids(claimed)).toEqual([h1.id, c1.id, a1.id, a2.id, h2.id]);
        expect(ids(claimed)).not.toContain(blocked.id);
      });

      it("respects the limit, and a second claim takes the rest", async () => {
        await withConversations("c1", "c2", "c3");
        const all = [await enqueue(newJob("c1")), await enqueue(newJob("c2")), await enqueue(newJob("c3"))];
        const first = await claim(T0, 2);
        expect(first).toHaveLength(2);
        const second = await claim(T0, 2, "w2");
        expect(second).toHaveLength(1);
        expect([...ids(first), ...ids(second)].sort((a, b) => a - b)).toEqual(ids(all));
        expect(await claim(T0, 2, "w3")).toEqual([]);
      });

      it("never gives one job to two concurrent claims", async () => {
        await withConversations("c1", "c2", "c3", "c4");
        for (const c of ["c1", "c2", "c3", "c4"]) await enqueue(newJob(c));
        const [a, b] = await Promise.all([claim(T0, 3, "w1"), claim(T0, 3, "w2")]);
        const all = [...ids(a ?? []), ...ids(b ?? [])];
        expect(new Set(all).size).toBe(all.length);
        expect(all).toHaveLength(4);
      });

      it("renews a lease held by the same owner only", async () => {
        await withConversations("c1");
        const job = await enqueue(newJob("c1"));
        await claim(T0, 1, "w1", 1_000);
        expect(await store.renewLease(job.id, "w2", T0 + 50_000)).toBe(false);
        expect((await store.pendingJobs())[0]?.leaseUntil).toBe(T0 + 1_000);
        expect(await store.renewLease(job.id, "w1", T0 + 50_000)).toBe(true);
        expect((await store.pendingJobs())[0]).toMatchObject({ leaseOwner: "w1", leaseUntil: T0 + 50_000 });
        expect(await claim(T0 + 10_000, 1, "w2")).toEqual([]);
        expect(await store.renewLease(job.id + 1000, "w1", T0 + 50_000)).toBe(false);
        await store.transaction((tx) => tx.deleteJob(job.id));
        expect(await store.renewLease(job.id, "w1", T0 + 60_000)).toBe(false);
      });

      it("releases every lease, or only one owner's", async () => {
        await withConversations("c1", "c2");
        const a = await enqueue(newJob("c1"));
        const b = await enqueue(newJob("c2"));
        await claim(T0, 1, "w1");
        await claim(T0, 1, "w2");
        await store.releaseLeases("w1");
        const afterOne = await store.pendingJobs();
        expect(afterOne.find((j) => j.id === a.id)).toStrictEqual(a);
        expect(afterOne.find((j) => j.id === b.id)).toMatchObject({ leaseOwner: "w2" });
        expect(ids(await claim(T0, 10, "w3"))).toEqual([a.id]);

        await store.releaseLeases();
        expect(await store.pendingJobs()).toStrictEqual([a, b]);
        expect(ids(await claim(T0, 10, "w4"))).toEqual([a.id, b.id]);
      });

      it("reschedules a job: attempts and due time recorded, lease released, lane held until due", async () => {
        await withConversations("c1");
        const head = await enqueue(newJob("c1"));
        const next = await enqueue(newJob("c1"));
        await claim(T0);
        await store.transaction((tx) => tx.rescheduleJob(head.id, 1, T0 + 10_000));
        expect((await store.pendingJobs())[0]).toStrictEqual({ ...head, attempts: 1, nextAttemptAt: T0 + 10_000 });
        expect(await claim(T0 + 9_999)).toEqual([]);
        expect(ids(await claim(T0 + 10_000))).toEqual([head.id]);
        expect(ids(await store.pendingJobs())).toEqual([head.id, next.id]);
      });

      it("deletes a job, and ignores an unknown id", async () => {
        await withConversations("c1");
        const a = await enqueue(newJob("c1"));
        const b = await enqueue(newJob("c1", { lane: "chatbot" }));
        await store.transaction(async (tx) => {
          await tx.deleteJob(a.id);
          await tx.deleteJob(a.id + 1000);
        });
        expect(await store.pendingJobs()).toStrictEqual([b]);
      });

      it("tells when the next job can be claimed: undefined when empty, leased and blocked jobs accounted for", async () => {
        expect(await store.nextJobDueAt()).toBeUndefined();
        await withConversations("c1", "c2");
        const a = await enqueue(newJob("c1", { nextAttemptAt: T0 + 5_000 }));
        await enqueue(newJob("c1", { nextAttemptAt: T0 + 1_000 })); // behind a: not claimable before it
        expect(await store.nextJobDueAt()).toBe(T0 + 5_000);
        const b = await enqueue(newJob("c2", { nextAttemptAt: T0 + 3_000 }));
        expect(await store.nextJobDueAt()).toBe(T0 + 3_000);

        await claim(T0 + 3_000, 10, "w1", 60_000); // b leased until T0 + 63 000
        expect(await store.nextJobDueAt()).toBe(T0 + 5_000);
        await store.transaction((tx) => tx.deleteJob(a.id));
        expect(await store.nextJobDueAt()).toBe(T0 + 1_000);
        const [x] = await store.pendingJobs("c1");
        await store.transaction((tx) => tx.deleteJob(x?.id ?? -1));
        expect(await store.nextJobDueAt()).toBe(T0 + 63_000);
        await store.releaseLeases();
        expect(await store.nextJobDueAt()).toBe(b.nextAttemptAt);
      });

      it("accounts a leased head at its lease end when that is its only job", async () => {
        await withConversations("c1");
        await enqueue(newJob("c1", { nextAttemptAt: T0 }));
        await claim(T0, 1, "w1", 30_000);
        expect(await store.nextJobDueAt()).toBe(T0 + 30_000);
      });
    });

    describe("dead letters", () => {
      const claim = (now: number, limit = 10, owner = "w1", leaseMs = 30_000) =>
        store.claimDueJobs({ now, limit, owner, leaseMs });
      const getJob = (id: number) => store.transaction((tx) => tx.getJob(id));
      const revive = (id: number, nextAttemptAt = T0 + 1_000, replayedAt = T0 + 500) =>
        store.transaction((tx) => tx.reviveJob(id, nextAttemptAt, replayedAt));

      it("keeps a dead job with its failure, releases its lease, and never claims it again", async () => {
        await withConversations("c1");
        const job = await enqueue(newJob("c1", { messageUuid: uuid(1) }));
        await claim(T0);
        await store.transaction((tx) =>
          tx.rescheduleJob(job.id, 1, T0 + 5_000, { firstAttemptAt: T0, lastError: { code: "timeout" } }),
        );
        await deadLetter(job.id, T0 + 60_000, 9);

        const dead = await getJob(job.id);
        expect(dead).toStrictEqual({
          ...job,
          state: "dead",
          attempts: 9,
          nextAttemptAt: T0 + 5_000,
          firstAttemptAt: T0,
          deadAt: T0 + 60_000,
          lastError: { code: "upstream_5xx", status: 503 },
        });
        expect(await store.pendingJobs()).toEqual([]);
        expect(await claim(T0 + 10_000_000)).toEqual([]);
        expect(await store.nextJobDueAt()).toBeUndefined();
        expect(await store.renewLease(job.id, "w1", T0 + 99_000)).toBe(false);
        expect(await store.transaction((tx) => tx.getJob(job.id + 1000))).toBeUndefined();
      });

      it("does not let a dead job hold its lane: the next job becomes the head", async () => {
        await withConversations("c1");
        const head = await enqueue(newJob("c1"));
        const next = await enqueue(newJob("c1", { nextAttemptAt: T0 + 2_000 }));
        await claim(T0);
        await deadLetter(head.id, T0 + 1_000);
        expect(await store.nextJobDueAt()).toBe(T0 + 2_000);
        expect(ids(await claim(T0 + 2_000))).toEqual([next.id]);
        expect(ids(await store.pendingJobs("c1"))).toEqual([next.id]);
      });

      it("writes firstAttemptAt once, and the last error of every reschedule", async () => {
        await withConversations("c1");
        const job = await enqueue(newJob("c1"));
        await store.transaction((tx) =>
          tx.rescheduleJob(job.id, 1, T0 + 5_000, { firstAttemptAt: T0, lastError: { code: "timeout" } }),
        );
        await store.transaction((tx) =>
          tx.rescheduleJob(job.id, 2, T0 + 35_000, {
            firstAttemptAt: T0 + 5_000,
            lastError: { code: "upstream_5xx", status: 502 },
          }),
        );
        expect(await getJob(job.id)).toStrictEqual({
          ...job,
          attempts: 2,
          nextAttemptAt: T0 + 35_000,
          firstAttemptAt: T0,
          lastError: { code: "upstream_5xx", status: 502 },
        });
        // Without details, a reschedule keeps what is recorded.
        await store.transaction((tx) => tx.rescheduleJob(job.id, 3, T0 + 95_000));
        expect(await getJob(job.id)).toMatchObject({ attempts: 3, firstAttemptAt: T0 });
      });

      it("lists dead jobs newest first (deadAt, then id), page by page, optionally of one conversation", async () => {
        await withConversations("c1", "c2");
        const jobs: OutboxJob[] = [];
        for (let i = 0; i < 6; i++) jobs.push(await enqueue(newJob(i % 2 ? "c2" : "c1", { lane: "chatbot" })));
        await enqueue(newJob("c1")); // pending: never listed
        const deadAt = [T0 + 3, T0 + 1, T0 + 3, T0 + 2, T0 + 5, T0 + 1];
        for (const [i, job] of jobs.entries()) await deadLetter(job.id, deadAt[i] ?? T0);
        const byId = (i: number) => jobs[i]?.id;
        const expected = [byId(4), byId(2), byId(0), byId(3), byId(5), byId(1)];

        const seen: (number | undefined)[] = [];
        const cursors: (number | undefined)[] = [];
        let before: number | undefined;
        for (let guard = 0; guard < 10; guard++) {
          const page = await store.listDeadLetters({ limit: 4, before });
          seen.push(...page.jobs.map((j) => j.id));
          cursors.push(page.nextCursor);
          for (const job of page.jobs) expect(job.state).toBe("dead");
          if (page.nextCursor === undefined) break;
          before = page.nextCursor;
        }
        expect(seen).toEqual(expected);
        expect(cursors).toEqual([byId(3), undefined]);

        const c2 = await store.listDeadLetters({ conversationId: "c2", limit: 2 });
        expect(c2.jobs.map((j) => j.id)).toEqual([byId(3), byId(5)]);
        const c2next = await store.listDeadLetters({ conversationId: "c2", limit: 2, before: c2.nextCursor });
        expect(c2next).toStrictEqual({ jobs: [await getJob(jobs[1]?.id ?? -1)], nextCursor: undefined });
        expect(await store.listDeadLetters({ conversationId: "nope", limit: 5 })).toEqual({ jobs: [] });
      });

      it("revives a dead job once: pending again, attempts reset, failure cleared, replayedAt set", async () => {
        await withConversations("c1");
        const job = await enqueue(newJob("c1"));
        await store.transaction((tx) =>
          tx.rescheduleJob(job.id, 1, T0 + 5_000, { firstAttemptAt: T0, lastError: { code: "timeout" } }),
        );
        expect(await revive(job.id)).toBe(false); // pending: not revived, nothing changed
        expect(await getJob(job.id)).toMatchObject({ attempts: 1, firstAttemptAt: T0 });
        expect((await getJob(job.id))?.replayedAt).toBeUndefined();

        await deadLetter(job.id, T0 + 9_000);
        expect(await revive(job.id, T0 + 10_000, T0 + 9_500)).toBe(true);
        const revived = { ...job, nextAttemptAt: T0 + 10_000, replayedAt: T0 + 9_500 };
        expect(await getJob(job.id)).toStrictEqual(revived);
        expect(await store.pendingJobs()).toStrictEqual([revived]);
        expect((await store.listDeadLetters({ limit: 10 })).jobs).toEqual([]);
        expect(await store.nextJobDueAt()).toBe(T0 + 10_000);
        expect(await revive(job.id)).toBe(false);
        expect(await revive(job.id + 1000)).toBe(false);
      });

      it("gives exactly one of two concurrent revivals true", async () => {
        await withConversations("c1");
        const job = await enqueue(newJob("c1"));
        await deadLetter(job.id, T0);
        const results = await Promise.all([revive(job.id, T0 + 1, T0 + 1), revive(job.id, T0 + 2, T0 + 2)]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.pendingJobs()).toHaveLength(1);
      });

      it("puts a revived job back at its place: claimed before later jobs of its lane still waiting", async () => {
        await withConversations("c1");
        const first = await enqueue(newJob("c1"));
        const second = await enqueue(newJob("c1", { nextAttemptAt: T0 + 60_000 }));
        const third = await enqueue(newJob("c1"));
        await deadLetter(first.id, T0);
        expect(await store.nextJobDueAt()).toBe(T0 + 60_000);
        expect(await revive(first.id, T0 + 1_000, T0 + 1_000)).toBe(true);
        expect(await store.nextJobDueAt()).toBe(T0 + 1_000);
        expect(await claim(T0 + 999)).toEqual([]); // the revived head is not due yet and holds the lane
        expect(ids(await claim(T0 + 1_000))).toEqual([first.id]);
        await store.transaction((tx) => tx.deleteJob(first.id));
        expect(await claim(T0 + 1_000)).toEqual([]); // second is not due: it holds third
        expect(ids(await claim(T0 + 60_000))).toEqual([second.id]);
        await store.transaction((tx) => tx.deleteJob(second.id));
        expect(ids(await claim(T0 + 60_000))).toEqual([third.id]);
      });

      it("counts pending and dead jobs, with the oldest pending job's creation time", async () => {
        expect(await store.outboxStats(T0)).toEqual({ pending: 0, deadLetters: 0 });
        await withConversations("c1", "c2");
        const dead = await enqueue(newJob("c1", { createdAt: "2025-12-01T00:00:00.000Z" }));
        await enqueue(newJob("c1", { createdAt: "2025-12-31T00:00:00.000Z" }));
        const leased = await enqueue(newJob("c2", { createdAt: "2025-12-30T00:00:00.000Z" }));
        await enqueue(newJob("c2", { createdAt: "2026-01-01T00:00:00.000Z" }));
        await deadLetter(dead.id, T0);
        await claim(T0);
        expect((await store.pendingJobs()).find((j) => j.id === leased.id)?.leaseOwner).toBe("w1");
        expect(await store.outboxStats(T0)).toEqual({
          pending: 3,
          oldestPendingAt: Date.parse("2025-12-30T00:00:00.000Z"),
          deadLetters: 1,
        });
      });

      it("claims the due head of another lane with 10,000 jobs waiting behind heads that are not due", async () => {
        // A helpline down: every conversation's head waits for its next round, with jobs queued behind.
        const lanes = 100;
        const perLane = 100;
        await store.transaction(async (tx) => {
          for (let c = 0; c < lanes; c++) {
            await tx.insertConversation(conversation(`down-${c}`));
            await tx.enqueueJob(newJob(`down-${c}`, { nextAttemptAt: T0 + 3_600_000 }));
            for (let i = 0; i < perLane; i++) await tx.enqueueJob(newJob(`down-${c}`, { nextAttemptAt: T0 }));
          }
          await tx.insertConversation(conversation("up"));
        });
        const due = await enqueue(newJob("up", { lane: "chatbot", nextAttemptAt: T0 }));
        expect(ids(await claim(T0, 10))).toEqual([due.id]);
        expect(await store.nextJobDueAt()).toBe(T0 + 30_000); // the claimed head's lease, then the not-due heads
        expect(await store.outboxStats(T0)).toMatchObject({ pending: lanes * (perLane + 1) + 1, deadLetters: 0 });
      }, 60_000);
    });

    describe("recent conversations", () => {
      const at = (id: string, updatedAt: string): Conversation => ({ ...conversation(id), updatedAt });

      it("lists the most recently updated first, up to the limit, each with its messages by status", async () => {
        await insertConversation(at("old", "2026-01-01T00:00:01.000Z"));
        await insertConversation(at("new", "2026-01-01T00:00:03.000Z"));
        await insertConversation(at("mid", "2026-01-01T00:00:02.000Z"));
        await insertMessage(newMessage("new", "m1"));
        await insertMessage({ ...newMessage("new", "m2"), status: "failed" });
        await insertMessage({ ...newMessage("new", "m3"), status: "failed" });
        await insertMessage({ ...newMessage("old", "m1"), status: "delivered" });

        const recent = await store.recentConversations(2);
        expect(recent.map((r) => r.conversation.id)).toEqual(["new", "mid"]);
        expect(recent[0]?.conversation).toStrictEqual(at("new", "2026-01-01T00:00:03.000Z"));
        expect(recent[0]?.messageCounts).toEqual({ accepted: 1, sent: 0, delivered: 0, read: 0, failed: 2 });
        expect(recent[1]?.messageCounts).toEqual({ accepted: 0, sent: 0, delivered: 0, read: 0, failed: 0 });
        expect((await store.recentConversations(10)).map((r) => r.conversation.id)).toEqual(["new", "mid", "old"]);
      });

      it("follows updates: an updated conversation moves to the top; equal times order by id, highest first", async () => {
        await insertConversation(at("a", "2026-01-01T00:00:05.000Z"));
        await insertConversation(at("b", "2026-01-01T00:00:05.000Z"));
        await insertConversation(at("c", "2026-01-01T00:00:09.000Z"));
        expect((await store.recentConversations(10)).map((r) => r.conversation.id)).toEqual(["c", "b", "a"]);
        const touched: Conversation = { ...at("a", "2026-01-01T00:00:10.000Z"), state: "connected", version: 2 };
        expect(await store.transaction((tx) => tx.updateConversation(touched, 1))).toBe(true);
        const recent = await store.recentConversations(10);
        expect(recent.map((r) => r.conversation.id)).toEqual(["a", "c", "b"]);
        expect(recent[0]?.conversation.state).toBe("connected");
      });

      it("gives the last activity: a message accepted after the last change moves it, not the order", async () => {
        await insertConversation(at("quiet", "2026-01-01T00:00:02.000Z"));
        await insertConversation(at("busy", "2026-01-01T00:00:01.000Z"));
        // Older than the conversation's last change: the last change stays the last activity.
        await insertMessage({ ...newMessage("quiet", "m1"), createdAtMs: T0, createdAt: "2026-01-01T00:00:00.000Z" });
        let recent = await store.recentConversations(10);
        expect(recent.map((r) => [r.conversation.id, r.lastActivityAt])).toEqual([
          ["quiet", "2026-01-01T00:00:02.000Z"],
          ["busy", "2026-01-01T00:00:01.000Z"],
        ]);

        const later = T0 + 7_250;
        await insertMessage({
          ...newMessage("busy", "m1"),
          createdAtMs: T0 + 4_000,
          createdAt: "2026-01-01T00:00:04.000Z",
        });
        await insertMessage({
          ...newMessage("busy", "m2"),
          status: "delivered",
          createdAtMs: later,
          createdAt: new Date(later).toISOString(),
        });
        recent = await store.recentConversations(10);
        // Still ordered by the last change; the conversation itself is untouched.
        expect(recent.map((r) => r.conversation.id)).toEqual(["quiet", "busy"]);
        expect(recent[1]?.conversation.updatedAt).toBe("2026-01-01T00:00:01.000Z");
        expect(recent[1]?.lastActivityAt).toBe("2026-01-01T00:00:07.250Z");
        expect(recent[0]?.lastActivityAt).toBe("2026-01-01T00:00:02.000Z");
      });

      it("answers an empty list for an empty store and rejects a limit that is not a positive integer", async () => {
        expect(await store.recentConversations(5)).toEqual([]);
        await expect(store.recentConversations(0)).rejects.toThrow();
      });
    });

    describe("hunts", () => {
      it("lists hunting conversations whose deadline passed, oldest deadline first, up to the limit", async () => {
        const hunting = (id: string, deadline: number): Conversation => ({
          ...conversation(id),
          state: "hunting",
          huntDeadline: deadline,
        });
        await insertConversation(hunting("late", T0 + 10));
        await insertConversation(hunting("first", T0 - 20));
        await insertConversation(hunting("second", T0 - 10));
        await insertConversation(hunting("edge", T0));
        await insertConversation({ ...conversation("connected"), state: "connected", huntDeadline: T0 - 100 });
        await insertConversation({ ...conversation("closed"), state: "closed", huntDeadline: T0 - 100 });
        await insertConversation(conversation("requested"));

        const due = await store.dueHunts(T0, 10);
        expect(due.map((c) => c.id)).toEqual(["first", "second", "edge"]);
        expect(due[0]).toStrictEqual(hunting("first", T0 - 20));
        expect((await store.dueHunts(T0, 2)).map((c) => c.id)).toEqual(["first", "second"]);
        expect(await store.nextHuntDeadline()).toBe(T0 - 20);
      });

      it("follows updates: a hunt ends when the conversation leaves hunting", async () => {
        expect(await store.nextHuntDeadline()).toBeUndefined();
        const c: Conversation = { ...conversation("c1"), state: "hunting", huntDeadline: T0 };
        await insertConversation(c);
        expect(await store.nextHuntDeadline()).toBe(T0);
        const connected: Conversation = { ...c, state: "connected", huntDeadline: undefined, version: 2 };
        expect(await store.transaction((tx) => tx.updateConversation(connected, 1))).toBe(true);
        expect(await store.nextHuntDeadline()).toBeUndefined();
        expect(await store.dueHunts(T0 + 1, 10)).toEqual([]);
      });
    });

    describe("tokens", () => {
      it("stores and reads a token by hash, replacing one stored under the same hash", async () => {
        const t = token("h1", "chatbot");
        await store.putToken(t);
        expect(await store.getToken("h1")).toStrictEqual(t);
        expect(await store.getToken("h2")).toBeUndefined();
        const replaced = { ...t, expiresAt: T0 + 99 };
        await store.putToken(replaced);
        expect(await store.getToken("h1")).toStrictEqual(replaced);
      });

      it("revokes one token, false when unknown", async () => {
        await store.putToken(token("h1", "chatbot"));
        await store.putToken(token("h2", "chatbot"));
        expect(await store.revokeToken("h1")).toBe(true);
        expect(await store.getToken("h1")).toStrictEqual({ ...token("h1", "chatbot"), revoked: true });
        expect((await store.getToken("h2"))?.revoked).toBe(false);
        expect(await store.revokeToken("nope")).toBe(false);
      });

      it("revokes every token of a consumer and counts them", async () => {
        await store.putToken(token("h1", "chatbot"));
        await store.putToken(token("h2", "chatbot"));
        await store.putToken({ ...token("h3", "chatbot"), revoked: true });
        await store.putToken(token("h4", "helpline"));
        expect(await store.revokeConsumerTokens("chatbot")).toBe(2);
        for (const h of ["h1", "h2", "h3"]) expect((await store.getToken(h))?.revoked).toBe(true);
        expect((await store.getToken("h4"))?.revoked).toBe(false);
        expect(await store.revokeConsumerTokens("nobody")).toBe(0);
      });

      it("deletes tokens expired before now and counts them", async () => {
        await store.putToken({ ...token("old", "a"), expiresAt: T0 - 1 });
        await store.putToken({ ...token("edge", "a"), expiresAt: T0 });
        await store.putToken({ ...token("live", "a"), expiresAt: T0 + 1 });
        expect(await store.deleteExpiredTokens(T0)).toBe(1);
        expect(await store.getToken("old")).toBeUndefined();
        expect(await store.getToken("edge")).toBeDefined();
        expect(await store.getToken("live")).toBeDefined();
      });
    });

    describe("erasure and retention", () => {
      it("deletes a conversation with its messages and jobs, leaving others alone", async () => {
        await withConversations("c1", "c2");
        const m1 = await insertMessage(newMessage("c1", "m1"));
        const m2 = await insertMessage(newMessage("c2", "m2"));
        await enqueue(newJob("c1"));
        const j2 = await enqueue(newJob("c2"));

        expect(await store.deleteConversation("c1")).toBe(true);
        expect(await store.getConversation("c1")).toBeUndefined();
        expect(await store.getMessage(m1.uuid)).toBeUndefined();
        expect(await store.conversationMessages("c1")).toEqual([]);
        expect((await store.listMessages({ limit: 10 })).messages).toStrictEqual([m2]);
        expect(await store.pendingJobs()).toStrictEqual([j2]);
        expect(await store.deleteConversation("c1")).toBe(false);

        // The ids are free again: the same conversation and message id can be stored anew.
        await withConversations("c1");
        const again = await insertMessage(newMessage("c1", "m1"));
        expect(again.seq).toBeGreaterThan(m2.seq);
      });

      it("purges conversations closed before the cutoff, with their messages and jobs", async () => {
        const closedAt = (id: string, at: string): Conversation => ({
          ...conversation(id),
          state: "closed",
          closedBy: "helpline",
          closedAt: at,
        });
        await insertConversation(closedAt("old", "2025-12-01T00:00:00.000Z"));
        await insertConversation(closedAt("older", "2025-11-01T00:00:00Z"));
        await insertConversation(closedAt("recent", "2026-01-02T00:00:00.000Z"));
        await insertConversation(closedAt("edge", "2025-12-15T00:00:00.000Z"));
        await insertConversation({ ...conversation("open"), createdAt: "2025-01-01T00:00:00.000Z" });
        const old = await insertMessage(newMessage("old", "m1"));
        const oldJob = await enqueue(newJob("old"));
        const kept = await enqueue(newJob("recent"));

        expect(await store.purgeClosedBefore("2025-12-15T00:00:00.000Z")).toStrictEqual({
          conversations: 1,
          deadLetters: 0,
          pendingSkipped: 1,
        });
        // "old" still has a job on its way: kept, with its message and job, until that is done.
        expect(await store.getConversation("old")).toBeDefined();
        expect(await store.getMessage(old.uuid)).toBeDefined();
        expect(await store.getConversation("older")).toBeUndefined();
        expect(await store.pendingJobs()).toStrictEqual([oldJob, kept]);
        for (const id of ["recent", "edge", "open"]) expect(await store.getConversation(id)).toBeDefined();

        await store.transaction((tx) => tx.deleteJob(oldJob.id));
        expect(await store.purgeClosedBefore("2025-12-15T00:00:00.000Z")).toStrictEqual({
          conversations: 1,
          deadLetters: 0,
          pendingSkipped: 0,
        });
        expect(await store.getConversation("old")).toBeUndefined();
        expect(await store.getMessage(old.uuid)).toBeUndefined();
        expect(await store.pendingJobs()).toStrictEqual([kept]);
        expect(await store.purgeClosedBefore("2025-12-15T00:00:00.000Z")).toStrictEqual({
          conversations: 0,
          deadLetters: 0,
          pendingSkipped: 0,
        });
      });

      it("purges dead jobs with their conversation and counts them; a pending job behind one keeps it", async () => {
        const closed = (id: string): Conversation => ({
          ...conversation(id),
          state: "closed",
          closedBy: "helpline",
          closedAt: "2025-12-01T00:00:00.000Z",
        });
        await insertConversation(closed("dead-only"));
        await insertConversation(closed("dead-and-pending"));
        const d1 = await enqueue(newJob("dead-only"));
        const d2 = await enqueue(newJob("dead-only", { lane: "chatbot" }));
        const d3 = await enqueue(newJob("dead-and-pending"));
        const waiting = await enqueue(newJob("dead-and-pending"));
        for (const job of [d1, d2, d3]) await deadLetter(job.id, T0);

        expect(await store.purgeClosedBefore("2025-12-15T00:00:00.000Z")).toStrictEqual({
          conversations: 1,
          deadLetters: 2,
          pendingSkipped: 1,
        });
        expect(await store.getConversation("dead-only")).toBeUndefined();
        expect(ids((await store.listDeadLetters({ limit: 10 })).jobs)).toEqual([d3.id]);
        expect(await store.pendingJobs()).toStrictEqual([waiting]);
        expect(await store.outboxStats(T0)).toMatchObject({ pending: 1, deadLetters: 1 });
      });

      it("erases a conversation's dead jobs with it", async () => {
        await withConversations("c1", "c2");
        const dead = await enqueue(newJob("c1"));
        const other = await enqueue(newJob("c2"));
        await deadLetter(dead.id, T0);
        await deadLetter(other.id, T0);
        expect(await store.deleteConversation("c1")).toBe(true);
        expect(await store.transaction((tx) => tx.getJob(dead.id))).toBeUndefined();
        expect(ids((await store.listDeadLetters({ limit: 10 })).jobs)).toEqual([other.id]);
        expect(await store.outboxStats(T0)).toMatchObject({ deadLetters: 1 });
      });
    });

    describe("availability", () => {
      it("answers ping while open", async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it("throws StoreUnavailableError once closed", async () => {
        await store.close();
        await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(store.getConversation("c1")).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(store.transaction((tx) => tx.insertConversation(conversation("c1")))).rejects.toBeInstanceOf(
          StoreUnavailableError,
        );
        await expect(store.claimDueJobs({ now: T0, limit: 1, owner: "w", leaseMs: 1 })).rejects.toBeInstanceOf(
          StoreUnavailableError,
        );
        await store.close(); // closing twice is harmless
      });

      it("finishes the work queued before close", async () => {
        const write = insertConversation(conversation("c1"));
        const closing = store.close();
        await expect(write).resolves.toBeUndefined();
        await closing;
      });
    });

    describe("durability (when the store can be reopened)", () => {
      it("keeps committed data across close and reopen, and goes on numbering after it", async (ctx) => {
        if (!subject.reopen) ctx.skip();
        await insertConversation(fullConversation("c1"));
        const m1 = await insertMessage(fullMessage("c1", "m1"));
        const m2 = await insertMessage(newMessage("c1", "m2"));
        const job = await enqueue(newJob("c1", { messageUuid: m1.uuid }));
        const ack = await enqueue(newJob("c1", { lane: "ack:chatbot", kind: "ack", payload: { status: "read" } }));
        await store.claimDueJobs({ now: T0, limit: 10, owner: "w1", leaseMs: 30_000 });
        await store.transaction((tx) => tx.rescheduleJob(job.id, 3, T0 + 120_000));
        await store.putToken(token("h1", "chatbot"));
        await expect(
          store.transaction(async (tx) => {
            await tx.insertConversation(conversation("uncommitted"));
            throw new Error("never committed");
          }),
        ).rejects.toThrow();

        const s = await reopen();
        expect(await s.getConversation("c1")).toStrictEqual(fullConversation("c1"));
        expect(await s.getConversation("uncommitted")).toBeUndefined();
        expect(await s.conversationMessages("c1")).toStrictEqual([m1, m2]);
        expect(await s.getToken("h1")).toStrictEqual(token("h1", "chatbot"));
        const pending = await s.pendingJobs();
        expect(pending).toStrictEqual([
          { ...job, attempts: 3, nextAttemptAt: T0 + 120_000 },
          { ...ack, leaseOwner: "w1", leaseUntil: T0 + 30_000 },
        ]);
        await s.releaseLeases();
        expect(ids(await s.claimDueJobs({ now: T0, limit: 10, owner: "w2", leaseMs: 1 }))).toEqual([ack.id]);

        const m3 = await s.transaction((tx) => tx.insertMessage(newMessage("c1", "m3")));
        expect(m3.seq).toBeGreaterThan(m2.seq);
        const later = await s.transaction((tx) => tx.enqueueJob(newJob("c1")));
        expect(later.id).toBeGreaterThan(ack.id);
      });
    });
  });
}

/** Epoch ms every fixture is relative to. */
const T0 = Date.parse("2026-01-01T00:00:00.000Z");

function ids(jobs: OutboxJob[]): number[] {
  return jobs.map((j) => j.id).sort((a, b) => a - b);
}

/** A deterministic UUID-shaped id. */
function uuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

function conversation(id: string): Conversation {
  return {
    id,
    state: "requested",
    origin: "webhook",
    helpline: "default",
    contact: "5f2a9c1e-0000-4000-8000-000000000001",
    huntCount: 0,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
    version: 1,
  };
}

function fullConversation(id: string): Conversation {
  return {
    ...conversation(id),
    state: "closed",
    origin: "ticketer",
    channel: "WHATSAPP",
    clientName: "Client 7",
    counselorName: "Amina",
    counselorExtension: "101",
    location: "Nairobi",
    risk: "high",
    metadata: { flow: { uuid: "f1", steps: [1, 2, 3] }, flag: true, nothing: null },
    ticket: { ticketId: "t-1", ticketerUuid: "tk-1" },
    huntCount: 2,
    huntDeadline: T0 + 60_000,
    closedBy: "helpline",
    closeReason: "resolved",
    closedAt: "2026-01-01T01:00:00.000Z",
    updatedAt: "2026-01-01T01:00:00.000Z",
    version: 7,
  };
}

/** Message uuids derive from (conversation, messageId) so a test can name a message it stored. */
function newMessage(conversationId: string, messageId: string): NewMessage {
  let n = 0;
  for (const ch of `${conversationId}/${messageId}`) n = (n * 31 + ch.charCodeAt(0)) % 0xffffffffff;
  return {
    uuid: uuid(n),
    conversationId,
    messageId,
    messageIdGiven: true,
    direction: "to_helpline",
    source: "WENI",
    attachments: [],
    textHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    status: "accepted",
    createdAtMs: T0,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
    attempts: 0,
    acceptedState: "requested",
  };
}

function fullMessage(conversationId: string, messageId: string): NewMessage {
  return {
    ...newMessage(conversationId, messageId),
    text: "I need help — ñ ü 🙏",
    attachments: [
      { url: "https://example.org/a.jpg", content_type: "image/jpeg" },
      { url: "https://example.org/b.ogg", content_type: "audio/ogg" },
    ],
    senderName: "Client 7",
    receiver: "helpline-1",
    channel: "WENI",
    status: "failed",
    lastError: { code: "upstream_5xx", message: "helpline answered 503" },
    attempts: 5,
    acceptedState: "hunting",
  };
}

function newJob(conversationId: string, overrides: Partial<NewOutboxJob> = {}): NewOutboxJob {
  return {
    conversationId,
    lane: "helpline",
    kind: "message",
    payload: {},
    attempts: 0,
    nextAttemptAt: T0,
    createdAt: "2026-01-01T00:00:00.000Z",
    ...overrides,
  };
}

function token(hash: string, consumer: string): StoredToken {
  return { hash, consumer, expiresAt: T0 + 3_600_000, createdAt: "2026-01-01T00:00:00.000Z", revoked: false };
}
