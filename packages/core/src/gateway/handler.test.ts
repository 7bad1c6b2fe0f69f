import { describe, expect, it } from "vitest";
import { bridgeHarness, CHATBOT_USER, clientMessage, HELPLINE_USER } from "../../test-support/bridge-harness";
import { StoreUnavailableError } from "../store/errors";
import { createMemoryStore } from "../store/memory-store";

describe("gateway handler: the status table", () => {
  it("200 token/ issues a time-bound token, also form-encoded, and it authenticates as Token and Bearer", async () => {
    const h = bridgeHarness();
    const res = await h.call("POST", "token/", { body: CHATBOT_USER });
    expect(res.status).toBe(200);
    expect(res.json.token).toMatch(/^[0-9a-f]{64}$/);
    expect(res.json.expires_in).toBe(3600);
    expect(Date.parse(res.json.expires_at)).toBe(h.clock.now() + 3_600_000);
    const form = await h.call("POST", "token", {
      raw: new URLSearchParams(CHATBOT_USER).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(200);
    for (const scheme of ["Token", "Bearer"]) {
      const r = await h.call("GET", "chat/", { headers: { authorization: `${scheme} ${res.json.token}` } });
      expect(r.status).toBe(200);
    }
  });

  it("201 accepts a new client message once stored, with the documented answer", async () => {
    const h = bridgeHarness();
    const token = await h.login(CHATBOT_USER);
    const res = await h.call("POST", "chat/", { token, body: clientMessage("s1", "hello", { message_id: "m1" }) });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      status: "accepted",
      uuid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      conversation_id: "s1",
      message_id: "m1",
      conversation_state: "requested",
    });
    const stored = await h.store.getConversation("s1");
    expect(stored?.state).toBe("requested");
    expect(await h.store.pendingJobs("s1")).toHaveLength(1);
  });

  it("200 replays the first answer for the same message_id, with duplicate: true, and stores nothing more", async () => {
    const h = bridgeHarness();
    const token = await h.login(CHATBOT_USER);
    const first = await h.call("POST", "chat/", { token, body: clientMessage("s1", "hello", { message_id: "m1" }) });
    const again = await h.call("POST", "chat/", {
      token,
      body: clientMessage("s1", "hello again", { message_id: "m1" }),
    });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ ...first.json, duplicate: true });
    expect((await h.store.conversationMessages("s1")).length).toBe(1);
  });

  it("treats identical text without message_id within 5 s as a duplicate, and not after", async () => {
    const h = bridgeHarness();
    const token = await h.login(CHATBOT_USER);
    const a = await h.call("POST", "chat/", { token, body: clientMessage("s1", "help me") });
    h.clock.advance(4_000);
    const b = await h.call("POST", "chat/", { token, body: clientMessage("s1", "help me") });
    expect(b.status).toBe(200);
    expect(b.json.uuid).toBe(a.json.uuid);
    h.clock.advance(6_000);
    const c = await h.call("POST", "chat/", { token, body: clientMessage("s1", "help me") });
    expect(c.status).toBe(201);
    expect(c.json.uuid).not.toBe(a.json.uuid);
  });

  it.each([
    [
      "malformed JSON",
      { raw: "{not json", headers: { "content-type": "application/json" } },
      "invalid_json",
      undefined,
    ],
    ["a JSON array", { body: [1, 2] }, "invalid_json", undefined],
    [
      "missing chat_session",
      { body: { chat_message: "x", chat_sender: "c", chat_source: "WENI" } },
      "missing_field",
      "chat_session",
    ],
    ["bad chat_session", { body: clientMessage("has space", "x") }, "invalid_field", "chat_session"],
    ["missing chat_message and attachments", { body: clientMessage("s1", "") }, "missing_field", "chat_message"],
    [
      "missing chat_sender for WENI",
      { body: { chat_session: "s1", chat_message: "x", chat_source: "WENI" } },
      "missing_field",
      "chat_sender",
    ],
    [
      "unknown chat_source",
      { body: clientMessage("s1", "x", { chat_source: "INBOX" }) },
      "invalid_field",
      "chat_source",
    ],
    [
      "bad attachment url",
      { body: clientMessage("s1", "x", { attachments: [{ url: "nope", content_type: "image/png" }] }) },
      "invalid_field",
      "attachments[0].url",
    ],
  ])("400 for %s, naming the field", async (_name, init, code, field) => {
    const h = bridgeHarness();
    const token = await h.login(CHATBOT_USER);
    const res = await h.call("POST", "chat/", { token, ...init });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(code);
    expect(res.json.error.field).toBe(field);
  });

  it("400 error messages never quote the value sent", async () => {
    const h = bridgeHarness();
    const token = await h.login(CHATBOT_USER);
    const res = await h.call("POST", "chat/", {
      token,
      body: clientMessage("s1", "x", { sender_name: "S".repeat(500) }),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json)).not.toContain("SSSS");
  });

  it("401 without credentials, with a wrong token, an expired token, a revoked token, and a bad login", async () => {
    const h = bridgeHarness({ tokenTtlS: 60 });
    expect((await h.call("GET", "chat/")).json.error.code).toBe("unauthorized");
    expect((await h.call("GET", "chat/", { token: "f".repeat(64) })).status).toBe(401);
    const bad = await h.call("POST", "token/", { body: { username: "weni", password: "wrong-password" } });
    expect(bad.status).toBe(401);
    expect(bad.json.error.code).toBe("invalid_credentials");
    const token = await h.login(CHATBOT_USER);
    h.clock.advance(61_000);
    const expired = await h.call("GET", "chat/", { token });
    expect(expired.status).toBe(401);
    expect(expired.json.error.code).toBe("token_expired");
    const fresh = await h.login(CHATBOT_USER);
    await h.bridge.tokens.revoke(fresh);
    const revoked = await h.call("GET", "chat/", { token: fresh });
    expect(revoked.json.error.code).toBe("token_revoked");
    expect(revoked.headers.get("www-authenticate")).toContain("Token");
    expect(h.events.filter((e) => e.name === "auth.failure").length).toBeGreaterThanOrEqual(4);
  });

  it("403 when a consumer speaks for a source it is not bound to", async () => {
    const h = bridgeHarness();
    const chatbot = await h.login(CHATBOT_USER);
    const helpline = await h.login(HELPLINE_USER);
    const asOutbox = await h.call("POST", "chat/", {
      token: chatbot,
      body: { ...clientMessage("s1", "x"), chat_source: "OUTBOX" },
    });
    expect(asOutbox.status).toBe(403);
    expect(asOutbox.json.error).toMatchObject({ code: "forbidden_source", field: "chat_source" });
    const asWeni = await h.call("POST", "chat/", { token: helpline, body: clientMessage("s1", "x") });
    expect(asWeni.status).toBe(403);
    await h.call("POST", "chat/", { token: chatbot, body: clientMessage("s1", "x") });
    const closeAsHelpline = await h.call("POST", "chat/s1/close/", {
      token: chatbot,
      body: { chat_source: "HELPLINE" },
    });
    expect(closeAsHelpline.status).toBe(403);
    expect((await h.store.getConversation("s1"))?.state).toBe("requested");
  });

  it("404 for unknown routes, conversations and messages", async () => {
    const h = bridgeHarness();
    const token = await h.login(HELPLINE_USER);
    expect((await h.call("GET", "nope/", { token })).json.error.code).toBe("route_not_found");
    expect((await h.call("GET", "chat/a/b/c/d/", { token })).status).toBe(404);
    const unknown = await h.call("POST", "chat/", {
      token,
      body: { chat_session: "ghost", chat_message: "hi", chat_source: "OUTBOX" },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe("conversation_not_found");
    expect((await h.call("GET", "chat/ghost/", { token })).status).toBe(404);
    expect((await h.call("POST", "chat/ghost/close/", { token, body: { chat_source: "HELPLINE" } })).status).toBe(404);
    const chatbot = await h.login(CHATBOT_USER);
    await h.call("POST", "chat/", { token: chatbot, body: clientMessage("s1", "x") });
    const ack = await h.call("POST", "chat/s1/ack/", {
      token,
      body: { message_id: "nope", status: "read", chat_source: "HELPLINE" },
    });
    expect(ack.status).toBe(404);
    expect(ack.json.error).toMatchObject({ code: "message_not_found", field: "message_id" });
  });

  it("405 with Allow for a known route and the wrong method", async () => {
    const h = bridgeHarness();
    const res = await h.call("DELETE", "chat/");
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, POST");
  });

  it("409 for a message to a closed conversation, with its state", async () => {
    const h = bridgeHarness();
    const chatbot = await h.login(CHATBOT_USER);
    await h.call("POST", "chat/", { token: chatbot, body: clientMessage("s1", "x") });
    await h.call("POST", "chat/s1/close/", { token: chatbot, body: { chat_source: "WENI", reason: "done" } });
    const res = await h.call("POST", "chat/", { token: chatbot, body: clientMessage("s1", "after close") });
    expect(res.status).toBe(409);
    expect(res.json.error).toMatchObject({ code: "conversation_closed", state: "closed" });
  });

  it("413 for a body over the limit, refused while reading", async () => {
    const h = bridgeHarness({ maxBodyBytes: 1024 });
    const token = await h.login(CHATBOT_USER);
    const res = await h.call("POST", "chat/", { token, body: clientMessage("s1", "x".repeat(2048)) });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe("payload_too_large");
    // A streamed body without Content-Length is cut off after the limit, not read to the end.
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(512).fill(32));
        if (pulled > 1000) controller.close();
      },
    });
    const streamed = await h.bridge.handler(
      new Request("http://bridge.test/api/chat/", {
        method: "POST",
        body: stream,
        headers: { "content-type": "application/json", authorization: `Token ${token}` },
        duplex: "half",
      } as RequestInit),
    );
    expect(streamed.status).toBe(413);
    expect(pulled).toBeLessThan(10);
  });

  it("415 for a body that is not JSON", async () => {
    const h = bridgeHarness();
    const token = await h.login(CHATBOT_USER);
    const res = await h.call("POST", "chat/", {
      token,
      raw: "chat_session=s1",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(415);
    expect(res.json.error.code).toBe("unsupported_media_type");
  });

  it("429 with Retry-After after repeated failed logins, per consumer", async () => {
    const h = bridgeHarness({ loginRateLimit: { max: 3, windowS: 60 } });
    for (let i = 0; i < 3; i++) {
      expect((await h.call("POST", "token/", { body: { username: "weni", password: "wrong-password" } })).status).toBe(
        401,
      );
    }
    const limited = await h.call("POST", "token/", { body: CHATBOT_USER });
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe("rate_limited");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    h.clock.advance(61_000);
    expect((await h.call("POST", "token/", { body: CHATBOT_USER })).status).toBe(200);
  });

  it("503 with Retry-After when the store is unavailable, and nothing is accepted", async () => {
    let down = false;
    const store = createMemoryStore({ failWith: () => (down ? new StoreUnavailableError("down") : undefined) });
    const h = bridgeHarness({ store });
    const token = await h.login(CHATBOT_USER);
    down = true;
    const res = await h.call("POST", "chat/", { token, body: clientMessage("s1", "x") });
    expect(res.status).toBe(503);
    expect(res.json.error.code).toBe("store_unavailable");
    expect(res.headers.get("retry-after")).toBe("5");
    const health = await h.call("GET", "health");
    expect(health.status).toBe(503);
    down = false;
    expect(await h.store.getConversation("s1")).toBeUndefined();
    expect((await h.call("GET", "health")).json).toEqual({ status: "ok" });
  });

  it("accepts paths without trailing slashes and serves under another base path", async () => {
    const h = bridgeHarness({ basePath: "/open/api/" });
    const token = await h.login(CHATBOT_USER).catch(() => "");
    expect(token).toBe(""); // the harness calls /api/, which is not mounted now
    const res = await h.bridge.handler(
      new Request("http://bridge.test/open/api/token", {
        method: "POST",
        body: JSON.stringify(CHATBOT_USER),
        headers: { "content-type": "application/json" },
      }),
    );
    expect(res.status).toBe(200);
  });

  it("lists messages newest first with a cursor, filtered by session", async () => {
    const h = bridgeHarness();
    const token = await h.login(CHATBOT_USER);
    for (let i = 0; i < 5; i++) {
      await h.call("POST", "chat/", {
        token,
        body: clientMessage(i < 3 ? "a" : "b", `m${i}`, { message_id: `id${i}` }),
      });
    }
    const page1 = await h.call("GET", "chat/?limit=2", { token });
    expect(page1.json.results.map((m: { message_id: string }) => m.message_id)).toEqual(["id4", "id3"]);
    const page2 = await h.call("GET", `chat/?limit=2&cursor=${page1.json.next_cursor}`, { token });
    expect(page2.json.results.map((m: { message_id: string }) => m.message_id)).toEqual(["id2", "id1"]);
    const onlyA = await h.call("GET", "chat/?session=a", { token });
    expect(onlyA.json.results).toHaveLength(3);
    const bad = await h.call("GET", "chat/?limit=0", { token });
    expect(bad.json.error).toMatchObject({ code: "invalid_field", field: "limit" });
  });
});

