import {
  type Bridge,
  type ChatbotTarget,
  createBridge,
  createMemoryStore,
  ERROR_STATUS,
  type HelplineTarget,
} from "@openchs-bridge/core";
import { createTicketerHandler } from "@openchs-bridge/rapidpro-adapter";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reportFigures } from "./support/truth";

/**
 * Hostile input, property-based (fast-check), straight at the gateway handler (fast enough for
 * thousands of cases): random and mutated bodies, headers, paths, methods, encodings, huge and
 * deeply nested JSON, wrong content types. Every answer must be a documented status with a
 * documented body, within the time limit, never a 5xx, never echoing a secret or a message text.
 * `RELIABILITY_FUZZ_RUNS` scales the case count (default 10,000 in all).
 */
const RUNS = Number(process.env.RELIABILITY_FUZZ_RUNS ?? 10_000);
const SEED = Number(process.env.RELIABILITY_SEED ?? 20_261_125);
const LIMIT_MS = 5000;
const MAX_BODY = 1024 * 1024;
const TICKETER_TOKEN = "SENTINEL:ticketer-token-0123456789";
const SIGNING_SECRET = `whsec_${Buffer.from("SENTINEL:signing-secret-0123456789").toString("base64")}`;
const CONSUMERS = [
  { username: "chatbot", password: "SENTINEL:pw-chatbot", sources: ["WENI" as const] },
  { username: "helpline", password: "SENTINEL:pw-helpline", sources: ["OUTBOX" as const, "HELPLINE" as const] },
  { username: "signer", password: "SENTINEL:pw-signer", sources: ["WENI" as const], signingSecrets: [SIGNING_SECRET] },
];
/** Documented answers of the bridge's own routes (PROTOCOL.md "Status codes"), and of the ticketer routes. */
const BRIDGE_STATUSES = new Set([200, 201, ...Object.values(ERROR_STATUS).filter((s) => s < 500)]);
const TICKETER_STATUSES = new Set([200, 201, 400, 401, 404, 405, 409, 413, 422, 429]);
const SESSIONS = ["fz_open", "fz_connected", "fz_closed", "fz_ticket", "unknown_one"];

let bridge: Bridge;
const tokens: Record<string, string> = {};
/** Values no answer but a read of stored messages may show. */
const secrets: string[] = [TICKETER_TOKEN, SIGNING_SECRET, ...CONSUMERS.map((c) => c.password)];
const statuses = new Map<number, number>();
let cases = 0;

