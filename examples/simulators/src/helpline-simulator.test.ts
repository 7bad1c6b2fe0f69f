import { createOpenChsHelplineClient } from "@openchs-bridge/openchs-client";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_HELPLINE_USER, type HelplineSimulator, startHelplineSimulator } from "./helpline-simulator";
import { type FakeBridge, startFakeBridge } from "./test-support/fake-bridge";

const BASIC = `Basic ${Buffer.from(`${DEFAULT_HELPLINE_USER.username}:${DEFAULT_HELPLINE_USER.password}`).toString("base64")}`;
const HELPLINE_CONSUMER = { username: "helpline", password: "helpline-secret-pass" };

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function helpline(options: Parameters<typeof startHelplineSimulator>[0] = {}): Promise<HelplineSimulator> {
  const sim = await startHelplineSimulator({ offerDelayMs: 0, readDelayMs: 0, ...options });
  cleanup.push(() => sim.close());
  return sim;
}

async function bridge(): Promise<FakeBridge> {
  const fake = await startFakeBridge({ [HELPLINE_CONSUMER.username]: HELPLINE_CONSUMER.password });
  cleanup.push(() => fake.close());
  return fake;
}

async function login(sim: HelplineSimulator): Promise<string> {
  const res = await fetch(sim.url, { method: "POST", headers: { authorization: BASIC } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { ss: string[][] };
  return body.ss[0]![0]!;
}

function postMsg(sim: HelplineSimulator, session: string, body: unknown): Promise<Response> {
  return fetch(`${sim.url}msg/`, {
    method: "POST",
    headers: { authorization: `Bearer ${session}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

const message = (over: Record<string, unknown> = {}) => ({
  channel: "chat",
  session_id: "conv1",
  message_id: "m1",
  from: "contact-1",
  message: "I need help",
  timestamp: "1680783378",
  ...over,
});

describe("helpline simulator: login and sessions", () => {
  it("opens a session on HTTP Basic and answers ss[0] = [session, user id, username, role, contact id]", async () => {
    const sim = await helpline();
    const res = await fetch(sim.url, { headers: { authorization: BASIC } });
    const body = (await res.json()) as { ss: string[][] };
    expect(res.status).toBe(200);
    expect(body.ss[0]).toHaveLength(5);
    expect(body.ss[0]![2]).toBe(DEFAULT_HELPLINE_USER.username);
    expect(body.ss[0]![0]).toMatch(/^[0-9a-f]{32}$/);
    expect(sim.state.logins).toEqual({ ok: 1, failed: 0 });
    expect(sim.state.activeSessions()).toBe(1);
  });

  it("refuses wrong credentials with 412 and the errors array", async () => {
    const sim = await helpline();
    const wrong = `Basic ${Buffer.from("bridge:wrong").toString("base64")}`;
    const res = await fetch(sim.url, { method: "POST", headers: { authorization: wrong } });
    expect(res.status).toBe(412);
    const body = (await res.json()) as { errors: unknown[][] };
    expect(body.errors[0]![0]).toBe("error");
    expect(body.errors[0]![1]).toBe("invalid login");
    expect(sim.state.logins).toEqual({ ok: 0, failed: 1 });
  });

  it("answers 401 without a session, with an unknown one, and after expireSessions()", async () => {
    const sim = await helpline();
    expect((await postMsg(sim, "", message())).status).toBe(401);
    expect((await postMsg(sim, "not-a-session", message())).status).toBe(401);
    const session = await login(sim);
    expect((await postMsg(sim, session, message())).status).toBe(201);
    expect(sim.expireSessions()).toBe(1);
    const res = await postMsg(sim, session, message({ message_id: "m2" }));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { errors: unknown[] }).errors).toHaveLength(1);
    expect(sim.state.messages("conv1").map((m) => m.messageId)).toEqual(["m1"]);
  });

  it("ends a session after the idle time, and each use slides it", async () => {
    let now = 1_000_000;
    const sim = await helpline({ sessionIdleMs: 10_000, now: () => now });
    const session = await login(sim);
    now += 9_000;
    expect((await postMsg(sim, session, message())).status).toBe(201);
    now += 9_000; // 18 s after login, 9 s after the last use
    expect((await postMsg(sim, session, message({ message_id: "m2" }))).status).toBe(201);
    now += 10_001;
    expect((await postMsg(sim, session, message({ message_id: "m3" }))).status).toBe(401);
    expect(sim.state.activeSessions()).toBe(0);
  });

  it("accepts the Session-Id header as well as Bearer", async () => {
    const sim = await helpline();
    const session = await login(sim);
    const res = await fetch(`${sim.url}msg/`, {
      method: "POST",
      headers: { "session-id": session, "content-type": "application/json" },
      body: JSON.stringify(message()),
    });
    expect(res.status).toBe(201);
  });

  it("lets the bridge's helpline client log in once, and again after the sessions expire", async () => {
    const sim = await helpline();
    const client = createOpenChsHelplineClient({ baseUrl: sim.url, ...DEFAULT_HELPLINE_USER, retry: false });
    await client.sendMessage({ session_id: "conv1", message_id: "m1", from: "c1", message: "one" });
    await client.sendMessage({ session_id: "conv1", message_id: "m2", from: "c1", message: "two" });
    expect(sim.state.logins.ok).toBe(1);
    sim.expireSessions();
    await client.sendMessage({ session_id: "conv1", message_id: "m3", from: "c1", message: "three" });
    expect(sim.state.logins.ok).toBe(2);
    expect(sim.state.messages("conv1").map((m) => m.text)).toEqual(["one", "two", "three"]);
  });
});

describe("helpline simulator: msg/", () => {
  it("stores a plain message and answers 201 with its id at messages[0][0]", async () => {
    const sim = await helpline();
    const res = await postMsg(sim, await login(sim), message());
    expect(res.status).toBe(201);
    const body = (await res.json()) as { messages: string[][] };
    const stored = sim.state.messages("conv1");
    expect(stored).toHaveLength(1);
    expect(body.messages[0]![0]).toBe(stored[0]!.id);
    expect(stored[0]).toMatchObject({ text: "I need help", encoding: "plain", from: "contact-1", kind: "message" });
  });

  it("decodes base64 text when mime is given, as the bridge's client sends it", async () => {
    const sim = await helpline();
    const client = createOpenChsHelplineClient({
      baseUrl: sim.url,
      ...DEFAULT_HELPLINE_USER,
      messageEncoding: "base64",
      retry: false,
    });
    await client.sendMessage({ session_id: "conv2", message_id: "m1", from: "c1", message: "Nisaidie tafadhali 🙏" });
    const [stored] = sim.state.messages("conv2");
    expect(stored).toMatchObject({ text: "Nisaidie tafadhali 🙏", encoding: "base64", mime: "text/plain" });
  });

  it("refuses base64 that is not base64 of UTF-8 text with 412 naming message", async () => {
    const sim = await helpline();
    const res = await postMsg(sim, await login(sim), message({ mime: "text/plain", message: "not base64!" }));
    expect(res.status).toBe(412);
    const body = (await res.json()) as { errors: string[][] };
    expect(body.errors[0]![5]).toBe("message");
    expect(sim.state.messages()).toHaveLength(0);
  });

  it("refuses missing mandatory fields with 412, one error per field", async () => {
    const sim = await helpline();
    const res = await postMsg(sim, await login(sim), { channel: "chat", from: "x", message: "" });
    expect(res.status).toBe(412);
    const body = (await res.json()) as { errors: string[][] };
    expect(body.errors.map((e) => e[5])).toEqual(["message_id", "session_id", "message"]);
    expect(sim.state.messages()).toHaveLength(0);
  });

  it("stores a re-sent message_id once, answers 201 with the same id, and records the duplicate", async () => {
    const sim = await helpline();
    const session = await login(sim);
    const first = (await (await postMsg(sim, session, message())).json()) as { messages: string[][] };
    const again = await postMsg(sim, session, message({ message: "changed text" }));
    expect(again.status).toBe(201);
    const second = (await again.json()) as { messages: string[][] };
    expect(second.messages[0]![0]).toBe(first.messages[0]![0]);
    expect(sim.state.messages("conv1")).toHaveLength(1);
    expect(sim.state.messages("conv1")[0]!.text).toBe("I need help");
    expect(sim.state.received("conv1", "m1")).toBe(2);
    expect(sim.state.duplicates).toEqual([expect.objectContaining({ sessionId: "conv1", messageId: "m1" })]);
    // The same message_id in another session is another message.
    await postMsg(sim, session, message({ session_id: "conv9" }));
    expect(sim.state.messages()).toHaveLength(2);
  });

  it("recognises re-notifications and close notices by their message_id", async () => {
    const sim = await helpline({ counselors: [] });
    const session = await login(sim);
    await postMsg(sim, session, message());
    await postMsg(sim, session, message({ message_id: "m1#renotify-2", message: "[re-notify 2/3] I need help" }));
    await postMsg(
      sim,
      session,
      message({ message_id: "conv1#close", message: "[conversation closed by chatbot: left]" }),
    );
    const [, renotify, close] = sim.state.messages("conv1");
    expect(renotify).toMatchObject({ kind: "renotify", originalMessageId: "m1", round: 2 });
    expect(close).toMatchObject({ kind: "close", originalMessageId: "conv1#close" });
    expect(sim.state.chat("conv1")).toMatchObject({ state: "closed", closedBy: "chatbot", closeReason: "left" });
  });
});

describe("helpline simulator: hunting and counselors", () => {
  it("ignores the first offers, then reads on the re-notification: a read ack reaches the bridge", async () => {
    const fake = await bridge();
    const sim = await helpline({ ignoreFirstOffers: 1, bridge: { url: fake.url, ...HELPLINE_CONSUMER } });
    const session = await login(sim);
    const ignored = sim.waitFor("hunt.ignored");
    await postMsg(sim, session, message());
    expect(await ignored).toMatchObject({ sessionId: "conv1", offer: 1, counselor: "Counselor Amina" });
    await new Promise((r) => setTimeout(r, 30));
    expect(fake.calls("/ack/")).toHaveLength(0);
    expect(sim.state.chat("conv1")!.state).toBe("hunting");

    const read = sim.waitFor("counselor.read");
    await postMsg(sim, session, message({ message_id: "m1#renotify-1", message: "[re-notify 1/3] I need help" }));
    expect(await read).toMatchObject({ sessionId: "conv1", messageId: "m1" });
    const acks = fake.calls("/ack/");
    expect(acks).toHaveLength(1);
    expect(acks[0]!.path).toBe("/api/chat/conv1/ack/");
    expect(acks[0]!.body).toEqual({
      message_id: "m1",
      status: "read",
      chat_source: "HELPLINE",
      sender_name: "Counselor Baraka",
    });
    expect(acks[0]!.headers.authorization).toMatch(/^Token tok-1-/);
    expect(sim.state.chat("conv1")).toMatchObject({ state: "assigned", counselor: "102", offers: 2, hunts: 2 });
    expect(sim.state.messages("conv1").every((m) => m.readBy === "Counselor Baraka")).toBe(true);
  });

  it("finds no counselor when the queue is empty, and hunts again once one joins and the bridge re-notifies", async () => {
    const fake = await bridge();
    const sim = await helpline({ bridge: { url: fake.url, ...HELPLINE_CONSUMER } });
    sim.counselors.leave("101");
    sim.counselors.leave("102");
    const session = await login(sim);
    const none = sim.waitFor("hunt.no_counselor");
    await postMsg(sim, session, message());
    await none;
    sim.counselors.join("102");
    const assigned = sim.waitFor("counselor.assigned");
    await postMsg(sim, session, message({ message_id: "m1#renotify-1" }));
    expect(await assigned).toMatchObject({ extension: "102" });
  });

  it("reads later messages of an assigned chat as they come", async () => {
    const fake = await bridge();
    const sim = await helpline({ bridge: { url: fake.url, ...HELPLINE_CONSUMER } });
    const session = await login(sim);
    const firstRead = sim.waitFor("counselor.read");
    await postMsg(sim, session, message());
    await firstRead;
    const secondRead = sim.waitFor("counselor.read", (e) => e.messageId === "m2");
    await postMsg(sim, session, message({ message_id: "m2", message: "are you there?" }));
    await secondRead;
    expect(fake.calls("/ack/").map((r) => (r.body as { message_id: string }).message_id)).toEqual(["m1", "m2"]);
    expect(fake.logins).toBe(1);
  });

  it("sends counselor replies, reads and closes to the bridge with the helpline's fields", async () => {
    const fake = await bridge();
    const sim = await helpline({ autoRead: false, bridge: { url: fake.url, ...HELPLINE_CONSUMER } });
    const session = await login(sim);
    const assigned = sim.waitFor("counselor.assigned");
    await postMsg(sim, session, message());
    await assigned;
    expect(fake.calls("/ack/")).toHaveLength(0); // autoRead off

    expect(await sim.counselors.read("conv1")).toEqual(["m1"]);
    expect(await sim.counselors.read("conv1")).toEqual([]); // nothing unread any more

    const { messageId, result } = await sim.counselors.reply("conv1", "I am here for you");
    expect(result).toMatchObject({ status: "accepted", duplicate: false });
    const [chat] = fake.calls("chat/");
    expect(chat!.body).toEqual({
      chat_session: "conv1",
      chat_message: "I am here for you",
      chat_sender: "contact-1",
      chat_receiver: "101",
      chat_channel: "WENI",
      chat_source: "OUTBOX",
      message_id: messageId,
      sender_name: "Counselor Amina",
    });
    expect(chat!.headers["idempotency-key"]).toBe(messageId);

    await sim.counselors.close("conv1", "resolved");
    const [close] = fake.calls("/close/");
    expect(close!.path).toBe("/api/chat/conv1/close/");
    expect(close!.body).toEqual({ chat_source: "HELPLINE", reason: "resolved" });
    expect(sim.state.chat("conv1")).toMatchObject({ state: "closed", closedBy: "helpline", closeReason: "resolved" });
  });

  it("logs in to the bridge again when its token stops working", async () => {
    const fake = await bridge();
    const sim = await helpline({ autoRead: false, bridge: { url: fake.url, ...HELPLINE_CONSUMER } });
    await postMsg(sim, await login(sim), message());
    await sim.counselors.reply("conv1", "one");
    fake.revokeAll();
    await sim.counselors.reply("conv1", "two");
    expect(fake.logins).toBe(2);
    expect(fake.calls("chat/").map((r) => r.headers.authorization?.slice(0, 10))).toEqual([
      "Token tok-",
      "Token tok-",
      "Token tok-",
    ]);
    expect(sim.state.chat("conv1")!.replies.map((r) => r.text)).toEqual(["one", "two"]);
  });

  it("reports a refused bridge call as a rejection and a bridge.error event without secrets", async () => {
    const fake = await bridge();
    const sim = await helpline({ autoRead: false, bridge: { url: fake.url, ...HELPLINE_CONSUMER } });
    await postMsg(sim, await login(sim), message());
    fake.script((r) => r.path === "/api/chat/", {
      status: 409,
      body: { error: { code: "conversation_closed", message: "closed" } },
    });
    const reported = sim.waitFor("bridge.error");
    await expect(sim.counselors.reply("conv1", "too late")).rejects.toMatchObject({ status: 409 });
    const event = await reported;
    expect(event).toMatchObject({ action: "reply", sessionId: "conv1", error: { status: 409 } });
    expect(JSON.stringify(event)).not.toContain(HELPLINE_CONSUMER.password);
    expect(JSON.stringify(event)).not.toContain("too late");
    expect(sim.state.chat("conv1")!.replies).toHaveLength(0);
  });

  it("auto-counselor: reads, answers from the script, one line per client message, then closes", async () => {
    const fake = await bridge();
    const sim = await helpline({
      autoCounselor: {
        lines: ["Hello, I am {name}.", "Where are you?"],
        replyDelayMs: 0,
        closeWhenDone: "handed over",
      },
      includeText: true,
      bridge: { url: fake.url, ...HELPLINE_CONSUMER },
    });
    const session = await login(sim);
    const firstReply = sim.waitFor("counselor.replied");
    await postMsg(sim, session, message());
    expect(await firstReply).toMatchObject({ text: "Hello, I am Counselor Amina." });
    const closed = sim.waitFor("counselor.closed");
    await postMsg(sim, session, message({ message_id: "m2", message: "at school" }));
    expect(await closed).toMatchObject({ sessionId: "conv1", reason: "handed over" });
    expect(fake.calls("chat/").map((r) => (r.body as { chat_message: string }).chat_message)).toEqual([
      "Hello, I am Counselor Amina.",
      "Where are you?",
    ]);
    // The read ack of each message went before the reply that answers it.
    const order = fake.requests.filter((r) => r.path !== "/api/token/").map((r) => r.path.split("/").at(-2));
    expect(order).toEqual(["ack", "chat", "ack", "chat", "close"]);
  });

  it("keeps message text out of events unless includeText is on", async () => {
    const sim = await helpline({ counselors: [] });
    const seen: unknown[] = [];
    sim.onAny((type, payload) => seen.push({ type, payload }));
    await postMsg(sim, await login(sim), message());
    expect(JSON.stringify(seen)).not.toContain("I need help");
    expect(seen).toContainEqual({ type: "message.stored", payload: expect.objectContaining({ messageId: "m1" }) });
  });
});

describe("helpline simulator: admin API", () => {
  const admin = (sim: HelplineSimulator, path: string, body?: unknown) =>
    fetch(`${sim.origin}/__sim/${path}`, {
      method: body === undefined ? "GET" : "POST",
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it("replies, reads and closes over HTTP, and shows the state", async () => {
    const fake = await bridge();
    const sim = await helpline({ autoRead: false, bridge: { url: fake.url, ...HELPLINE_CONSUMER } });
    await postMsg(sim, await login(sim), message());
    const reply = await admin(sim, "reply", { session: "conv1", text: "hi from admin", message_id: "out-1" });
    expect(reply.status).toBe(200);
    expect(await reply.json()).toMatchObject({ messageId: "out-1", result: { status: "accepted" } });
    expect(await (await admin(sim, "read", { session: "conv1" })).json()).toEqual({ read: ["m1"] });
    expect((await admin(sim, "close", { session: "conv1", reason: "done" })).status).toBe(200);
    const state = (await (await admin(sim, "state")).json()) as { chats: Array<{ state: string }> };
    expect(state.chats[0]!.state).toBe("closed");
    expect(fake.calls("chat/")).toHaveLength(1);
  });

  it("answers 400 for bad input, 404 for an unknown session, 409 when no bridge is set", async () => {
    const sim = await helpline();
    expect((await admin(sim, "reply", { text: "no session" })).status).toBe(400);
    expect((await admin(sim, "reply", { session: "nope", text: "x" })).status).toBe(404);
    await postMsg(sim, await login(sim), message());
    const res = await admin(sim, "reply", { session: "conv1", text: "x" });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: { code: "no_bridge" } });
    expect((await admin(sim, "nothing-here")).status).toBe(404);
  });

  it("expires sessions, changes the queue and the settings", async () => {
    const sim = await helpline();
    await login(sim);
    expect(await (await admin(sim, "expire-sessions", {})).json()).toEqual({ expired: 1 });
    await admin(sim, "queue", { extension: "101", available: false });
    expect(sim.counselors.get("101")!.available).toBe(false);
    await admin(sim, "config", { ignoreFirstOffers: 2, autoCounselor: true });
    expect(sim.config.ignoreFirstOffers).toBe(2);
    expect(sim.config.autoCounselor).toMatchObject({ replyDelayMs: 200 });
    expect((await admin(sim, "config", { ignoreFirstOffers: -1 })).status).toBe(400);
  });
});
