import { describe, expect, it } from "vitest";
import { storeConformance } from "../../test-support/store-conformance";
import type { Conversation, Message } from "../domain/model";
import { StoreUnavailableError } from "./errors";
import { uuidKey } from "./memory-records";
import { createMemoryStore } from "./memory-store";
import type { NewMessage, NewOutboxJob } from "./store";

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

const uuidOf = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

const newMessage = (conversationId: string, messageId: string, uuid: string): NewMessage => ({
  uuid,
  conversationId,
  messageId,
  messageIdGiven: true,
  direction: "to_helpline",
  source: "WENI",
  text: "hello",
  attachments: [{ url: "https://example.org/a.jpg", content_type: "image/jpeg" }],
  textHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  status: "accepted",
  createdAtMs: Date.parse("2026-01-01T00:00:00.000Z"),
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  attempts: 0,
  acceptedState: "requested",
});

/** Two uuids under one key of the store's message index (found by trying: ~2^16 tries). */
function collidingUuids(from: number): [string, string] {
  const seen = new Map<number, string>();
  for (let n = from; ; n++) {
    const uuid = uuidOf(n);
    const other = seen.get(uuidKey(uuid));
    if (other !== undefined) return [other, uuid];
    seen.set(uuidKey(uuid), uuid);
  }
}

describe("createMemoryStore: memory-specific behaviour", () => {
  it("failWith makes every operation throw, and a transaction roll back, until it stops failing", async () => {
    let down = false;
    const store = createMemoryStore({ failWith: () => (down ? new StoreUnavailableError("down") : undefined) });
    await store.transaction((tx) => tx.insertConversation(conversation("c1")));

    down = true;
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.getConversation("c1")).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.transaction((tx) => tx.insertConversation(conversation("c2")))).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );

    // Failing in the middle of a transaction undoes its earlier writes.
    down = false;
    await expect(
      store.transaction(async (tx) => {
        await tx.insertConversation(conversation("c3"));
        down = true;
        await tx.insertConversation(conversation("c4"));
      }),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
    down = false;
    expect(await store.getConversation("c3")).toBeUndefined();
    expect(await store.getConversation("c1")).toMatchObject({ id: "c1" });
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it("copies values in and out: mutating a passed or returned object does not change the store", async () => {
    const store = createMemoryStore();
    const input = conversation("c1");
    input.metadata = { nested: { a: 1 } };
    await store.transaction((tx) => tx.insertConversation(input));
    (input.metadata as { nested: { a: number } }).nested.a = 2;
    input.state = "closed";

    const read = await store.getConversation("c1");
    expect(read?.state).toBe("requested");
    expect(read?.metadata).toEqual({ nested: { a: 1 } });
    if (read) read.state = "hunting";
    expect((await store.getConversation("c1"))?.state).toBe("requested");
  });
});

describe("createMemoryStore: messages and jobs share nothing with the caller", () => {
  it("keeps a message as it was written, whatever the caller does to the objects passed or returned", async () => {
    const store = createMemoryStore();
    await store.transaction((tx) => tx.insertConversation(conversation("c1")));
    const input = newMessage("c1", "m1", uuidOf(1));
    const inserted = await store.transaction((tx) => tx.insertMessage(input));
    const expected: Message = { ...newMessage("c1", "m1", uuidOf(1)), seq: inserted.seq };
    input.attachments.push({ url: "https://example.org/b.jpg", content_type: "image/jpeg" });
    input.text = "changed";
    inserted.attachments[0]!.url = "https://evil.example/";
    inserted.status = "failed";

    const read = await store.getMessage(uuidOf(1));
    expect(read).toStrictEqual(expected);
    read!.attachments.length = 0;
    const [listed] = (await store.listMessages({ limit: 1 })).messages;
    listed!.text = "changed";
    const [ofConversation] = await store.conversationMessages("c1");
    ofConversation!.messageId = "m2";
    const found = await store.transaction((tx) => tx.getMessageByMessageId("c1", "to_helpline", "m1"));
    found!.attachments[0]!.content_type = "text/html";

    expect(await store.getMessage(uuidOf(1))).toStrictEqual(expected);
    expect(await store.conversationMessages("c1")).toStrictEqual([expected]);
  });

  it("keeps a job as it was written, whatever the caller does to the objects passed or returned", async () => {
    const store = createMemoryStore();
    await store.transaction((tx) => tx.insertConversation(conversation("c1")));
    const job: NewOutboxJob = {
      conversationId: "c1",
      lane: "helpline",
      kind: "close",
      payload: { closedBy: "chatbot", nested: { reason: "done" } },
      attempts: 0,
      nextAttemptAt: 0,
      createdAt: "2026-01-01T00:00:00.000Z",
    };
    const queued = await store.transaction((tx) => tx.enqueueJob(job));
    (job.payload.nested as { reason: string }).reason = "changed";
    (queued.payload.nested as { reason: string }).reason = "changed";
    const [claimed] = await store.claimDueJobs({ now: 1, limit: 1, owner: "w", leaseMs: 1000 });
    (claimed!.payload.nested as { reason: string }).reason = "changed";
    expect((await store.pendingJobs())[0]?.payload).toStrictEqual({ closedBy: "chatbot", nested: { reason: "done" } });
  });
});

