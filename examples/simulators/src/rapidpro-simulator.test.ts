import { createRapidProClient } from "@openchs-bridge/rapidpro-adapter";
import { afterEach, describe, expect, it } from "vitest";
import {
  DEFAULT_CLOSE_FLOW,
  type RapidProFlavour,
  type RapidProSimulator,
  type RapidProSimulatorOptions,
  startRapidProSimulator,
} from "./rapidpro-simulator";
import { type FakeBridge, startFakeBridge } from "./test-support/fake-bridge";

const TOKEN = "test-rapidpro-token";
const CHATBOT = { username: "chatbot", password: "chatbot-secret-pass" };
const CONTACT = "0d7a3c2e-5b1f-4c8e-9a6d-2f4b8c1e7a90";

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function rapidpro(options: RapidProSimulatorOptions = {}): Promise<RapidProSimulator> {
  const sim = await startRapidProSimulator({ token: TOKEN, ...options });
  cleanup.push(() => sim.close());
  return sim;
}

async function bridge(): Promise<FakeBridge> {
  const fake = await startFakeBridge({ [CHATBOT.username]: CHATBOT.password });
  cleanup.push(() => fake.close());
  return fake;
}

function api(sim: RapidProSimulator, name: string, body?: unknown, token = TOKEN): Promise<Response> {
  return fetch(`${sim.url}${name}.json`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Token ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

describe("rapidpro simulator: API v2 per flavour", () => {
  it.each<[RapidProFlavour]>([["v7"], ["weni"], ["nyaruka"]])(
    "%s: the adapter's client detects the flavour from v2.json and sends a text the flavour's way",
    async (flavour) => {
      const sim = await rapidpro({ flavour });
      const client = createRapidProClient({ baseUrl: sim.url, token: TOKEN, retry: false });
      expect(await client.flavour()).toBe(flavour);
      const sent = await client.sendText(CONTACT, "Amina: I am here for you");
      expect(sent.via).toBe(flavour === "nyaruka" ? "messages" : "broadcasts");
      expect(sim.state.texts(CONTACT)).toEqual(["Amina: I am here for you"]);
      expect(sim.state.deliveries(CONTACT)[0]).toMatchObject({ kind: "text", via: sent.via });
    },
  );

  it.each<[RapidProFlavour]>([["weni"], ["nyaruka"]])(
    "%s: a text and a flow start addressed by URN reach the contact holding it, or a new one",
    async (flavour) => {
      const sim = await rapidpro({ flavour, autoCreateContacts: false });
      const client = createRapidProClient({ baseUrl: sim.url, token: TOKEN, retry: false });
      const created = await api(sim, "contacts", { name: "Zawadi", urns: ["whatsapp:254700111222"] });
      const zawadi = ((await created.json()) as { uuid: string }).uuid;
      expect((await client.sendText("whatsapp:254700111222", "Amina: hello")).via).toBe("broadcasts");
      await client.flowStarts.create({ flow: DEFAULT_CLOSE_FLOW.uuid, urns: ["whatsapp:254700111222"] });
      expect(sim.state.deliveries(zawadi).map((d) => d.kind)).toEqual(["text", "flow_start"]);
      expect(sim.state.texts(zawadi)).toEqual(["Amina: hello"]);
      await client.sendText("+254 700 999 888", "Amina: are you safe?");
      const fresh = [...sim.state.contacts.values()].find((c) => c.urns.includes("tel:+254700999888"));
      expect(fresh && sim.state.texts(fresh.uuid)).toEqual(["Amina: are you safe?"]);
      const local = await api(sim, "broadcasts", { urns: ["tel:0700999888"], text: "hi" });
      expect([local.status, await local.json()]).toEqual([
        400,
        { urns: { "0": ["Invalid URN. Ensure phone numbers contain country codes."] } },
      ]);
    },
  );

  it("answers messages.json POST with 405 on v7 and Weni, and records it on nyaruka", async () => {
    for (const flavour of ["v7", "weni"] as const) {
      const sim = await rapidpro({ flavour });
      const res = await api(sim, "messages", { contact: CONTACT, text: "hi" });
      expect(res.status).toBe(405);
      expect(await res.json()).toEqual({ detail: 'Method "POST" not allowed.' });
      expect(sim.state.messages).toHaveLength(0);
    }
    const sim = await rapidpro({ flavour: "nyaruka" });
    const res = await api(sim, "messages", {
      contact: CONTACT,
      text: "hi",
      attachments: ["image/jpeg:https://x/a.jpg"],
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      contact: { uuid: CONTACT },
      direction: "out",
      attachments: [{ content_type: "image/jpeg", url: "https://x/a.jpg" }],
    });
    expect(sim.state.messages).toHaveLength(1);
  });

  it("records a broadcast per contact and refuses texts over 640 characters on v7", async () => {
    const sim = await rapidpro({ flavour: "v7" });
    const other = "6b3f1a2c-0000-4000-8000-000000000002";
    const res = await api(sim, "broadcasts", { contacts: [CONTACT, other], text: "hello", ticket: "t-1" });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ text: "hello", contacts: [{ uuid: CONTACT }, { uuid: other }] });
    expect(sim.state.texts(CONTACT)).toEqual(["hello"]);
    expect(sim.state.texts(other)).toEqual(["hello"]);
    expect(sim.state.broadcasts[0]).toMatchObject({ ticket: "t-1" });

    const long = await api(sim, "broadcasts", { contacts: [CONTACT], text: "x".repeat(641) });
    expect(long.status).toBe(400);
    expect(await long.json()).toEqual({ text: ["Ensure this field has no more than 640 characters."] });
    const nobody = await api(sim, "broadcasts", { text: "to nobody" });
    expect(nobody.status).toBe(400);
    expect(sim.state.broadcasts).toHaveLength(1);
  });

  it("takes a translations object on nyaruka and answers with it", async () => {
    const sim = await rapidpro({ flavour: "nyaruka" });
    const res = await api(sim, "broadcasts", { contacts: [CONTACT], text: { eng: "hello", swa: "habari" } });
    expect(await res.json()).toMatchObject({ text: { eng: "hello", swa: "habari" }, status: "queued" });
    expect(sim.state.texts(CONTACT)).toEqual(["hello"]);
  });

  it("refuses unknown contacts when autoCreateContacts is off", async () => {
    const sim = await rapidpro({ autoCreateContacts: false });
    const res = await api(sim, "broadcasts", { contacts: [CONTACT], text: "hello" });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ contacts: [`No such object: ${CONTACT}`] });
  });

  it("validates flow starts and answers 201 pending with params (and extra on v7/Weni)", async () => {
    const sim = await rapidpro({ flavour: "weni" });
    const params = { conversation_id: "s1", closed_by: "helpline", reason: "resolved" };
    const missing = await api(sim, "flow_starts", { contacts: [CONTACT] });
    expect(await missing.json()).toEqual({ flow: ["This field is required."] });
    const unknown = await api(sim, "flow_starts", { flow: "0000", contacts: [CONTACT] });
    expect(await unknown.json()).toEqual({ flow: ["No such object: 0000"] });
    const noTargets = await api(sim, "flow_starts", { flow: DEFAULT_CLOSE_FLOW.uuid });
    expect(noTargets.status).toBe(400);
    const tooMany = await api(sim, "flow_starts", {
      flow: DEFAULT_CLOSE_FLOW.uuid,
      urns: Array.from({ length: 101 }, (_, i) => `tel:+2547${i}`),
    });
    expect(await tooMany.json()).toEqual({ urns: ["Ensure this field has no more than 100 elements."] });
    expect(sim.state.flowStarts).toHaveLength(0);

    const ok = await api(sim, "flow_starts", { flow: DEFAULT_CLOSE_FLOW.uuid, contacts: [CONTACT], params });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toMatchObject({ status: "pending", params, extra: params, flow: DEFAULT_CLOSE_FLOW });
    expect(sim.state.deliveries(CONTACT)).toEqual([
      expect.objectContaining({ kind: "flow_start", flow: DEFAULT_CLOSE_FLOW.uuid, params }),
    ]);
  });

  it("serves the adapter client's flow start, contact lookup and upsert", async () => {
    const sim = await rapidpro({ flavour: "nyaruka" });
    const client = createRapidProClient({ baseUrl: sim.url, token: TOKEN, retry: false });
    const start = await client.flowStarts.create({ flow: sim.closeFlow, contacts: [CONTACT], params: { a: 1 } });
    expect(start).toMatchObject({ status: "pending", params: { a: 1 } });
    expect(await client.contacts.get({ uuid: CONTACT })).toMatchObject({ uuid: CONTACT, status: "active" });
    expect(await client.contacts.get({ uuid: "6b3f1a2c-0000-4000-8000-00000000ffff" })).toBeUndefined();
    const created = await client.contacts.upsert({ urn: "tel:+254700111222" }, { name: "Zawadi" });
    expect(created).toMatchObject({ name: "Zawadi", urns: ["tel:+254700111222"] });
    expect(sim.state.contacts.get(created.uuid)?.name).toBe("Zawadi");
  });

  it("checks the token: 403 without one or with a wrong one (the nyaruka root is public)", async () => {
    const sim = await rapidpro({ flavour: "nyaruka" });
    expect((await fetch(`${sim.url}broadcasts.json`)).status).toBe(403);
    const wrong = await api(sim, "broadcasts", { contacts: [CONTACT], text: "x" }, "wrong");
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toEqual({ detail: "Invalid token" });
    expect(sim.state.broadcasts).toHaveLength(0);
    expect((await fetch(`${sim.origin}/api/v2.json`)).status).toBe(200);
    const weni = await rapidpro({ flavour: "weni" });
    expect((await fetch(`${weni.origin}/api/v2.json`)).status).toBe(403);
  });

  it("answers 429 with Retry-After over the rate limit, and serves again in the next window", async () => {
    let now = 1_000_000;
    const sim = await rapidpro({ rateLimit: { limit: 2, windowMs: 60_000 }, now: () => now });
    expect((await api(sim, "contacts")).status).toBe(200);
    expect((await api(sim, "contacts")).status).toBe(200);
    now += 15_000;
    const limited = await api(sim, "broadcasts", { contacts: [CONTACT], text: "x" });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("45");
    expect(sim.state.broadcasts).toHaveLength(0);
    now += 45_000;
    expect((await api(sim, "broadcasts", { contacts: [CONTACT], text: "x" })).status).toBe(201);
  });
});

