import type { Conversation, Message } from "../domain/model";
import { CONVERSATION_STATES } from "./store-checks";

/**
 * The memory store's records: a conversation or a message kept as one compact JSON text rather than
 * as an object. As text, a record shares nothing with a caller (every read parses a fresh object),
 * and it costs a fraction of the object: fields by position rather than by name, enumerations as
 * small numbers, ISO times as milliseconds, hex digests and uuids in base64url. A message of the
 * `bench/memory-store.ts` run takes ~220 bytes of heap this way, ~950 as a `structuredClone`d object.
 *
 * Exact: decoding gives back what the JSON round trip of the durable stores gives (fields that are
 * `undefined` left out, a `Date` in metadata read back as its ISO string). A value that does not fit
 * its field's compact form (an unknown enumeration value, a time that is not a canonical ISO string,
 * a `null`, a field the model does not name) is kept as it is, in a trailing object of leftovers.
 */

/** What a field's compact form may be: any JSON value but `null`, which marks an absent field. */
type Compact = string | number | boolean | object;

/** How one field is kept. */
interface FieldForm {
  /** The compact form of `value`, or undefined when it does not fit (then it is kept as a leftover). */
  pack(value: unknown, baseMs: number): Compact | undefined;
  unpack(compact: Compact, baseMs: number): unknown;
}

const asText: FieldForm = {
  pack: (value) => (typeof value === "string" ? value : undefined),
  unpack: (compact) => compact,
};

const asNumber: FieldForm = {
  pack: (value) => (typeof value === "number" && Number.isFinite(value) ? value : undefined),
  unpack: (compact) => compact,
};

const asFlag: FieldForm = {
  pack: (value) => (value === true ? 1 : value === false ? 0 : undefined),
  unpack: (compact) => compact === 1,
};

/** An object or array, as JSON. */
const asJson: FieldForm = {
  pack: (value) => (typeof value === "object" && value !== null ? value : undefined),
  unpack: (compact) => compact,
};

/** One of `values`, as its index. */
function oneOf(values: readonly string[]): FieldForm {
  return {
    pack: (value) => {
      const index = values.indexOf(value as string);
      return index === -1 ? undefined : index;
    },
    unpack: (compact) => values[compact as number],
  };
}

/** The epoch milliseconds of an ISO time as `toISOString()` writes it (and only then), else undefined. */
function isoMs(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) && new Date(ms).toISOString() === value ? ms : undefined;
}

/** `ms` as an offset from the record's base time, when adding them back gives exactly `ms`. */
function offsetFrom(baseMs: number, ms: number | undefined): number | undefined {
  if (!Number.isSafeInteger(ms)) return undefined;
  const offset = (ms as number) - baseMs;
  return baseMs + offset === ms ? offset : undefined;
}

/**
 * An ISO time as `toISOString()` writes it, as milliseconds from the record's base time (a message's
 * `createdAtMs`, a conversation's `createdAt`: its other times then take a few digits).
 */
const asIsoTime: FieldForm = {
  pack: (value, baseMs) => offsetFrom(baseMs, isoMs(value)),
  unpack: (compact, baseMs) => new Date(baseMs + (compact as number)).toISOString(),
};

/** Epoch milliseconds (an integer), from the record's base time. */
const asEpochMs: FieldForm = {
  pack: (value, baseMs) => (typeof value === "number" ? offsetFrom(baseMs, value) : undefined),
  unpack: (compact, baseMs) => baseMs + (compact as number),
};

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const HEX = "0123456789abcdef";
const LOWER_HEX = /^[0-9a-f]+$/;
/** Character code → its value in {@link BASE64URL}. */
const BASE64URL_VALUE = new Uint8Array(128);
for (let i = 0; i < BASE64URL.length; i++) BASE64URL_VALUE[BASE64URL.charCodeAt(i)] = i;

/** The value of a lowercase hex digit, by character code. */
function hexValue(code: number): number {
  return code <= 57 ? code - 48 : code - 87;
}

/** Lowercase hex digits in base64url: 3 digits in 2 characters, a last lone digit in 1. */
function packHex(hex: string): string {
  let packed = "";
  let i = 0;
  for (; i + 3 <= hex.length; i += 3) {
    const n =
      (hexValue(hex.charCodeAt(i)) << 8) | (hexValue(hex.charCodeAt(i + 1)) << 4) | hexValue(hex.charCodeAt(i + 2));
    packed += BASE64URL[n >> 6]! + BASE64URL[n & 63]!;
  }
  if (i < hex.length) packed += BASE64URL[hexValue(hex.charCodeAt(i))]!;
  return packed;
}