beforeAll(async () => {
  const noop = async () => {};
  const helpline: HelplineTarget = { deliverMessage: noop, notifyClose: noop };
  const chatbot: ChatbotTarget = { deliverMessage: noop, notifyClose: noop, sendAck: noop };
  bridge = createBridge({
    store: createMemoryStore(),
    helplines: helpline,
    chatbot,
    ticketerChatbot: chatbot,
    ticketer: (conversations) => createTicketerHandler({ apiToken: TICKETER_TOKEN, conversations }),
    consumers: CONSUMERS,
    maxBodyBytes: MAX_BODY,
    delivery: { pollMs: 50 },
  });
  await bridge.start();
  for (const c of CONSUMERS) tokens[c.username] = (await bridge.tokens.issue(c.username)).token;
  secrets.push(...Object.values(tokens));
  // Conversations in each state, for the fuzzed calls to find.
  const post = (token: string, body: unknown) =>
    bridge.handler(
      new Request("http://bridge.test/api/chat/", {
        method: "POST",
        headers: { authorization: `Token ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
  const child = (session: string) => ({
    chat_session: session,
    chat_message: "SENTINEL:text-seed",
    chat_sender: "6b0f4e3c-1c1a-4a5e-9f7e-0a1b2c3d4e5f",
    chat_source: "WENI",
    message_id: `${session}-1`,
  });
  for (const session of ["fz_open", "fz_connected", "fz_closed"]) {
    expect((await post(tokens.chatbot!, child(session))).status).toBe(201);
  }
  const reply = {
    chat_session: "fz_connected",
    chat_message: "SENTINEL:reply",
    chat_source: "OUTBOX",
    message_id: "r1",
  };
  expect((await post(tokens.helpline!, reply)).status).toBe(201);
  await bridge.conversations.close({ conversationId: "fz_closed", closedBy: "helpline", reason: "done" });
});

afterAll(async () => {
  await bridge?.stop();
  reportFigures("hostile input (handler)", { cases, statuses: Object.fromEntries([...statuses].sort()) });
});

// ---- generators ------------------------------------------------------------------------------

const sentinel = fc.string({ maxLength: 12 }).map((s) => `SENTINEL:${s}`);
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) });
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { depthSize: "small" },
  fc.jsonValue({ maxDepth: 3 }),
  sentinel,
  fc.constantFrom(null, "", 0, -1, 1e308, true, [], {}, "__proto__", "constructor"),
  fc.string({ unit: "grapheme", maxLength: 50 }),
  fc.integer(),
  fc.nat({ max: 3000 }).map((n) => "x".repeat(n * 100)),
);
const session = fc.oneof(
  fc.constantFrom(...SESSIONS),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,120}$/),
  fc.string({ maxLength: 30 }),
  anyValue,
);
const baseBodies = fc.oneof(
  fc.record(
    {
      chat_session: session,
      chat_message: fc.oneof(sentinel, anyValue),
      chat_sender: fc.oneof(fc.uuid(), anyValue),
      chat_receiver: anyValue,
      chat_source: fc.oneof(fc.constantFrom("WENI", "OUTBOX", "HELPLINE", "INBOX", "weni", ""), anyValue),
      chat_channel: fc.oneof(fc.constantFrom("WENI", "WHATSAPP", "SMS"), anyValue),
      message_id: fc.oneof(fc.uuid(), fc.integer(), anyValue),
      sender_name: fc.oneof(sentinel, anyValue),
      attachments: fc.oneof(
        fc.array(fc.record({ url: fc.oneof(fc.webUrl(), anyValue), content_type: anyValue }), { maxLength: 25 }),
        anyValue,
      ),
      location: anyValue,
      risk: anyValue,
      metadata: fc.oneof(fc.dictionary(fc.string(), anyValue, { maxKeys: 5 }), anyValue),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      message_id: fc.oneof(fc.constantFrom("fz_open-1", "r1"), anyValue),
      status: fc.oneof(fc.constantFrom("delivered", "read", "failed", "sent"), anyValue),
      chat_source: fc.oneof(fc.constantFrom("WENI", "HELPLINE", "OUTBOX"), anyValue),
      sender_name: fc.oneof(sentinel, anyValue),
      reason: fc.oneof(sentinel, anyValue),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    { username: fc.oneof(fc.constantFrom("chatbot", "helpline"), anyValue), password: fc.oneof(sentinel, anyValue) },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      ticket_id: fc.oneof(fc.uuid(), anyValue),
      external_id: fc.oneof(fc.constantFrom(...SESSIONS), anyValue),
      topic: fc.oneof(fc.record({ uuid: fc.uuid(), name: fc.string() }), anyValue),
      contact: fc.oneof(
        fc.record({ uuid: fc.uuid(), name: sentinel, urn: fc.string() }, { requiredKeys: [] }),
        anyValue,
      ),
      body: fc.oneof(sentinel, anyValue),
      text: fc.oneof(sentinel, anyValue),
      message_id: anyValue,
      messages: fc.oneof(
        fc.array(fc.record({ message_id: anyValue, text: sentinel, sent_at: anyValue }, { requiredKeys: [] }), {
          maxLength: 5,
        }),
        anyValue,
      ),
      closed_by: anyValue,
    },
    { requiredKeys: [] },
  ),
  anyValue,
);
/** A body with some keys added, replaced or turned into other types. */
const mutatedBody = fc
  .tuple(
    baseBodies,
    fc.array(
      fc.tuple(
        fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("__proto__", "constructor", "chat_session")),
        anyValue,
      ),
      { maxLength: 3 },
    ),
  )
  .map(([body, extra]) => {
    if (typeof body !== "object" || body === null || Array.isArray(body) || extra.length === 0) return body;
    const copy: Record<string, unknown> = { ...(body as Record<string, unknown>) };
    for (const [k, v] of extra)
      Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true });
    return copy;
  });
const deepNesting = fc
  .tuple(fc.integer({ min: 100, max: 150_000 }), fc.constantFrom("[", '{"a":', '{"metadata":{"a":'))
  .map(([depth, open]) => {
    const close = open === "[" ? "]" : "}";
    const inner = open.startsWith('{"metadata"')
      ? `${open.repeat(1)}${'{"a":'.repeat(depth)}1${"}".repeat(depth + 2)}`
      : `${open.repeat(depth)}1${close.repeat(depth)}`;
    return inner;
  });
/** A valid message with one field hostile: deep metadata, huge text, odd ids, other sides' sources. */
const almostValid = fc
  .record({
    session: fc.oneof(fc.constantFrom(...SESSIONS), fc.stringMatching(/^[A-Za-z0-9_-]{1,100}$/)),
    source: fc.constantFrom("WENI", "WENI", "OUTBOX"),
    text: fc.oneof(
      sentinel,
      fc.string({ unit: "grapheme", maxLength: 200 }),
      fc.nat({ max: 90 }).map((n) => `SENTINEL:${"y".repeat(n * 1000)}`),
    ),
    messageId: fc.oneof(fc.uuid(), fc.integer(), fc.string({ minLength: 1, maxLength: 200 })),
    depth: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 120_000 })),
    extra: fc.dictionary(
      fc.constantFrom("attachments", "location", "risk", "sender_name", "chat_receiver", "chat_channel"),
      anyValue,
      { maxKeys: 2 },
    ),
  })
  .map((v) => {
    const body = JSON.stringify({
      chat_session: v.session,
      chat_message: v.text,
      chat_sender: "6b0f4e3c-1c1a-4a5e-9f7e-0a1b2c3d4e5f",
      chat_source: v.source,
      message_id: v.messageId,
      ...v.extra,
    });
    if (v.depth === 0) return body;
    return `${body.slice(0, -1)},"metadata":{"m":${"[".repeat(v.depth)}${"]".repeat(v.depth)}}}`;
  });
/** Valid Weni ticketer bodies (open, message, history) with one hostile part: deep metadata, odd text. */
const almostValidTicket = fc
  .record({
    kind: fc.constantFrom("open", "message", "history"),
    ticket: fc.uuid(),
    text: fc.oneof(sentinel, fc.string({ unit: "grapheme", maxLength: 100 })),
    depth: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50_000 })),
    extra: fc.dictionary(fc.constantFrom("sent_at", "message_id", "direction", "attachments", "topic"), anyValue, {
      maxKeys: 2,
    }),
  })
  .map((v) => {
    const body =
      v.kind === "open"
        ? {
            ticket_id: v.ticket,
            topic: { name: "default" },
            contact: { uuid: v.ticket, name: v.text },
            body: v.text,
            ...v.extra,
          }
        : v.kind === "message"
          ? { ticket_id: v.ticket, message_id: v.ticket, direction: "incoming", text: v.text, ...v.extra }
          : { messages: [{ message_id: v.ticket, text: v.text, ...v.extra }] };
    const json = JSON.stringify(body);
    if (v.depth === 0) return { kind: v.kind, json };
    return {
      kind: v.kind,
      json: `${json.slice(0, -1)},"metadata":{"m":${"[".repeat(v.depth)}${"]".repeat(v.depth)}}}`,
    };
  });
/** The body as bytes on the wire: JSON, broken JSON, other encodings, random bytes, huge, deep. */
const wireBody: fc.Arbitrary<string | Uint8Array<ArrayBuffer> | undefined> = fc.oneof(
  { weight: 6, arbitrary: mutatedBody.map((b) => JSON.stringify(b) ?? "null") },
  { weight: 4, arbitrary: almostValid },
  { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: mutatedBody.map((b) => (JSON.stringify(b) ?? "").slice(0, -1)) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => new Uint8Array(a)) },
  { weight: 1, arbitrary: mutatedBody.map((b) => `\ufeff${JSON.stringify(b)}`) },
  {
    weight: 1,
    arbitrary: mutatedBody.map((b) => {
      const text = JSON.stringify(b) ?? "";
      const out = new Uint8Array(text.length * 2);
      for (let i = 0; i < text.length; i++) out[i * 2] = text.charCodeAt(i) & 0xff;
      return out; // UTF-16LE
    }),
  },
  {
    weight: 1,
    arbitrary: mutatedBody.map((b) =>
      new URLSearchParams(
        Object.entries((b ?? {}) as Record<string, string>).map(([k, v]) => [
          k,
          typeof v === "string" ? v : (JSON.stringify(v) ?? ""),
        ]),
      ).toString(),
    ),
  },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: fc.nat({ max: 3 }).map((n) => `{"chat_message":"${"A".repeat(MAX_BODY - 10 + n * 1000)}"}`) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant("application/json") },
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/vnd.api+json",
    "application/json; charset=latin1",
    "text/plain",
    "text/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=----x",
    "application/xml",
    "",
  ),
  printable.map((s) => s.slice(0, 60)),
  fc.constant(undefined),
);
const authorization = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("chatbot", "helpline", "signer").map((who) => ({ who })) },
  fc
    .constantFrom("Token ", "Bearer ", "Basic ", "token ", "")
    .chain((scheme) =>
      fc
        .oneof(
          printable,
          fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 }),
          fc.constant("SENTINEL:bad-token"),
        )
        .map((t) => `${scheme}${t}`.slice(0, 2000)),
    ),
  fc.constant(undefined),
);
const pathSegments = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom("chat/", "token/", "chat/fz_open/", "chat/fz_connected/close/", "chat/fz_open/ack/"),
  },
  fc.constantFrom(
    "token/",
    "chat/",
    "chat",
    "health",
    "openapi.json",
    "ticketer/v1/tickets",
    "ticketer/v1/tickets/",
    "ticketer/",
    "ticketer/v2/x",
    "chat/?limit=0",
    "chat/?limit=100000&cursor=-1",
    "chat/?session=fz_open&cursor=abc",
    "chat/?session=../../etc/passwd",
    "%2e%2e/%2e%2e/",
    "chat//",
    "chat/%00/",
  ),
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        session,
        fc.constantFrom("", "/", "/close/", "/ack/", "/close", "/ack", "/messages", "/x/", "/close/extra/"),
      )
      .map(([s, tail]) => `chat/${encodeURIComponent(String(s))}${tail}`),
  },
  fc
    .tuple(session, fc.constantFrom("messages", "close", "reopen", "history", ""))
    .map(([s, tail]) => `ticketer/v1/tickets/${encodeURIComponent(String(s))}/${tail}`),
  fc.webPath(),
  fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => encodeURIComponent(s)),
);
const base = fc.oneof(
  { weight: 8, arbitrary: fc.constant("/api/") },
  fc.constantFrom("/api", "/open/api/", "/", "/API/", "//api/"),
);
const method = fc.oneof(
  fc.constantFrom("GET", "POST", "POST", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"),
  fc.stringMatching(/^[A-Z]{1,12}$/).filter((m) => !["CONNECT", "TRACE", "TRACK"].includes(m)),
);
const extraHeaders = fc.dictionary(
  fc.constantFrom(
    "idempotency-key",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-request-id",
    "content-encoding",
    "x-forwarded-for",
    "accept",
  ),
  printable.map((s) => s.slice(0, 300)),
  { maxKeys: 4 },
);

const request = fc.record({
  method,
  base,
  path: pathSegments,
  body: wireBody,
  contentType,
  authorization,
  headers: extraHeaders,
});

// ---- the properties ---------------------------------------------------------------------------

type Case = typeof request extends fc.Arbitrary<infer T> ? T : never;

function toRequest(c: Case): Request | undefined {
  let url: URL;
  try {
    url = new URL(`${c.base}${c.path}`, "http://bridge.test");
  } catch {
    return undefined;
  }
  const headers = new Headers();
  try {
    for (const [name, value] of Object.entries(c.headers)) headers.set(name, value);
    if (c.contentType !== undefined) headers.set("content-type", c.contentType);
    if (typeof c.authorization === "string") headers.set("authorization", c.authorization);
    else if (c.authorization) headers.set("authorization", `Token ${tokens[c.authorization.who]}`);
  } catch {
    return undefined; // not a header value HTTP can carry: Node's parser refuses it before the handler
  }
  const body = c.method !== "GET" && c.method !== "HEAD" ? c.body : undefined;
  return new Request(url, { method: c.method, headers, ...(body !== undefined ? { body } : {}) });
}

async function check(c: Case): Promise<void> {
  const req = toRequest(c);
  if (!req) return;
  const isTicketer = new URL(req.url).pathname.startsWith("/api/ticketer/");
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const response = await Promise.race([
    bridge.handler(req, { remoteAddress: "203.0.113.7" }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${LIMIT_MS} ms`)), LIMIT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
  const text = await response.text();
  const ms = performance.now() - started;
  cases++;
  statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  const where = `${c.method} ${new URL(req.url).pathname} → ${response.status} ${text.slice(0, 300)}`;
  expect(ms, where).toBeLessThan(LIMIT_MS);
  expect(response.status, where).toBeLessThan(500);
  expect((isTicketer ? TICKETER_STATUSES : BRIDGE_STATUSES).has(response.status), where).toBe(true);
  if (c.method === "HEAD") return;
  const body = JSON.parse(text) as Record<string, unknown>;
  if (response.status >= 400) {
    if (isTicketer && typeof body.error === "string") {
      // Answered by the ticketer (style B): the contract's {"error","message","details"?}.
      expect(body, where).toEqual({
        error: expect.any(String),
        message: expect.any(String),
        ...(body.details ? { details: expect.any(Object) } : {}),
      });
    } else {
      // Answered by the bridge: {"error":{"code","message",…}} with the code's status from the one table.
      const error = body.error as { code: keyof typeof ERROR_STATUS; message: string };
      expect(ERROR_STATUS[error.code], where).toBe(response.status);
      expect(typeof error.message, where).toBe("string");
    }
    // An error never echoes a secret, a token or a message text.
    expect(text, where).not.toContain("SENTINEL");
    for (const secret of secrets) expect(text, where).not.toContain(secret);
    if (response.status === 405) expect(response.headers.get("allow"), where).toBeTruthy();
    if (response.status === 401 && !isTicketer) expect(response.headers.get("www-authenticate"), where).toBeTruthy();
    if (response.status === 429) expect(Number(response.headers.get("retry-after")), where).toBeGreaterThan(0);
  } else if (!(c.method === "GET" && /\/api\/chat\//.test(req.url))) {
    // Success answers other than reads of stored chats hold no secret.
    for (const secret of secrets) expect(text, where).not.toContain(secret);
  }
  // What was accepted can be read back (a stored but unreadable conversation is a lost one).
  const stored = response.status === 201 ? (body.conversation_id ?? body.external_id) : undefined;
  if (typeof stored === "string") {
    const read = await bridge.handler(
      new Request(`http://bridge.test/api/chat/${stored}/`, { headers: { authorization: `Token ${tokens.helpline}` } }),
    );
    expect(read.status, `${where} → GET chat/${stored}/ → ${read.status}`).toBe(200);
    await read.body?.cancel();
  }
}

/** Runs a property; a failure is reported with a counterexample cut short (bodies can be megabytes). */
async function assertProperty(arbitrary: fc.Arbitrary<Case>, numRuns: number, seed: number): Promise<void> {
  const details = await fc.check(fc.asyncProperty(arbitrary, check), { numRuns, seed, endOnFailure: true });
  if (!details.failed) return;
  const example = JSON.stringify(details.counterexample, (_k, v) =>
    typeof v === "string" && v.length > 200 ? `${v.slice(0, 200)}…(${v.length} chars)` : v,
  );
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    `property failed (seed ${seed}, run ${details.numRuns}): ${cause.slice(0, 1500)}\n${example?.slice(0, 3000)}`,
  );
}

describe("hostile input at the handler (fast-check)", () => {
  it("any request: a documented answer, never a 5xx, never a hang, never a secret in an error", async () => {
    await assertProperty(request, Math.round(RUNS * 0.6), SEED);
  });

  it("authenticated calls with mutated bodies on every route", async () => {
    const authed = fc.record({
      method: fc.constant("POST"),
      base: fc.constant("/api/"),
      path: fc.oneof(
        fc.constantFrom("chat/", "token/", "ticketer/v1/tickets"),
        fc.tuple(fc.constantFrom(...SESSIONS), fc.constantFrom("/close/", "/ack/")).map(([s, t]) => `chat/${s}${t}`),
        fc
          .tuple(fc.constantFrom(...SESSIONS), fc.constantFrom("messages", "close", "reopen", "history"))
          .map(([s, t]) => `ticketer/v1/tickets/${s}/${t}`),
      ),
      body: fc.oneof(
        { weight: 6, arbitrary: mutatedBody.map((b) => JSON.stringify(b) ?? "null") },
        { weight: 4, arbitrary: almostValid },
        { weight: 1, arbitrary: deepNesting },
      ),
      contentType: fc.constant("application/json"),
      authorization: fc.constantFrom("chatbot", "helpline").map((who) => ({ who })),
      headers: fc.oneof(
        fc.constant({}),
        fc.constant({ authorization2: "x" }).map(() => ({})),
      ),
    });
    const ticketer = fc
      .record({ body: almostValidTicket, session: fc.constantFrom(...SESSIONS), idempotencyKey: fc.option(fc.uuid()) })
      .map(({ body, session, idempotencyKey }) => ({
        method: "POST",
        base: "/api/",
        path:
          body.kind === "open"
            ? "ticketer/v1/tickets"
            : `ticketer/v1/tickets/${session}/${body.kind === "message" ? "messages" : "history"}`,
        body: body.json,
        contentType: "application/json",
        authorization: `Bearer ${TICKETER_TOKEN}`,
        headers: idempotencyKey ? { "idempotency-key": idempotencyKey } : {},
      }));
    const withTicketerAuth = fc
      .oneof({ weight: 3, arbitrary: authed }, ticketer as unknown as typeof authed)
      .map((c) => (c.path.startsWith("ticketer/") ? { ...c, authorization: `Bearer ${TICKETER_TOKEN}` as const } : c));
    await assertProperty(withTicketerAuth as fc.Arbitrary<Case>, Math.round(RUNS * 0.4), SEED + 1);
  });
});
