import { createMemoryStore, manualClock } from "@openchs-bridge/core";
import { delay, HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { composeGateway } from "./compose";
import { loadConfig } from "./config";

/**
 * The whole conversation through the composed gateway: the real OpenCHS and RapidPro clients and
 * targets, talking to msw upstreams that behave as the real APIs do (REFERENCE.md).
 */
const HELPLINE = "http://helpline.test/helpline/api/";
const RAPIDPRO = "http://127.0.0.1:59999/api/v2/"; // loopback: the gateway allows http there only
const ACKS = "http://127.0.0.1:59999/bridge-acks";
const CONTACT = "a3c1e4b2-1111-4222-8333-944455556666";
const CLOSE_FLOW = "f0000000-0000-4000-8000-0000000000c1";

interface Upstreams {
  logins: number;
  sessions: Set<string>;
  msgs: Array<Record<string, unknown>>;
  broadcasts: Array<Record<string, unknown>>;
  flowStarts: Array<Record<string, unknown>>;
  acks: Array<Record<string, unknown>>;
  failMsg: number[];
  /** Delays (ms) of the next `msg/` answers, each then a 503: an upstream that hangs. */
  slowMsg: number[];
}

const noUpstreamRecords = (): Upstreams => ({
  logins: 0,
  sessions: new Set(),
  msgs: [],
  broadcasts: [],
  flowStarts: [],
  acks: [],
  failMsg: [],
  slowMsg: [],
});
const up = noUpstreamRecords();
const server = setupServer(
  http.post(HELPLINE, ({ request }) => {
    if (request.headers.get("authorization") !== `Basic ${btoa("bridge:helpline-api-secret")}`) {
      return HttpResponse.json({ errors: [["error", "invalid login", 1, "auth", "", "", ""]] }, { status: 412 });
    }
    const session = `sess-${++up.logins}`;
    up.sessions.add(session);
    return HttpResponse.json({ ss: [[session, "7", "bridge", "api", "70"]] });
  }),
  http.post(`${HELPLINE}msg/`, async ({ request }) => {
    const session = request.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
    if (!up.sessions.has(session)) return HttpResponse.json({ errors: [["error", "not logged in"]] }, { status: 401 });
    const slow = up.slowMsg.shift();
    if (slow) {
      await delay(slow);
      return new HttpResponse(null, { status: 503 });
    }
    const status = up.failMsg.shift();
    if (status) return new HttpResponse(null, { status });
    up.msgs.push((await request.json()) as Record<string, unknown>);
    return HttpResponse.json({ messages: [[String(up.msgs.length)]] }, { status: 201 });
  }),
  http.post(`${RAPIDPRO}broadcasts.json`, async ({ request }) => {
    if (request.headers.get("authorization") !== "Token rapidpro-api-token")
      return new HttpResponse(null, { status: 403 });
    const body = (await request.json()) as Record<string, unknown>;
    up.broadcasts.push(body);
    return HttpResponse.json(
      { id: up.broadcasts.length, ...body, status: "queued", created_on: new Date().toISOString() },
      { status: 201 },
    );
  }),
  http.post(`${RAPIDPRO}flow_starts.json`, async ({ request }) => {
    const body = (await request.json()) as Record<string, unknown>;
    up.flowStarts.push(body);
    return HttpResponse.json(
      {
        id: up.flowStarts.length,
        uuid: "0a0b0c0d-0000-4000-8000-000000000001",
        flow: { uuid: CLOSE_FLOW, name: "Back to bot" },
        status: "pending",
        groups: [],
        contacts: [{ uuid: CONTACT, name: "" }],
        restart_participants: true,
        exclude_active: false,
        params: body.params,
        extra: body.params,
        created_on: new Date().toISOString(),
        modified_on: new Date().toISOString(),
      },
      { status: 201 },
    );
  }),
  http.post(ACKS, async ({ request }) => {
    if (request.headers.get("authorization") !== "Token ack-token") return new HttpResponse(null, { status: 401 });
    up.acks.push((await request.json()) as Record<string, unknown>);
    return HttpResponse.json({ ok: true });
  }),
);
beforeAll(() => server.listen({ onUnhandledFrame: "error" }));
afterEach(() => {
  server.resetHandlers();
  Object.assign(up, noUpstreamRecords());
});
afterAll(() => server.close());

/** A child's message from the flow webhook (style A), to the test contact. */
function childMessage(session: string, text: string, messageId: string) {
  return {
    chat_session: session,
    chat_message: text,
    chat_sender: CONTACT,
    chat_source: "WENI",
    message_id: messageId,
  };
}

function gateway(extra: Record<string, string> = {}) {
  const config = loadConfig({
    BRIDGE_STORE: "memory",
    BRIDGE_CONSUMERS: JSON.stringify([
      { username: "weni", password: "weni-password", sources: ["WENI"] },
      { username: "helpline", password: "helpline-password", sources: ["OUTBOX", "HELPLINE"] },
    ]),
    HELPLINE_URL: HELPLINE,
    HELPLINE_USERNAME: "bridge",
    HELPLINE_PASSWORD: "helpline-api-secret",
    RAPIDPRO_URL: RAPIDPRO,
    RAPIDPRO_TOKEN: "rapidpro-api-token",
    RAPIDPRO_FLAVOUR: "v7",
    RAPIDPRO_CLOSE_FLOW: CLOSE_FLOW,
    CHATBOT_ACK_URL: ACKS,
    CHATBOT_ACK_TOKEN: "ack-token",
    HUNT_TIMEOUT_S: "60",
    HUNT_MAX: "1",
    ...extra,
  });
  const clock = manualClock(Date.now());
  // msw intercepts fetch, not undici's request (serve's default transport): hand the clients fetch.
  const { bridge } = composeGateway(config, {
    store: createMemoryStore(),
    clock,
    fetch: (input, init) => fetch(input, init),
  });
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await bridge.handler(
      new Request(`http://bridge.test/api/${path}`, {
        method,
        headers: { "content-type": "application/json", ...(token ? { authorization: `Token ${token}` } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      }),
    );
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const login = async (username: string, password: string) =>
    (await call("POST", "token/", { username, password })).json.token as string;
  return { bridge, clock, call, login };
}

describe("end to end through the real clients", () => {
  it("plays a whole conversation: escalation, read, replies both ways with pseudonyms, acks, close from the helpline", async () => {
    const g = gateway();
    const weni = await g.login("weni", "weni-password");
    const helpline = await g.login("helpline", "helpline-password");

    const accepted = await g.call(
      "POST",
      "chat/",
      {
        chat_session: "conv_1",
        chat_message: "I am scared",
        chat_sender: CONTACT,
        chat_source: "WENI",
        message_id: "c1",
      },
      weni,
    );
    expect(accepted.status).toBe(201);
    await g.bridge.runDue();
    expect(up.msgs).toEqual([
      expect.objectContaining({
        // The conversation's chat_channel (WENI by default), as the legacy gateway gave it.
        channel: "WENI",
        session_id: "conv_1",
        message_id: "c1",
        from: CONTACT,
        message: "I am scared",
      }),
    ]);
    expect(up.logins).toBe(1);

    await g.call(
      "POST",
      "chat/conv_1/ack/",
      { message_id: "c1", status: "read", chat_source: "HELPLINE", sender_name: "Amina" },
      helpline,
    );
    const reply = await g.call(
      "POST",
      "chat/",
      {
        chat_session: "conv_1",
        chat_message: "You are safe to talk here",
        chat_sender: CONTACT,
        chat_receiver: "101",
        chat_channel: "WENI",
        chat_source: "OUTBOX",
        sender_name: "Amina",
      },
      helpline,
    );
    expect(reply.status).toBe(201);
    await g.call("POST", "chat/", childMessage("conv_1", "ok", "c2"), weni);
    await g.bridge.runDue();
    expect(up.broadcasts).toEqual([{ contacts: [CONTACT], text: "Amina: You are safe to talk here" }]);
    expect(up.msgs.map((m) => m.message_id)).toEqual(["c1", "c2"]);
    expect(up.acks).toEqual([expect.objectContaining({ conversation_id: "conv_1", message_id: "c1", status: "read" })]);
    expect(up.logins).toBe(1); // one session for every message, not a login per message

    const closed = await g.call(
      "POST",
      "chat/conv_1/close/",
      { chat_source: "HELPLINE", reason: "resolved" },
      helpline,
    );
    expect(closed.json).toMatchObject({ state: "closed", closed_by: "helpline" });
    await g.bridge.runDue();
    expect(up.flowStarts).toEqual([
      expect.objectContaining({
        flow: CLOSE_FLOW,
        contacts: [CONTACT],
        params: { conversation_id: "conv_1", closed_by: "helpline", reason: "resolved" },
      }),
    ]);
    const conv = await g.call("GET", "chat/conv_1/", undefined, weni);
    expect(conv.json).toMatchObject({ state: "closed", counselor_name: "Amina" });
  });

  it("logs in again once when the helpline session expired, and retries a 503 without losing order", async () => {
    const g = gateway();
    const weni = await g.login("weni", "weni-password");
    for (const id of ["1", "2"]) {
      await g.call("POST", "chat/", childMessage("conv_2", `m${id}`, id), weni);
    }
    await g.bridge.runDue();
    up.sessions.clear(); // the helpline forgot the session
    up.failMsg.push(503);
    await g.call("POST", "chat/", childMessage("conv_2", "m3", "3"), weni);
    await g.call("POST", "chat/", childMessage("conv_2", "m4", "4"), weni);
    await g.bridge.runDue();
    expect(up.logins).toBe(2);
    expect(up.msgs.map((m) => m.message_id)).toEqual(["1", "2", "3", "4"]);
  });

  it("gives up on an upstream call after BRIDGE_UPSTREAM_TIMEOUT_S and retries it", async () => {
    const g = gateway({ BRIDGE_UPSTREAM_TIMEOUT_S: "1" });
    const retries: Array<{ error: { code: string } }> = [];
    g.bridge.events.on("delivery.retry", (e) => retries.push(e));
    const weni = await g.login("weni", "weni-password");
    up.slowMsg.push(3_000); // answers only after 3 s, by when the 1 s timeout has given up on it
    await g.call("POST", "chat/", childMessage("conv_t", "m1", "t1"), weni);
    await g.bridge.runDue();
    expect(retries.map((r) => r.error.code)).toEqual(["timeout"]);
    expect(up.msgs.map((m) => m.message_id)).toEqual(["t1"]);
    expect(g.bridge.options.delivery.attemptTimeoutMs).toBe(6_000);
  });

  it("gives hunting up: re-notifies once, then starts the close flow with no_counselor", async () => {
    const g = gateway();
    const weni = await g.login("weni", "weni-password");
    await g.call("POST", "chat/", childMessage("conv_3", "help", "h1"), weni);
    await g.bridge.runDue();
    g.clock.advance(60_000);
    await g.bridge.runDue();
    expect(up.msgs.map((m) => m.message_id)).toEqual(["h1", "h1#renotify-1"]);
    g.clock.advance(60_000);
    await g.bridge.runDue();
    expect(up.flowStarts).toEqual([
      expect.objectContaining({ params: { conversation_id: "conv_3", closed_by: "system", reason: "no_counselor" } }),
    ]);
    expect(up.msgs.at(-1)?.message_id).toBe("conv_3#close");
  });

  it("reports a refused message as failed, to the chatbot's ack endpoint, and never as delivered", async () => {
    const g = gateway();
    const weni = await g.login("weni", "weni-password");
    up.failMsg.push(412);
    await g.call("POST", "chat/", childMessage("conv_4", "x", "bad"), weni);
    await g.bridge.runDue();
    const conv = await g.call("GET", "chat/conv_4/", undefined, weni);
    expect((conv.json.messages as Array<{ status: string }>)[0]?.status).toBe("failed");
    expect(up.acks).toEqual([expect.objectContaining({ message_id: "bad", status: "failed" })]);
  });
});