describe("openapi.json", () => {
  it("serves an OpenAPI 3.1 document of every route, from the handler's own schemas, without auth", async () => {
    const h = bridgeHarness();
    const res = await h.call("GET", "openapi.json");
    expect(res.status).toBe(200);
    expect(res.json.openapi).toBe("3.1.0");
    expect(Object.keys(res.json.paths).sort()).toEqual(
      [
        "/api/chat/",
        "/api/chat/{session}/",
        "/api/chat/{session}/ack/",
        "/api/chat/{session}/close/",
        "/api/health",
        "/api/ready",
        "/api/openapi.json",
        "/api/metrics",
        "/api/token/",
        "/api/admin/dead-letters",
        "/api/admin/dead-letters/{id}/replay",
        "/api/admin/dead-letters/replay",
        "/api/admin/overview",
        "/api/admin/conversations",
        "/api/console/",
      ].sort(),
    );
    // Every route the handler matches is documented (a path's {…} stands for any segment).
    const { matchRoute } = await import("./handler");
    for (const path of Object.keys(res.json.paths)) {
      expect(matchRoute(path.slice("/api/".length).replaceAll(/\{[a-z]+\}/g, "42")), path).toBeDefined();
    }
    const chat = res.json.components.schemas.ChatMessage;
    expect(chat.required).toEqual(["chat_session", "chat_source"]);
    expect(chat.properties.chat_session.pattern).toBe("^[A-Za-z0-9_-]{1,100}$");
    expect(res.json.components.schemas.Error.properties.error.properties.code.enum).toContain("conversation_closed");
  });
});

