import { manualClock } from "@openchs-bridge/core";
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FAST_RETRY, GATEWAY_ORIGIN } from "../__fixtures__/servers";
import { OpenChsError } from "../errors";
import * as pkg from "../index";
import { type BridgeApiClientOptions, createBridgeApiClient } from "./client";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const API = `${GATEWAY_ORIGIN}/api/`;
const USER = "weni-bot";
const PASSWORD = "gw-pass-SECRET";

let logins = 0;
let issued: string[] = [];
beforeEach(() => {
  logins = 0;
  issued = [];
});

const make = (extra: Partial<BridgeApiClientOptions> = {}) =>
  createBridgeApiClient({
    baseUrl: GATEWAY_ORIGIN,
    username: USER,
    password: PASSWORD,
    retry: FAST_RETRY,
    ...extra,
  });

/** `token/` of the bridge (with expiry) or of the legacy DRF gateway (`{"token"}` only). */
function tokenEndpoint(api = API, options: { legacy?: boolean; expiresIn?: number; delayMs?: number } = {}) {
  return http.post(`${api}token/`, async ({ request }) => {
    logins++;
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    const body = (await request.json()) as { username?: string; password?: string };
    if (body.username !== USER || body.password !== PASSWORD) {
      return HttpResponse.json({ non_field_errors: ["Unable to log in with provided credentials."] }, { status: 400 });
    }
    const token = `tok-SECRET-${logins}`;
    issued.push(token);
    if (options.legacy) return HttpResponse.json({ token });
    const expiresIn = options.expiresIn ?? 3600;
    return HttpResponse.json({
      token,
      expires_in: expiresIn,
      expires_at: new Date(Date.now() + expiresIn * 1000).toISOString(),
    });
  });
}

function authorized(request: Request): boolean {
  const value = request.headers.get("authorization") ?? "";
  return value.startsWith("Token ") && issued.includes(value.slice(6));
}

const accepted = (over: Record<string, unknown> = {}) => ({
  status: "accepted",
  uuid: "4b3c2f1e-0000-4000-8000-000000000001",
  conversation_id: "s1",
  message_id: "m1",
  conversation_state: "requested",
  ...over,
});

async function failure(promise: Promise<unknown>): Promise<OpenChsError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenChsError);
  return err as OpenChsError;
}

describe("bridge API client: prefixes and token/", () => {
  it("uses /api/ by default and /open/api/ when asked, keeping trailing slashes", async () => {
    const seen: string[] = [];
    const legacyApi = `${GATEWAY_ORIGIN}/open/api/`;
    server.use(
      tokenEndpoint(API),
      tokenEndpoint(legacyApi, { legacy: true }),
      http.post(`${API}chat/`, ({ request }) => {
        seen.push(new URL(request.url).pathname);
        return HttpResponse.json(accepted(), { status: 201 });
      }),
      http.post(`${legacyApi}chat/`, ({ request }) => {
        seen.push(new URL(request.url).pathname);
        return HttpResponse.json({ status: "success", uuid: "u-1" }, { status: 201 });
      }),
    );
    const body = { chat_session: "s1", chat_source: "WENI", chat_sender: "c-1", chat_message: "hi" } as const;
    expect(make().apiUrl).toBe(API);
    await make().sendChat(body);
    const legacy = make({ prefix: "/open/api/" });
    expect(legacy.apiUrl).toBe(legacyApi);
    await legacy.sendChat(body);
    expect(seen).toEqual(["/api/chat/", "/open/api/chat/"]);
  });

  it("joins a prefix to a base URL that has a path of its own", () => {
    expect(make({ baseUrl: "https://host.test/gw", prefix: "open/api" }).apiUrl).toBe("https://host.test/gw/open/api/");
  });

  it("token() reads the bridge's answer with expiry", async () => {
    server.use(tokenEndpoint(API, { expiresIn: 600 }));
    const token = await make().token();
    expect(token.token).toBe("tok-SECRET-1");
    expect(token.expires_in).toBe(600);
    expect(typeof token.expires_at).toBe("string");
  });

  it("token() reads the legacy DRF answer {token} (no expiry)", async () => {
    server.use(tokenEndpoint(API, { legacy: true }));
    expect(await make().token()).toEqual({ token: "tok-SECRET-1" });
  });

  it("token() with bad credentials is an auth error carrying DRF's non_field_errors message", async () => {
    server.use(tokenEndpoint(API));
    const err = await failure(make().token({ username: USER, password: "nope" }));
    expect(err.code).toBe("auth");
    expect(err.status).toBe(400);
    expect(err.service).toBe("openchs-gateway");
    expect(err.message).toContain("Unable to log in with provided credentials.");
  });

  it("an answer of the wrong shape is invalid_response saying what was expected", async () => {
    server.use(http.post(`${API}token/`, () => HttpResponse.json({ key: "abc" })));
    const err = await failure(make().token());
    expect(err.code).toBe("invalid_response");
    expect(err.message).toMatch(/at token/);
  });

  it("validates options at construction, naming the option", () => {
    expect(() => createBridgeApiClient({ baseUrl: GATEWAY_ORIGIN })).toThrow(/username.*password.*token/);
    expect(() => make({ token: "t" })).toThrow(/either `token` or `username`/);
    expect(() => make({ baseUrl: "ftp://x" })).toThrow(/http/);
    expect(() => make({ prefix: "/api/../x/" })).toThrow(/prefix/);
  });
});

