import { describe, expect, it } from "vitest";
import { storeConformance } from "../../test-support/store-conformance";
import type { Conversation } from "../domain/model";
import { StoreUnavailableError } from "./errors";
import { createMemoryStore } from "./memory-store";

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

storeConformance("memory", async () => ({ store: createMemoryStore() }));
