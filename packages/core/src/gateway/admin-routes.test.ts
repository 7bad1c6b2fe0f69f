import { describe, expect, it } from "vitest";
import {
  bridgeHarness,
  CHATBOT_USER,
  clientMessage,
  HELPLINE_USER,
  upstreamFailure,
} from "../../test-support/bridge-harness";
import { apiKeyHash } from "../auth/api-keys";
import { StoreUnavailableError } from "../store/errors";
import { createMemoryStore } from "../store/memory-store";
import type { Store } from "../store/store";

const ADMIN_USER = { username: "operator", password: "operator-password-1" };
const ADMIN_KEY = "obk_operator-test-key-0123456789abcdefghijklmnop";
const CONTACT = clientMessage("x", "x").chat_sender;

/** The harness with an admin consumer (no sources, one API key) next to the two sides. */
function adminHarness(store?: Store) {
  return bridgeHarness({
    ...(store ? { store } : {}),
    consumers: [
      { ...CHATBOT_USER, sources: ["WENI"] },
      { ...HELPLINE_USER, sources: ["OUTBOX", "HELPLINE"] },
      { ...ADMIN_USER, sources: [], admin: true, apiKeys: [apiKeyHash(ADMIN_KEY)] },
    ],
  });
}

type Harness = ReturnType<typeof adminHarness>;

/**
 * Dead-letters every pending job of a conversation as the delivery worker does when retries run out
 * (job kept as dead, its message `failed`), one clock second apart so `failed_at` orders them.
 */
async function deadLetterAll(
  h: Harness,
  conversationId: string,
  lastError: { code: string; status?: number } = { code: "unavailable", status: 503 },
) {
  const jobs = await h.store.pendingJobs(conversationId);
  for (const job of jobs) {
    h.clock.advance(1000);
    await h.store.transaction(async (tx) => {
      await tx.deadLetterJob(job.id, { attempts: 4, deadAt: h.clock.now(), lastError });
      if (job.messageUuid === undefined) return;
      const message = await tx.getMessage(job.messageUuid);
      if (message) await tx.updateMessage({ ...message, status: "failed" });
    });
  }
  return jobs.map((job) => job.id);
}

/** A client message accepted for `session` (its job pending, not delivered). */
async function accept(h: Harness, token: string, session: string, messageId: string, text = "I need help") {
  const res = await h.call("POST", "chat/", { token, body: clientMessage(session, text, { message_id: messageId }) });
  expect(res.status).toBe(201);
  return res.json.uuid as string;
}