describe("bridge API client: authentication", () => {
  it("logs in once, caches the token and sends Authorization: Token <t>", async () => {
    const seen: (string | null)[] = [];
    server.use(
      tokenEndpoint(API),
      http.get(`${API}chat/`, ({ request }) => {
        seen.push(request.headers.get("authorization"));
        return HttpResponse.json([]);
      }),
    );
    const client = make();
    await client.listChats();
    await client.listChats();
    expect(logins).toBe(1);
    expect(seen).toEqual(["Token tok-SECRET-1", "Token tok-SECRET-1"]);
  });

  it("concurrent calls share one login", async () => {
    server.use(
      tokenEndpoint(API, { delayMs: 20 }),
      http.post(`${API}chat/`, ({ request }) =>
        authorized(request) ? HttpResponse.json(accepted(), { status: 201 }) : new HttpResponse(null, { status: 401 }),
      ),
    );
    const client = make();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        client.sendChat({
          chat_session: "s1",
          chat_source: "WENI",
          chat_sender: "c",
          chat_message: "x",
          message_id: `m${i}`,
        }),
      ),
    );
    expect(logins).toBe(1);
  });

  it("renews a token ahead of its expires_in, and never a legacy token without expiry", async () => {
    const clock = manualClock(0);
    server.use(
      tokenEndpoint(API, { expiresIn: 100 }),
      http.get(`${API}chat/`, () => HttpResponse.json([])),
    );
    const client = make({ clock, refreshMarginMs: 5_000 });
    await client.listChats();
    clock.advance(94_000); // valid until 100 s, renewed from 95 s
    await client.listChats();
    expect(logins).toBe(1);
    clock.advance(1_500);
    await client.listChats();
    expect(logins).toBe(2);

    server.use(tokenEndpoint(API, { legacy: true }));
    const legacy = make({ clock });
    await legacy.listChats();
    clock.advance(365 * 24 * 3600 * 1000);
    await legacy.listChats();
    expect(logins).toBe(3);
  });

  it("on 401 (token expired or revoked) logs in again once and retries once", async () => {
    let revoked = false;
    server.use(
      tokenEndpoint(API),
      http.post(`${API}chat/s1/close/`, ({ request }) => {
        const token = (request.headers.get("authorization") ?? "").slice(6);
        if (!issued.includes(token) || (revoked && token === "tok-SECRET-1")) {
          return HttpResponse.json({ error: { code: "token_expired", message: "token expired" } }, { status: 401 });
        }
        return HttpResponse.json({
          conversation_id: "s1",
          state: "closed",
          closed_by: "chatbot",
          reason: null,
          changed: true,
        });
      }),
    );
    const client = make();
    await client.closeChat("s1", { chat_source: "WENI" });
    revoked = true;
    const result = await client.closeChat("s1", { chat_source: "WENI", reason: "done" });
    expect(result.state).toBe("closed");
    expect(logins).toBe(2);
  });

  it("a second 401 is an auth error with DRF's detail", async () => {
    let calls = 0;
    server.use(
      tokenEndpoint(API),
      http.get(`${API}chat/s1/`, () => {
        calls++;
        return HttpResponse.json({ detail: "Invalid token." }, { status: 401 });
      }),
    );
    const err = await failure(make().getConversation("s1"));
    expect(err.code).toBe("auth");
    expect(err.message).toContain("Invalid token.");
    expect(calls).toBe(2);
    expect(logins).toBe(2);
  });

  it("a fixed token is sent as is, without any login", async () => {
    let seen: string | null = null;
    server.use(
      http.get(`${API}chat/`, ({ request }) => {
        seen = request.headers.get("authorization");
        return HttpResponse.json([]);
      }),
    );
    await createBridgeApiClient({ baseUrl: GATEWAY_ORIGIN, token: "fixed-SECRET" }).listChats();
    expect(seen).toBe("Token fixed-SECRET");
    expect(logins).toBe(0);
  });
});