function unpackHex(packed: string): string {
  let hex = "";
  let i = 0;
  for (; i + 2 <= packed.length; i += 2) {
    const n = (BASE64URL_VALUE[packed.charCodeAt(i)]! << 6) | BASE64URL_VALUE[packed.charCodeAt(i + 1)]!;
    hex += HEX[n >> 8]! + HEX[(n >> 4) & 15]! + HEX[n & 15]!;
  }
  if (i < packed.length) hex += HEX[BASE64URL_VALUE[packed.charCodeAt(i)]!]!;
  return hex;
}

/**
 * Lowercase hex digits (a SHA-256 `textHash`: 64 of them, 43 characters packed). Not when 2 digits
 * are left over after the groups of 3: packed, they would read back as 3.
 */
const asHex: FieldForm = {
  pack: (value) =>
    typeof value === "string" && value.length % 3 !== 2 && LOWER_HEX.test(value) ? packHex(value) : undefined,
  unpack: (compact) => unpackHex(compact as string),
};

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A uuid: in its canonical form (lowercase, dashed, what `crypto.randomUUID()` gives) packed in 22
 * characters, any other string as it is, inside an array (so it never reads as a packed one).
 */
const asUuid: FieldForm = {
  pack: (value) => {
    if (typeof value !== "string") return undefined;
    // 32 digits are 2 more than groups of 3: a leading 0 makes them 33.
    return CANONICAL_UUID.test(value) ? packHex(`0${value.replaceAll("-", "")}`) : [value];
  },
  unpack: (compact) => {
    if (Array.isArray(compact)) return compact[0];
    const hex = unpackHex(compact as string).slice(1);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  },
};

/**
 * A record's text: the packed fields in the order of `fields` (`null` where one is absent), then the
 * leftovers when there are any. `columns` are kept outside the record (the store's keys and indexes)
 * and skipped. `baseField` names the time (epoch ms or ISO) that the record's other times count from:
 * itself kept whole, read first.
 */