describe("admin access", () => {
  it("401 without a token, 403 forbidden with a token of a consumer that is not admin", async () => {
    const h = adminHarness();
    const chatbot = await h.login(CHATBOT_USER);
    for (const [method, path] of [
      ["GET", "admin/dead-letters"],
      ["POST", "admin/dead-letters/1/replay"],
      ["POST", "admin/dead-letters/replay"],
    ] as const) {
      const anonymous = await h.call(method, path);
      expect(anonymous.status, path).toBe(401);
      expect(anonymous.json.error.code).toBe("unauthorized");
      const notAdmin = await h.call(method, path, { token: chatbot });
      expect(notAdmin.status, path).toBe(403);
      expect(notAdmin.json.error.code).toBe("forbidden");
    }
  });

  it("an admin logs in at token/, and its API key opens admin/ too", async () => {
    const h = adminHarness();
    const token = await h.login(ADMIN_USER);
    expect((await h.call("GET", "admin/dead-letters/", { token })).status).toBe(200);
    expect((await h.call("GET", "admin/dead-letters", { token: ADMIN_KEY })).json).toEqual({
      results: [],
      next_cursor: null,
    });
  });

  it("an admin without sources may not read or post conversations: 403 forbidden_source", async () => {
    const h = adminHarness();
    const admin = await h.login(ADMIN_USER);
    const chatbot = await h.login(CHATBOT_USER);
    await accept(h, chatbot, "s1", "m1");
    const calls = [
      ["POST", "chat/", clientMessage("s2", "hello")],
      ["POST", "chat/s1/close/", {}],
      ["POST", "chat/s1/ack/", { message_id: "m1", status: "read" }],
      ["GET", "chat/", undefined],
      ["GET", "chat/s1/", undefined],
    ] as const;
    for (const [method, path, body] of calls) {
      const res = await h.call(method, path, { token: admin, ...(body !== undefined ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.error.code).toBe("forbidden_source");
    }
    expect(await h.store.getConversation("s2")).toBeUndefined();
    expect((await h.store.getConversation("s1"))?.state).toBe("requested");
  });

  it("only an admin consumer may have no sources", () => {
    expect(() => bridgeHarness({ consumers: [{ ...CHATBOT_USER, sources: [] }] })).toThrow(
      "Invalid bridge option `consumers.0.sources`: expected at least one source (only an admin consumer may have none)",
    );
    expect(() => bridgeHarness({ consumers: [{ ...ADMIN_USER, sources: [], admin: true }] })).not.toThrow();
  });

  it("405 for a known admin path with the wrong method", async () => {
    const h = adminHarness();
    const token = await h.login(ADMIN_USER);
    const res = await h.call("GET", "admin/dead-letters/1/replay", { token });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect((await h.call("GET", "admin/nothing", { token })).status).toBe(404);
  });
});

describe("GET admin/dead-letters", () => {
  it("lists dead letters newest first: ids, kind, target, attempts, last error, never text or address", async () => {
    const h = adminHarness();
    const chatbot = await h.login(CHATBOT_USER);
    const admin = await h.login(ADMIN_USER);
    const text = "my secret words to the counselor";
    await accept(h, chatbot, "s1", "m1", text);
    const [id] = await deadLetterAll(h, "s1");
    const res = await h.call("GET", "admin/dead-letters", { token: admin });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      results: [
        {
          id,
          conversation_id: "s1",
          message_id: "m1",
          kind: "message",
          target: "helpline",
          attempts: 4,
          last_error: { code: "unavailable", status: 503 },
          failed_at: new Date(h.clock.now()).toISOString(),
        },
      ],
      next_cursor: null,
    });
    const raw = JSON.stringify(res.json);
    expect(raw).not.toContain(text);
    expect(raw).not.toContain(CONTACT);
  });

  it("shows an ack's message id, the chatbot target, and a status of null when there was none", async () => {
    const h = adminHarness();
    const chatbot = await h.login(CHATBOT_USER);
    const helpline = await h.login(HELPLINE_USER);
    const admin = await h.login(ADMIN_USER);
    await accept(h, chatbot, "s1", "m1");
    await h.bridge.runDue(); // delivered to the helpline: the conversation is hunting
    const reply = await h.call("POST", "chat/", {
      token: helpline,
      body: { chat_session: "s1", chat_message: "a reply", chat_source: "OUTBOX", message_id: "r1" },
    });
    expect(reply.status).toBe(201);
    const ack = await h.call("POST", "chat/s1/ack/", { token: chatbot, body: { message_id: "r1", status: "read" } });
    expect(ack.status).toBe(200);
    await deadLetterAll(h, "s1", { code: "network" });
    const res = await h.call("GET", "admin/dead-letters?conversation_id=s1", { token: admin });
    const byKind = Object.fromEntries(res.json.results.map((r: { kind: string }) => [r.kind, r]));
    expect(byKind.message).toMatchObject({ target: "chatbot", message_id: "r1", last_error: { status: null } });
    expect(byKind.ack).toMatchObject({ target: "helpline", message_id: "r1", last_error: { code: "network" } });
  });

  it("pages with cursor and filters by conversation_id", async () => {
    const h = adminHarness();
    const chatbot = await h.login(CHATBOT_USER);
    const admin = await h.login(ADMIN_USER);
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      await accept(h, chatbot, i < 3 ? "a" : "b", `m${i}`);
      ids.push(...(await deadLetterAll(h, i < 3 ? "a" : "b")));
    }
    const seen: number[] = [];
    let cursor: number | null = null;
    let pages = 0;
    do {
      const res = await h.call("GET", `admin/dead-letters?limit=2${cursor ? `&cursor=${cursor}` : ""}`, {
        token: admin,
      });
      expect(res.status).toBe(200);
      expect(res.json.results.length).toBeLessThanOrEqual(2);
      seen.push(...res.json.results.map((r: { id: number }) => r.id));
      cursor = res.json.next_cursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
    const onlyA = await h.call("GET", "admin/dead-letters?conversation_id=a", { token: admin });
    expect(onlyA.json.results.map((r: { conversation_id: string }) => r.conversation_id)).toEqual(["a", "a", "a"]);
  });

  it.each([
    ["limit=0", "limit"],
    ["limit=501", "limit"],
    ["cursor=abc", "cursor"],
    ["conversation_id=has%20space", "conversation_id"],
  ])("400 for %s, naming the field", async (query, field) => {
    const h = adminHarness();
    const admin = await h.login(ADMIN_USER);
    const res = await h.call("GET", `admin/dead-letters?${query}`, { token: admin });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: "invalid_field", field });
  });

  it("lists what the delivery worker dead-letters (a refusal that is never retried)", async () => {
    const h = adminHarness();
    const chatbot = await h.login(CHATBOT_USER);
    const admin = await h.login(ADMIN_USER);
    h.helpline.failNext(upstreamFailure(422));
    await accept(h, chatbot, "s1", "m1");
    await h.bridge.runDue();
    const res = await h.call("GET", "admin/dead-letters", { token: admin });
    expect(res.json.results).toEqual([
      expect.objectContaining({
        conversation_id: "s1",
        message_id: "m1",
        kind: "message",
        last_error: { code: "validation", status: 422 },
      }),
    ]);
  });
});