describe("bridge API client: chat endpoints", () => {
  beforeEach(() => server.use(tokenEndpoint(API)));

  it("sendChat posts the body, sends message_id as Idempotency-Key and reads the bridge's answer", async () => {
    let body: unknown;
    let key: string | null = null;
    server.use(
      http.post(`${API}chat/`, async ({ request }) => {
        body = await request.json();
        key = request.headers.get("idempotency-key");
        return HttpResponse.json(accepted({ conversation_state: "hunting" }), { status: 201 });
      }),
    );
    const input = {
      chat_session: "s1",
      chat_source: "WENI",
      chat_sender: "c-uuid",
      chat_message: "I need help",
      message_id: "m1",
      sender_name: "Kid",
      attachments: [{ url: "https://cdn.test/a.jpg", content_type: "image/jpeg" }],
      metadata: { flow: "x" },
    } as const;
    const result = await make().sendChat(input);
    expect(body).toEqual(input);
    expect(key).toBe("m1");
    expect(result).toEqual({
      status: "accepted",
      legacy: false,
      uuid: "4b3c2f1e-0000-4000-8000-000000000001",
      duplicate: false,
      conversation_id: "s1",
      message_id: "m1",
      conversation_state: "hunting",
    });
  });

  it("sendChat reports a duplicate (200, duplicate: true)", async () => {
    server.use(http.post(`${API}chat/`, () => HttpResponse.json(accepted({ duplicate: true }), { status: 200 })));
    const result = await make().sendChat({
      chat_session: "s1",
      chat_source: "WENI",
      chat_sender: "c",
      chat_message: "x",
      message_id: "m1",
    });
    expect(result.duplicate).toBe(true);
  });

  it("sendChat reads the legacy {status: success, uuid} and marks it legacy", async () => {
    let key: string | null = "unset";
    server.use(
      http.post(`${API}chat/`, ({ request }) => {
        key = request.headers.get("idempotency-key");
        return HttpResponse.json({ status: "success", uuid: 17 }, { status: 201 });
      }),
    );
    const result = await make().sendChat({ chat_session: "s1", chat_source: "OUTBOX", chat_message: "x" });
    expect(result).toEqual({ status: "success", legacy: true, uuid: "17", duplicate: false });
    expect(key).toBeNull();
  });

  it("sendChat does not accept an answer that is neither shape", async () => {
    server.use(http.post(`${API}chat/`, () => HttpResponse.json({ status: "queued" }, { status: 201 })));
    const err = await failure(
      make().sendChat({ chat_session: "s1", chat_source: "WENI", chat_sender: "c", chat_message: "x" }),
    );
    expect(err.code).toBe("invalid_response");
  });

  it("percent-encodes a message_id that is not a valid header value", async () => {
    let key: string | null = null;
    server.use(
      http.post(`${API}chat/`, ({ request }) => {
        key = request.headers.get("idempotency-key");
        return HttpResponse.json(accepted(), { status: 201 });
      }),
    );
    await make().sendChat({
      chat_session: "s1",
      chat_source: "WENI",
      chat_sender: "c",
      chat_message: "x",
      message_id: "ñ 1",
    });
    expect(key).toBe("%C3%B1%201");
  });

  it("listChats reads a legacy plain array as one page", async () => {
    server.use(
      http.get(`${API}chat/`, () =>
        HttpResponse.json([{ id: 1, chat_session: "s1", chat_message: "a", chat_source: "WENI", chat_sender: "c" }]),
      ),
    );
    const page = await make().listChats();
    expect(page.next_cursor).toBeNull();
    expect(page.results[0]).toMatchObject({ id: "1", chat_session: "s1", chat_message: "a" });
  });

  it("listChats passes session, limit and cursor and reads the bridge's page", async () => {
    let query: URLSearchParams | undefined;
    server.use(
      http.get(`${API}chat/`, ({ request }) => {
        query = new URL(request.url).searchParams;
        return HttpResponse.json({
          results: [
            { uuid: "u1", chat_session: "s1", message_id: "m9", status: "delivered", direction: "to_helpline" },
          ],
          next_cursor: 42,
        });
      }),
    );
    const page = await make().listChats({ session: "s1", limit: 10, cursor: "50" });
    expect(query?.get("session")).toBe("s1");
    expect(query?.get("limit")).toBe("10");
    expect(query?.get("cursor")).toBe("50");
    expect(page.next_cursor).toBe("42");
    expect(page.results[0]?.status).toBe("delivered");
  });

  it("closeChat posts to chat/{session}/close/ with the body", async () => {
    let body: unknown;
    server.use(
      http.post(`${API}chat/s_1/close/`, async ({ request }) => {
        body = await request.json();
        return HttpResponse.json({
          conversation_id: "s_1",
          state: "closed",
          closed_by: "helpline",
          reason: "done",
          changed: true,
        });
      }),
    );
    const result = await make().closeChat("s_1", { chat_source: "HELPLINE", reason: "done" });
    expect(body).toEqual({ chat_source: "HELPLINE", reason: "done" });
    expect(result).toMatchObject({ state: "closed", changed: true, closed_by: "helpline" });
  });

  it("closeChat accepts the legacy gateway's empty answer", async () => {
    server.use(http.post(`${API}chat/s1/close/`, () => new HttpResponse(null, { status: 200 })));
    expect(await make().closeChat("s1", { chat_source: "WENI" })).toEqual({});
  });

  it("ack posts to chat/{session}/ack/", async () => {
    let body: unknown;
    server.use(
      http.post(`${API}chat/s1/ack/`, async ({ request }) => {
        body = await request.json();
        return HttpResponse.json({ conversation_id: "s1", message_id: "m1", status: "read", changed: true });
      }),
    );
    const result = await make().ack("s1", {
      message_id: "m1",
      status: "read",
      chat_source: "HELPLINE",
      sender_name: "Asha",
    });
    expect(body).toEqual({ message_id: "m1", status: "read", chat_source: "HELPLINE", sender_name: "Asha" });
    expect(result).toMatchObject({ status: "read", changed: true });
  });

  it("getConversation reads the bridge's conversation with message statuses", async () => {
    server.use(
      http.get(`${API}chat/s1/`, () =>
        HttpResponse.json({
          conversation_id: "s1",
          state: "connected",
          origin: "webhook",
          helpline: "default",
          chat_sender: "c",
          counselor_name: "Asha",
          closed_by: null,
          close_reason: null,
          closed_at: null,
          hunt_count: 0,
          created_at: "2026-01-01T00:00:00.000Z",
          updated_at: "2026-01-01T00:00:00.000Z",
          messages: [{ uuid: "u", message_id: "m1", status: "read", direction: "to_helpline", chat_message: "x" }],
        }),
      ),
    );
    const conversation = await make().getConversation("s1");
    expect(conversation.state).toBe("connected");
    expect(conversation.counselor_name).toBe("Asha");
    expect(conversation.messages[0]).toMatchObject({ message_id: "m1", status: "read" });
  });

  it("getConversation of the wrong shape is invalid_response naming the field, not the value", async () => {
    server.use(
      http.get(`${API}chat/s1/`, () =>
        HttpResponse.json({ conversation_id: "s1", state: "secret-state", messages: [] }),
      ),
    );
    const err = await failure(make().getConversation("s1"));
    expect(err.code).toBe("invalid_response");
    expect(err.message).toMatch(/at state/);
    expect(err.message).not.toContain("secret-state");
  });

  it("refuses a session that could change the route, before sending anything", async () => {
    for (const session of ["../token", "a/b", "", "x".repeat(101), "s 1"]) {
      const err = await failure(make().closeChat(session, { chat_source: "WENI" }));
      expect(err.code).toBe("validation");
      expect(err.field).toBe("session");
    }
    expect(logins).toBe(0);
  });
});