describe("signed consumers (Standard Webhooks)", () => {
  const secret = `whsec_${btoa("a-32-byte-secret-for-hmac-sha256!")}`;
  const rotatedOut = `whsec_${btoa("an-old-secret-that-was-rotated-o")}`;

  async function setup() {
    const h = bridgeHarness({
      consumers: [{ username: "signer", password: "signer-password", sources: ["WENI"], signingSecrets: [secret] }],
    });
    const token = await h.login({ username: "signer", password: "signer-password" });
    const send = async (body: string, sign?: { secret: string; timestamp?: number; signedBody?: string }) => {
      const headers: Record<string, string> = { "content-type": "application/json", authorization: `Token ${token}` };
      if (sign) {
        const { signStandardWebhook } = await import("../signing/standard-webhooks");
        Object.assign(
          headers,
          await signStandardWebhook({
            id: "msg_1",
            timestamp: sign.timestamp ?? Math.floor(h.clock.now() / 1000),
            body: sign.signedBody ?? body,
            secret: sign.secret,
          }),
        );
      }
      return h.bridge.handler(new Request("http://bridge.test/api/chat/", { method: "POST", headers, body }));
    };
    return { h, send };
  }

  it("accepts a request signed over its raw body, refuses unsigned, stale and rotated-out ones with 401", async () => {
    const { h, send } = await setup();
    const body = JSON.stringify(clientMessage("s1", "hello"));
    expect((await send(body, { secret })).status).toBe(201);
    const unsigned = await send(body);
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as { error: { code: string } }).error.code).toBe("invalid_signature");
    const stale = await send(body, { secret, timestamp: Math.floor(h.clock.now() / 1000) - 301 });
    expect(stale.status).toBe(401);
    expect((await send(body, { secret: rotatedOut })).status).toBe(401);
    // A body changed after signing (here: re-serialised with other spacing) does not verify.
    const parsed = clientMessage("s2", "x");
    const tampered = await send(JSON.stringify(parsed, null, 2), { secret, signedBody: JSON.stringify(parsed) });
    expect(tampered.status).toBe(401);
    expect(h.events.filter((e) => e.name === "auth.failure").length).toBe(4);
    expect(await h.store.getConversation("s2")).toBeUndefined();
  });

  it("refuses a malformed signing secret at construction, naming the option", async () => {
    const { createBridge } = await import("../create-bridge");
    const h = bridgeHarness();
    expect(() =>
      createBridge({
        store: h.store,
        helplines: h.helpline.target,
        chatbot: h.chatbot.target,
        consumers: [{ username: "a", password: "long-enough", sources: ["WENI"], signingSecrets: ["%%%"] }],
      }),
    ).toThrow(/consumers\.0\.signingSecrets/);
  });
});

describe("docs/openapi.json", () => {
  it("is the document the code generates (run `npm run openapi` after changing a schema)", async () => {
    const { readFileSync } = await import("node:fs");
    const { openApiDocument } = await import("./openapi");
    const committed = JSON.parse(readFileSync(new URL("../../../../docs/openapi.json", import.meta.url), "utf8"));
    expect(committed).toEqual(openApiDocument("/api/"));
  });
});