describe("POST admin/dead-letters/{id}/replay", () => {
  it("202 queues the job again: the message leaves failed (replayed_at) and is delivered once", async () => {
    const h = adminHarness();
    const chatbot = await h.login(CHATBOT_USER);
    const admin = await h.login(ADMIN_USER);
    const uuid = await accept(h, chatbot, "s1", "m1");
    const [id] = await deadLetterAll(h, "s1");
    expect((await h.store.getMessage(uuid))?.status).toBe("failed");
    const replayed: unknown[] = [];
    h.bridge.events.on("dead_letter.replayed", (e) => replayed.push(e));

    const res = await h.call("POST", `admin/dead-letters/${id}/replay`, { token: admin });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ id, status: "queued" });
    expect(replayed).toEqual([{ jobId: id, conversationId: "s1", kind: "message", lane: "helpline" }]);
    const message = await h.store.getMessage(uuid);
    expect(message?.status).toBe("accepted");
    expect(message?.replayedAt).toBe(new Date(h.clock.now()).toISOString());
    const view = await h.call("GET", "chat/s1/", { token: chatbot });
    expect(view.json.messages[0]).toMatchObject({ status: "accepted", replayed_at: message?.replayedAt });
    expect(await h.store.pendingJobs("s1")).toEqual([expect.objectContaining({ id, attempts: 0 })]);
    expect((await h.call("GET", "admin/dead-letters", { token: admin })).json.results).toEqual([]);

    await h.bridge.runDue();
    expect(h.helpline.messages.map((m) => m.messageId)).toEqual(["m1"]);
    expect((await h.store.getMessage(uuid))?.status).toBe("sent");
  });

  it("goes back to its place in the lane, ahead of the messages accepted after it", async () => {
    const h = adminHarness();
    const chatbot = await h.login(CHATBOT_USER);
    const admin = await h.login(ADMIN_USER);
    await accept(h, chatbot, "s1", "m1");
    const [id] = await deadLetterAll(h, "s1");
    await accept(h, chatbot, "s1", "m2");
    expect((await h.call("POST", `admin/dead-letters/${id}/replay`, { token: admin })).status).toBe(202);
    await h.bridge.runDue();
    expect(h.helpline.messages.map((m) => m.messageId)).toEqual(["m1", "m2"]);
  });

  it("404 dead_letter_not_found for an unknown or malformed id, 409 for a job that is not dead", async () => {
    const h = adminHarness();
    const chatbot = await h.login(CHATBOT_USER);
    const admin = await h.login(ADMIN_USER);
    await accept(h, chatbot, "s1", "m1");
    const [pending] = (await h.store.pendingJobs("s1")).map((j) => j.id);
    for (const id of ["999999", "abc", "0", "-1"]) {
      const res = await h.call("POST", `admin/dead-letters/${id}/replay`, { token: admin });
      expect(res.status, id).toBe(404);
      expect(res.json.error.code).toBe("dead_letter_not_found");
    }
    const notDead = await h.call("POST", `admin/dead-letters/${pending}/replay`, { token: admin });
    expect(notDead.status).toBe(409);
    expect(notDead.json.error.code).toBe("dead_letter_not_dead");
  });

  it("replayed once: two replays racing get one 202 and one 409, and one delivery", async () => {
    const h = adminHarness();
    const chatbot = await h.login(CHATBOT_USER);
    const admin = await h.login(ADMIN_USER);
    await accept(h, chatbot, "s1", "m1");
    const [id] = await deadLetterAll(h, "s1");
    const answers = await Promise.all([
      h.call("POST", `admin/dead-letters/${id}/replay`, { token: admin }),
      h.call("POST", `admin/dead-letters/${id}/replay`, { token: admin }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
    expect(await h.store.pendingJobs("s1")).toHaveLength(1);
    await h.bridge.runDue();
    expect(h.helpline.messages).toHaveLength(1);
  });
});

describe("POST admin/dead-letters/replay", () => {
  it("202 replays every dead letter, or those of one conversation", async () => {
    const h = adminHarness();
    const chatbot = await h.login(CHATBOT_USER);
    const admin = await h.login(ADMIN_USER);
    for (const [session, id] of [
      ["a", "a1"],
      ["a", "a2"],
      ["b", "b1"],
    ] as const) {
      await accept(h, chatbot, session, id);
    }
    await deadLetterAll(h, "a");
    await deadLetterAll(h, "b");

    const one = await h.call("POST", "admin/dead-letters/replay", { token: admin, body: { conversation_id: "b" } });
    expect(one.status).toBe(202);
    expect(one.json).toEqual({ replayed: 1 });
    const left = await h.call("GET", "admin/dead-letters", { token: admin });
    expect(left.json.results.map((r: { conversation_id: string }) => r.conversation_id)).toEqual(["a", "a"]);

    const all = await h.call("POST", "admin/dead-letters/replay", { token: admin });
    expect(all.json).toEqual({ replayed: 2 });
    expect((await h.call("POST", "admin/dead-letters/replay", { token: admin, body: {} })).json).toEqual({
      replayed: 0,
    });
    await h.bridge.runDue();
    expect(h.helpline.messages.map((m) => m.messageId).sort()).toEqual(["a1", "a2", "b1"]);
  });

  it("400 for a bad conversation_id, naming it", async () => {
    const h = adminHarness();
    const admin = await h.login(ADMIN_USER);
    const res = await h.call("POST", "admin/dead-letters/replay", { token: admin, body: { conversation_id: 7 } });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: "invalid_field", field: "conversation_id" });
  });
});