describe("bridge API client: documented error shapes", () => {
  beforeEach(() => server.use(tokenEndpoint(API)));
  const send = () => make().sendChat({ chat_session: "s1", chat_source: "WENI", chat_sender: "c", chat_message: "x" });

  it("DRF field errors: the first key is the field", async () => {
    server.use(
      http.post(`${API}chat/`, () =>
        HttpResponse.json({ chat_source: ['"X" is not a valid choice.'], chat_channel: ["bad"] }, { status: 400 }),
      ),
    );
    const err = await failure(send());
    expect(err.code).toBe("validation");
    expect(err.field).toBe("chat_source");
    expect(err.message).toContain("is not a valid choice");
  });

  it("DRF nested field errors give the path", async () => {
    server.use(
      http.post(`${API}chat/`, () =>
        HttpResponse.json({ attachments: [{}, { url: ["Enter a valid URL."] }] }, { status: 400 }),
      ),
    );
    const err = await failure(send());
    expect(err.field).toBe("attachments[1].url");
    expect(err.message).toContain("Enter a valid URL.");
  });

  it("DRF non_field_errors outside login is validation", async () => {
    server.use(
      http.post(`${API}chat/`, () => HttpResponse.json({ non_field_errors: ["Bad combination."] }, { status: 400 })),
    );
    const err = await failure(send());
    expect(err.code).toBe("validation");
    expect(err.field).toBeUndefined();
    expect(err.message).toContain("Bad combination.");
  });

  it("DRF detail on 403 and 404", async () => {
    server.use(
      http.post(`${API}chat/`, () => HttpResponse.json({ detail: "You do not have permission." }, { status: 403 })),
      http.get(`${API}chat/s9/`, () => HttpResponse.json({ detail: "Not found." }, { status: 404 })),
    );
    const forbidden = await failure(send());
    expect(forbidden.code).toBe("forbidden");
    expect(forbidden.message).toContain("You do not have permission.");
    const missing = await failure(make().getConversation("s9"));
    expect(missing.code).toBe("not_found");
    expect(missing.message).toContain("Not found.");
  });

  it("the bridge's {error: {code, message, field}}", async () => {
    server.use(
      http.post(`${API}chat/`, () =>
        HttpResponse.json(
          { error: { code: "conversation_closed", message: "the conversation is closed", state: "closed" } },
          { status: 409 },
        ),
      ),
      http.post(`${API}chat/s1/ack/`, () =>
        HttpResponse.json(
          { error: { code: "message_not_found", message: "no such message", field: "message_id" } },
          { status: 404 },
        ),
      ),
    );
    const closed = await failure(send());
    expect(closed.code).toBe("conflict");
    expect(closed.retriable).toBe(false);
    expect(closed.message).toContain("conversation_closed: the conversation is closed");
    const missing = await failure(make().ack("s1", { message_id: "m0", status: "read", chat_source: "HELPLINE" }));
    expect(missing.code).toBe("not_found");
    expect(missing.field).toBe("message_id");
  });
});

describe("bridge API client: the name it had before", () => {
  it("is still exported as createOpenChsGatewayClient, the same factory", async () => {
    expect(pkg.createOpenChsGatewayClient).toBe(pkg.createBridgeApiClient);
    server.use(
      tokenEndpoint(),
      http.get(`${API}chat/`, () => HttpResponse.json({ results: [], next_cursor: null })),
    );
    const old = pkg.createOpenChsGatewayClient({ baseUrl: GATEWAY_ORIGIN, username: USER, password: PASSWORD });
    expect(await old.listChats()).toEqual({ results: [], next_cursor: null });
  });
});