describe("createMemoryStore: its message index", () => {
  it("undoes a rolled-back insert and update of messages completely: the same ids can be written again", async () => {
    const store = createMemoryStore();
    await store.transaction((tx) => tx.insertConversation(conversation("c1")));
    const kept = await store.transaction((tx) => tx.insertMessage(newMessage("c1", "m1", uuidOf(1))));
    await expect(
      store.transaction(async (tx) => {
        const added = await tx.insertMessage(newMessage("c1", "m2", uuidOf(2)));
        await tx.updateMessage({ ...added, status: "sent" });
        await tx.updateMessage({ ...kept, status: "delivered" });
        expect((await tx.getMessage(uuidOf(2)))?.status).toBe("sent");
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");

    expect(await store.getMessage(uuidOf(2))).toBeUndefined();
    expect(await store.getMessage(uuidOf(1))).toStrictEqual(kept);
    expect(await store.conversationMessages("c1")).toStrictEqual([kept]);
    const again = await store.transaction((tx) => tx.insertMessage(newMessage("c1", "m2", uuidOf(2))));
    expect(await store.conversationMessages("c1")).toStrictEqual([kept, again]);
  });

  it("tells apart messages whose uuids share an index key, in one conversation or two, through updates and erasure", async () => {
    const [a, b] = collidingUuids(0);
    const [c, d] = collidingUuids(Number.parseInt(b.slice(-12), 16) + 1);
    expect(uuidKey(a)).toBe(uuidKey(b));
    expect(uuidKey(c)).toBe(uuidKey(d));
    const store = createMemoryStore();
    await store.transaction(async (tx) => {
      await tx.insertConversation(conversation("c1"));
      await tx.insertConversation(conversation("c2"));
    });
    const insert = (conversationId: string, messageId: string, uuid: string) =>
      store.transaction((tx) => tx.insertMessage(newMessage(conversationId, messageId, uuid)));
    const ma = await insert("c1", "a", a);
    const mb = await insert("c2", "b", b);
    const mc = await insert("c1", "c", c);
    const md = await insert("c1", "d", d);
    await expect(insert("c2", "other", a)).rejects.toMatchObject({ entity: "message" });

    await store.transaction((tx) => tx.updateMessage({ ...mb, status: "sent" }));
    await store.transaction((tx) => tx.updateMessage({ ...mc, status: "read" }));
    expect(await store.getMessage(a)).toStrictEqual(ma);
    expect(await store.getMessage(b)).toStrictEqual({ ...mb, status: "sent" });
    expect(await store.getMessage(c)).toStrictEqual({ ...mc, status: "read" });
    expect(await store.getMessage(d)).toStrictEqual(md);

    expect(await store.deleteConversation("c1")).toBe(true);
    for (const uuid of [a, c, d]) expect(await store.getMessage(uuid)).toBeUndefined();
    expect(await store.getMessage(b)).toStrictEqual({ ...mb, status: "sent" });
    const reused = await insert("c2", "a-again", a);
    expect(await store.getMessage(a)).toStrictEqual(reused);
  });
});

storeConformance("memory", async () => ({ store: createMemoryStore() }));
