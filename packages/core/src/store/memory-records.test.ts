import { describe, expect, it } from "vitest";
import type { Conversation, Message } from "../domain/model";
import {
  decodeConversation,
  decodeMessage,
  encodeConversation,
  encodeMessage,
  messageRecordMatcher,
  messageSeqOf,
} from "./memory-records";

/** What the durable stores give back: the JSON round trip. */
const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const message = (overrides: Partial<Message> = {}): Message => ({
  uuid: "5f2a9c1e-4b7d-4e21-9c3a-0123456789ab",
  conversationId: "c1",
  messageId: "m1",
  messageIdGiven: true,
  direction: "to_helpline",
  source: "WENI",
  text: "I need help — ñ ü 🙏",
  attachments: [{ url: "https://example.org/a.jpg", content_type: "image/jpeg" }],
  senderName: "Client 7",
  textHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  status: "accepted",
  seq: 41,
  createdAtMs: Date.parse("2026-01-01T00:00:00.123Z"),
  createdAt: "2026-01-01T00:00:00.123Z",
  updatedAt: "2026-01-01T00:00:05.000Z",
  attempts: 0,
  acceptedState: "hunting",
  ...overrides,
});

const conversation = (overrides: Partial<Conversation> = {}): Conversation => ({
  id: "c1",
  state: "hunting",
  origin: "webhook",
  helpline: "default",
  contact: "5f2a9c1e-0000-4000-8000-000000000001",
  huntCount: 1,
  huntDeadline: Date.parse("2026-01-01T00:01:00.000Z"),
  metadata: { flow: { steps: [1, 2] }, nothing: null },
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:30.000Z",
  version: 2,
  ...overrides,
});

const roundTripMessage = (m: Message): Message => decodeMessage(encodeMessage(m), m.conversationId);
const roundTripConversation = (c: Conversation): Conversation => decodeConversation(encodeConversation(c), c.id);

describe("memory records", () => {
  it("round-trips a message and a conversation exactly, in far fewer characters than their JSON", () => {
    const m = message();
    const c = conversation();
    expect(roundTripMessage(m)).toStrictEqual(m);
    expect(roundTripConversation(c)).toStrictEqual(c);
    // What the memory store saves: names, enumerations, times, digests and the uuid in short form.
    expect(encodeMessage(m).length).toBeLessThan(JSON.stringify(m).length * 0.5);
    expect(encodeConversation(c).length).toBeLessThan(JSON.stringify(c).length * 0.5);
  });

  it("round-trips values that do not fit a compact form as the JSON round trip gives them", () => {
    const odd = {
      ...message(),
      // Not canonical: upper case, no milliseconds, 2 hex digits over groups of 3, unknown enum values.
      uuid: "5F2A9C1E-4B7D-4E21-9C3A-0123456789AB",
      createdAt: "2026-01-01T00:00:00Z",
      updatedAt: "not a time",
      textHash: "ABCDEF",
      status: "archived",
      direction: "sideways",
      // Fields the model does not name, a null, a Date, an undefined field.
      extra: { nested: [1, "two"] },
      receiver: null,
      replayedAt: new Date(Date.UTC(2026, 0, 2)),
      channel: undefined,
    } as unknown as Message;
    expect(roundTripMessage(odd)).toStrictEqual(viaJson(odd));

    const oddConversation = {
      ...conversation(),
      state: "paused",
      closedAt: "2026-01-01",
      huntDeadline: Number.NaN,
      ["__proto__"]: { polluted: true },
    } as unknown as Conversation;
    const back = roundTripConversation(oddConversation);
    expect(back).toStrictEqual(viaJson(oddConversation));
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
  });

  it("round-trips any uuid string, one that looks packed too, and any hex length", () => {
    for (const uuid of [
      "",
      "x",
      "AAAAAAAAAAAAAAAAAAAAAA",
      '["quoted", "array"]',
      "00000000-0000-4000-8000-00000000002a",
    ]) {
      expect(roundTripMessage(message({ uuid })).uuid).toBe(uuid);
    }
    let hex = "";
    for (let length = 0; length <= 70; length++) {
      expect(roundTripMessage(message({ textHash: hex })).textHash).toBe(hex);
      hex += "0123456789abcdef"[(length * 7) % 16];
    }
  });

  it("keeps times exact far from the message's creation, and with a creation time that is not an integer", () => {
    const far = message({
      createdAtMs: 0.5,
      updatedAt: "+100000-01-01T00:00:00.000Z",
      replayedAt: "1970-01-01T00:00:00.001Z",
    });
    expect(roundTripMessage(far)).toStrictEqual(far);
    // A base time that is not kept in its compact form (a string): the other times count from 0.
    const stringBase = { ...message(), createdAtMs: "2026-01-01T00:00:00.123Z" } as unknown as Message;
    expect(roundTripMessage(stringBase)).toStrictEqual(stringBase);
    const huge = message({ createdAtMs: Number.MAX_SAFE_INTEGER, createdAt: "-271821-04-20T00:00:00.000Z" });
    expect(roundTripMessage(huge)).toStrictEqual(huge);
  });

  it("reads a record's seq and tells its uuid without decoding it", () => {
    const m = message({ seq: 123456, text: "my friend's id is 00000000-0000-4000-8000-000000000001" });
    const record = encodeMessage(m);
    expect(messageSeqOf(record)).toBe(123456);
    expect(messageRecordMatcher(m.uuid)(record)).toBe(true);
    // Named in the text, not the message's uuid.
    expect(messageRecordMatcher("00000000-0000-4000-8000-000000000001")(record)).toBe(false);
    expect(messageRecordMatcher(m.uuid.toUpperCase())(record)).toBe(false);
    const odd = encodeMessage(message({ uuid: "not-a-uuid" }));
    expect(messageRecordMatcher("not-a-uuid")(odd)).toBe(true);
    expect(messageRecordMatcher("not-a-uui")(odd)).toBe(false);
  });
});