function recordCodec(
  fields: readonly (readonly [key: string, form: FieldForm])[],
  columns: readonly string[],
  baseField?: string,
) {
  const position = new Map(fields.map(([key], i) => [key, i]));
  const skipped = new Set(columns);
  const basePosition = baseField === undefined ? undefined : position.get(baseField);
  /**
   * The base time's milliseconds: 0 when the base field is not kept in its compact form (then it is
   * not in its slot when decoding either) or is not an integer time.
   */
  const baseOf = (value: unknown): number => {
    if (basePosition === undefined || value === undefined || fields[basePosition]![1].pack(value, 0) === undefined) {
      return 0;
    }
    return Number.isSafeInteger(value) ? (value as number) : (isoMs(value) ?? 0);
  };

  return {
    encode(value: object): string {
      const source = value as Record<string, unknown>;
      const baseMs = baseField === undefined ? 0 : baseOf(source[baseField]);
      // Holes (absent fields) are written as null; nothing is written after the last field present.
      const slots: Compact[] = [];
      let leftovers: Record<string, unknown> | undefined;
      for (const key of Object.keys(source)) {
        const field = source[key];
        if (field === undefined || skipped.has(key)) continue;
        const i = position.get(key);
        const packed = i === undefined ? undefined : fields[i]![1].pack(field, i === basePosition ? 0 : baseMs);
        if (packed !== undefined) slots[i!] = packed;
        else {
          leftovers ??= Object.create(null) as Record<string, unknown>;
          leftovers[key] = field;
        }
      }
      if (leftovers) slots[fields.length] = leftovers;
      return JSON.stringify(slots);
    },

    /** Adds the fields of `record` to `target` (which holds the columns), in the order of `fields`. */
    decodeInto(record: string, target: Record<string, unknown>): void {
      const slots = JSON.parse(record) as (Compact | null)[];
      const baseSlot = basePosition === undefined ? null : slots[basePosition];
      const baseMs =
        baseSlot === null || baseSlot === undefined ? 0 : baseOf(fields[basePosition!]![1].unpack(baseSlot, 0));
      const count = Math.min(slots.length, fields.length);
      for (let i = 0; i < count; i++) {
        const compact = slots[i];
        if (compact === null || compact === undefined) continue;
        const [key, form] = fields[i]!;
        target[key] = form.unpack(compact, i === basePosition ? 0 : baseMs);
      }
      const leftovers = slots[fields.length] as Record<string, unknown> | undefined;
      // defineProperty: a leftover named `__proto__` is a field, as JSON.parse gives it, not the prototype.
      for (const key of Object.keys(leftovers ?? {})) {
        Object.defineProperty(target, key, {
          value: leftovers![key],
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    },
  };
}

/** Required fields first, then the optional ones most often present: absent ones cost nothing at the end. */
const conversationCodec = recordCodec(
  [
    ["state", oneOf(CONVERSATION_STATES)],
    ["origin", oneOf(["webhook", "ticketer"])],
    ["helpline", asText],
    ["contact", asUuid],
    ["huntCount", asNumber],
    ["createdAt", asIsoTime],
    ["updatedAt", asIsoTime],
    ["version", asNumber],
    ["channel", asText],
    ["clientName", asText],
    ["counselorName", asText],
    ["huntDeadline", asEpochMs],
    ["metadata", asJson],
    ["counselorExtension", asText],
    ["closedBy", oneOf(["chatbot", "helpline", "system"])],
    ["closeReason", asText],
    ["closedAt", asIsoTime],
    ["unavailableNoticeAt", asIsoTime],
    ["ticket", asJson],
    ["reopenedFrom", asText],
    ["reopenedTo", asText],
    ["location", asText],
    ["risk", asText],
  ],
  ["id"],
  "createdAt",
);

/** `seq` and `uuid` first, at known places: see {@link messageSeqOf} and {@link messageRecordMatcher}. */
const messageCodec = recordCodec(
  [
    ["seq", asNumber],
    ["uuid", asUuid],
    ["messageId", asText],
    ["messageIdGiven", asFlag],
    ["direction", oneOf(["to_helpline", "to_chatbot"])],
    ["source", oneOf(["WENI", "OUTBOX", "HELPLINE"])],
    ["status", oneOf(["accepted", "sent", "delivered", "read", "failed"])],
    ["acceptedState", oneOf(CONVERSATION_STATES)],
    ["attempts", asNumber],
    ["createdAtMs", asNumber],
    ["createdAt", asIsoTime],
    ["updatedAt", asIsoTime],
    ["textHash", asHex],
    ["attachments", asJson],
    ["text", asText],
    ["senderName", asText],
    ["receiver", asText],
    ["channel", asText],
    ["lastError", asJson],
    ["replayedAt", asIsoTime],
  ],
  ["conversationId"],
  "createdAtMs",
);

/** A conversation's record: everything but its `id` (the store's key). */
export function encodeConversation(conversation: Conversation): string {
  return conversationCodec.encode(conversation);
}

export function decodeConversation(record: string, id: string): Conversation {
  const conversation: Record<string, unknown> = { id };
  conversationCodec.decodeInto(record, conversation);
  return conversation as unknown as Conversation;
}

/** A message's record: everything but its `conversationId` (the key of its conversation). */
export function encodeMessage(message: Message): string {
  return messageCodec.encode(message);
}

export function decodeMessage(record: string, conversationId: string): Message {
  const message: Record<string, unknown> = { conversationId };
  messageCodec.decodeInto(record, message);
  return message as unknown as Message;
}

/**
 * A message record's `seq`, read without decoding the record (to order messages): the store assigns
 * every message a safe integer, the record's first field.
 */
export function messageSeqOf(record: string): number {
  return Number(record.slice(1, record.indexOf(",")));
}

/**
 * A test for "this record is the message `uuid`", without decoding: the packed uuid, a complete JSON
 * value, follows the seq.
 */
export function messageRecordMatcher(uuid: string): (record: string) => boolean {
  const packed = asUuid.pack(uuid, 0);
  if (packed === undefined) return () => false;
  const text = JSON.stringify(packed);
  return (record) => record.startsWith(text, record.indexOf(",") + 1);
}

/**
 * The key of the memory store's index of messages: a 31-bit FNV-1a hash of the uuid, a small integer
 * (which V8 keeps in the Map entry itself, where a uuid string would cost more than the entry).
 * Two uuids may share one: the index lists every row under it.
 */
export function uuidKey(uuid: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < uuid.length; i++) hash = Math.imul(hash ^ uuid.charCodeAt(i), 0x01000193);
  return hash >>> 1;
}

/**
 * A flat copy of a string to keep. A caller's string may be a rope: `crypto.randomUUID()` returns
 * a V8 cons string of ~20 pieces, ~500 bytes of heap for 36 characters; the copy is one block.
 */
export function flatString(value: string): string {
  return JSON.parse(JSON.stringify(value)) as string;
}