describe("GET ready", () => {
  it("200 without credentials, with the outbox figures", async () => {
    const h = adminHarness();
    const chatbot = await h.login(CHATBOT_USER);
    const empty = await h.call("GET", "ready");
    expect(empty.status).toBe(200);
    expect(empty.json).toEqual({ status: "ready", outbox_pending: 0, oldest_pending_age_s: 0, dead_letters: 0 });
    await accept(h, chatbot, "s1", "m1");
    await accept(h, chatbot, "s2", "m2");
    await deadLetterAll(h, "s2");
    h.clock.advance(90_000);
    const res = await h.call("GET", "ready/");
    expect(res.json).toEqual({ status: "ready", outbox_pending: 1, oldest_pending_age_s: 91, dead_letters: 1 });
  });

  it("503 stopping once stop() has begun", async () => {
    const h = adminHarness();
    await h.bridge.stop();
    const res = await h.call("GET", "ready");
    expect(res.status).toBe(503);
    expect(res.json.status).toBe("stopping");
    expect((await h.call("GET", "health")).status).toBe(200);
  });

  it("503 unavailable with Retry-After when the store does not answer; figures unknown, not guessed", async () => {
    let down = false;
    const h = adminHarness(
      createMemoryStore({ failWith: () => (down ? new StoreUnavailableError("down") : undefined) }),
    );
    down = true;
    const res = await h.call("GET", "ready");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(res.json).toEqual({
      status: "unavailable",
      outbox_pending: null,
      oldest_pending_age_s: null,
      dead_letters: null,
    });
  });

  it("admin routes answer 503 store_unavailable when the store is down", async () => {
    let down = false;
    const h = adminHarness(
      createMemoryStore({ failWith: () => (down ? new StoreUnavailableError("down") : undefined) }),
    );
    const admin = await h.login(ADMIN_USER);
    await h.call("GET", "admin/dead-letters", { token: admin }); // the token is now cached
    down = true;
    for (const [method, path] of [
      ["GET", "admin/dead-letters"],
      ["POST", "admin/dead-letters/1/replay"],
      ["POST", "admin/dead-letters/replay"],
    ] as const) {
      const res = await h.call(method, path, { token: admin });
      expect(res.status, path).toBe(503);
      expect(res.json.error.code).toBe("store_unavailable");
    }
  });
});