describe("rapidpro simulator: the flow and the bridge", () => {
  it("escalates: logs in at token/, posts chat/ with an Idempotency-Key, then follow-ups and a close", async () => {
    const fake = await bridge();
    const sim = await rapidpro({ bridge: { url: fake.url, ...CHATBOT } });
    const escalated = await sim.escalate({ contact: CONTACT, name: "Child A", text: "I need help", risk: "high" });
    expect(escalated.session).toMatch(/^[A-Za-z0-9_]+$/);
    expect(escalated.result).toMatchObject({ status: "accepted", duplicate: false });
    const [first] = fake.calls("chat/");
    expect(first!.body).toEqual({
      chat_session: escalated.session,
      chat_message: "I need help",
      chat_sender: CONTACT,
      chat_source: "WENI",
      chat_channel: "WENI",
      message_id: escalated.messageId,
      sender_name: "Child A",
      risk: "high",
    });
    expect(first!.headers["idempotency-key"]).toBe(escalated.messageId);
    expect(first!.headers.authorization).toMatch(/^Token tok-1-/);

    await sim.childSays(escalated.session, "are you there?");
    // A mailroom retry: the same message_id again is a duplicate at the bridge.
    const again = await sim.childSays(escalated.session, "are you there?", { messageId: escalated.messageId });
    expect(again.result.duplicate).toBe(true);
    await sim.childLeaves(escalated.session, "left");
    const [close] = fake.calls("/close/");
    expect(close!.path).toBe(`/api/chat/${escalated.session}/close/`);
    expect(close!.body).toEqual({ chat_source: "WENI", reason: "left" });
    expect(sim.state.sessions.get(escalated.session)).toMatchObject({ state: "left", contact: CONTACT });
    expect(fake.logins).toBe(1);
  });

  it("logs in again on a 401 and does not leak the password or text into events", async () => {
    const fake = await bridge();
    const sim = await rapidpro({ bridge: { url: fake.url, ...CHATBOT } });
    const seen: string[] = [];
    sim.onAny((type, payload) => seen.push(JSON.stringify({ type, payload })));
    const { session } = await sim.escalate({ text: "secret words" });
    fake.revokeAll();
    await sim.childSays(session, "more secret words");
    expect(fake.logins).toBe(2);
    expect(sim.state.sessions.get(session)!.sent).toHaveLength(2);
    expect(seen.join("\n")).not.toContain("secret words");
    expect(seen.join("\n")).not.toContain(CHATBOT.password);
  });

  it("reports a failed escalation as a rejection and a bridge.error event", async () => {
    const fake = await bridge();
    const sim = await rapidpro({ bridge: { url: fake.url, ...CHATBOT } });
    fake.script((r) => r.path === "/api/chat/", {
      status: 400,
      body: { error: { code: "invalid_field", field: "x" } },
    });
    const reported = sim.waitFor("bridge.error");
    await expect(sim.escalate({ text: "help" })).rejects.toMatchObject({ status: 400 });
    expect(await reported).toMatchObject({ action: "escalate", error: { status: 400 } });
  });

  it("records acks at /acks (with the ack token), per contact of the conversation", async () => {
    const fake = await bridge();
    const sim = await rapidpro({ ackToken: "ack-token-123", bridge: { url: fake.url, ...CHATBOT } });
    const { session, messageId } = await sim.escalate({ contact: CONTACT, text: "help" });
    const ack = { conversation_id: session, message_id: messageId, status: "read", timestamp: "2025-01-01T00:00:00Z" };
    const post = (authorization?: string) =>
      fetch(sim.ackUrl, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        body: JSON.stringify(ack),
      });
    expect((await post()).status).toBe(401);
    expect((await post("Token ack-token-123")).status).toBe(200);
    expect((await post("Bearer ack-token-123")).status).toBe(200);
    expect(sim.state.acks).toHaveLength(2);
    expect(sim.state.deliveries(CONTACT)).toEqual([
      expect.objectContaining({ kind: "ack", conversationId: session, messageId, status: "read" }),
      expect.objectContaining({ kind: "ack", status: "read" }),
    ]);
    const bad = await fetch(sim.ackUrl, {
      method: "POST",
      headers: { authorization: "Token ack-token-123" },
      body: JSON.stringify({ status: "read" }),
    });
    expect(bad.status).toBe(400);
  });

  it("hands the child back to the bot when the close flow starts for it", async () => {
    const fake = await bridge();
    const sim = await rapidpro({ bridge: { url: fake.url, ...CHATBOT } });
    const { session } = await sim.escalate({ contact: CONTACT, text: "help" });
    const handedBack = sim.waitFor("child.handed_back");
    // The helpline-unavailable notice starts a flow for the child too, but does not hand it back.
    await api(sim, "flow_starts", {
      flow: sim.closeFlow,
      contacts: [CONTACT],
      params: { conversation_id: session, reason: "helpline_unavailable" },
    });
    expect(sim.state.sessions.get(session)!.state).toBe("open");
    await api(sim, "flow_starts", {
      flow: sim.closeFlow,
      contacts: [CONTACT],
      params: { conversation_id: session, closed_by: "system", reason: "no_counselor" },
    });
    expect(await handedBack).toMatchObject({ session, contact: CONTACT, params: { reason: "no_counselor" } });
    expect(sim.state.sessions.get(session)!.state).toBe("handed_back");
  });

  it("drives the flow over the admin API", async () => {
    const fake = await bridge();
    const sim = await rapidpro();
    const admin = (path: string, body?: unknown) =>
      fetch(`${sim.origin}/__sim/${path}`, { method: "POST", body: JSON.stringify(body ?? {}) });
    expect((await admin("escalate", { text: "help" })).status).toBe(409); // no bridge yet
    expect((await admin("bridge", { url: fake.url, ...CHATBOT })).status).toBe(200);
    const res = await admin("escalate", { text: "help", contact: CONTACT, session: "s_admin" });
    expect(await res.json()).toMatchObject({ session: "s_admin", contact: CONTACT, result: { status: "accepted" } });
    expect((await admin("say", { session: "s_admin", text: "hello?" })).status).toBe(200);
    expect((await admin("say", { session: "unknown", text: "x" })).status).toBe(404);
    expect((await admin("escalate", { text: "x", session: "has-hyphen" })).status).toBe(400);
    expect((await admin("leave", { session: "s_admin" })).status).toBe(200);
    expect((await admin("rate-limit", { limit: 1, windowMs: 1000 })).status).toBe(200);
    const state = (await (await fetch(`${sim.origin}/__sim/state`)).json()) as {
      rateLimit: unknown;
      sessions: unknown[];
    };
    expect(state).toMatchObject({ rateLimit: { limit: 1, windowMs: 1000 }, sessions: [{ state: "left" }] });
    expect(fake.calls("chat/")).toHaveLength(2);
  });
});
