import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { loadConfig, startGateway } from "@openchs-bridge/cli";
import { type BridgeEventMap, signStandardWebhook } from "@openchs-bridge/core";
import { afterAll, describe, expect, it } from "vitest";
import type { Answer } from "./support/bridge-client";
import { clientMessage, counselorReply } from "./support/bridge-client";
import { eventually, ROOT, SERVE_ARGS, sleep } from "./support/gateway-process";
import { type System, startSystem } from "./support/system";
import { reportFigures } from "./support/truth";
import { newConversation } from "./support/workload";

/**
 * Secrets and privacy: the whole end-to-end story (both styles, faults, retries, dead letters,
 * refusals) with a sentinel for every password, token, secret and message text. Every log line,
 * every bridge event (text off, the default) and every error body is captured; no sentinel may
 * appear there. Allowed: answers that return text on purpose (GET chat/…), the token/ answer, and
 * what reaches the upstreams.
 */
const RUN = randomUUID().slice(0, 8);
/** Every event the bridge emits (a missing one fails the type check). */
const EVERY_EVENT = Object.keys({
  "conversation.requested": true,
  "conversation.hunting": true,
  "conversation.connected": true,
  "conversation.closed": true,
  "conversation.unavailable_notice": true,
  "message.accepted": true,
  "message.duplicate": true,
  "message.sent": true,
  "message.delivered": true,
  "message.read": true,
  "message.failed": true,
  "delivery.retry": true,
  "delivery.sent": true,
  "delivery.dead_letter": true,
  "hunt.timeout": true,
  "retention.purged": true,
  "tokens.purged": true,
  "dead_letter.replayed": true,
  "auth.failure": true,
  "http.request": true,
  error: true,
} satisfies Record<keyof BridgeEventMap, true>) as Array<keyof BridgeEventMap>;
const S = {
  chatbotPassword: `SENTINEL-PW-chatbot-${RUN}`,
  helplineConsumerPassword: `SENTINEL-PW-helpline-${RUN}`,
  signerPassword: `SENTINEL-PW-signer-${RUN}`,
  helplineApiPassword: `SENTINEL-PW-helplineapi-${RUN}`,
  rapidproToken: `SENTINEL-TOKEN-rapidpro-${RUN}`,
  ackToken: `SENTINEL-TOKEN-ack-${RUN}`,
  ticketerToken: `SENTINEL-TOKEN-ticketer-${RUN}`,
  ticketerSecret: `SENTINEL-SECRET-ticketer-${RUN}`,
  signingSecret: `whsec_${Buffer.from(`SENTINEL-SECRET-signing-${RUN}`).toString("base64")}`,
};
/** The sentinels the simulated system is started with. */
const CREDENTIALS = {
  chatbotPassword: S.chatbotPassword,
  helplineConsumerPassword: S.helplineConsumerPassword,
  helplineApiPassword: S.helplineApiPassword,
  rapidproToken: S.rapidproToken,
  ackToken: S.ackToken,
};
const text = (what: string) => `SENTINEL-TEXT-${what}-${RUN}`;

interface Capture {
  /** Where each captured string came from, for the failure message. */
  sources: Array<{ where: string; content: string }>;
  /** Issued bridge tokens: secrets too. */
  tokens: string[];
}

function newCapture(): Capture {
  return { sources: [], tokens: [] };
}

/** Records every answer: errors entirely; successes unless they return text or a token on purpose. */
function sink(capture: Capture) {
  return (request: { method: string; path: string }, answer: Answer) => {
    if (request.path.startsWith("token/") && answer.status === 200) {
      capture.tokens.push(answer.body.token as string);
      return;
    }
    // A read returns the text on purpose, and a close answers its own caller with the reason it sent.
    const readsText =
      answer.status === 200 &&
      ((request.method === "GET" && request.path.startsWith("chat/")) ||
        (request.method === "POST" && /^chat\/[^/]+\/close\/$/.test(request.path)));
    if (readsText) return;
    const headers: string[] = [];
    answer.headers.forEach((v, k) => {
      headers.push(`${k}: ${v}`);
    });
    capture.sources.push({
      where: `${request.method} ${request.path} → ${answer.status}`,
      content: `${headers.join("\n")}\n${answer.text}`,
    });
  };
}

/** A stand-in for mailroom's callback endpoint (style B): what it receives is an upstream delivery. */
async function mailroom(): Promise<{ server: Server; url: string; received: string[] }> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => {
      body += d.toString();
    });
    req.on("end", () => {
      received.push(body);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/mr/event_callback/0f0e0d0c-0000-4000-8000-000000000001`, received };
}

function sentinelEnv(callbackUrl: string): Record<string, string> {
  return {
    BRIDGE_CONSUMERS: JSON.stringify([
      { username: "chatbot", password: S.chatbotPassword, sources: ["WENI"] },
      { username: "helpline", password: S.helplineConsumerPassword, sources: ["OUTBOX", "HELPLINE"] },
      { username: "signer", password: S.signerPassword, sources: ["WENI"], signingSecrets: [S.signingSecret] },
    ]),
    TICKETER_API_TOKEN: S.ticketerToken,
    TICKETER_CALLBACK_URL: callbackUrl,
    TICKETER_WEBHOOK_SECRET: S.ticketerSecret,
    BRIDGE_RETRY_SCHEDULE_S: "1,1",
    HUNT_TIMEOUT_S: "1",
    HUNT_MAX: "1",
  };
}

/** The story, through whatever gateway `system` runs. */
async function story(s: System, capture: Capture, restart: () => Promise<void>): Promise<void> {
  const raw = (method: string, path: string, body: string | undefined, headers: Record<string, string>) =>
    s.chatbot.raw(method, path, { ...(body !== undefined ? { body } : {}), headers });
  const json = { "content-type": "application/json" };

  // Refused logins and tokens.
  await raw("POST", "token/", JSON.stringify({ username: "chatbot", password: `${S.chatbotPassword}-wrong` }), json);
  await raw("POST", "token/", JSON.stringify({ username: "nobody", password: S.helplineConsumerPassword }), json);
  await raw("POST", "token/", `username=chatbot&password=${encodeURIComponent(S.chatbotPassword)}x`, {
    "content-type": "application/x-www-form-urlencoded",
  });
  await raw("GET", "chat/", undefined, { authorization: `Token SENTINEL-TOKEN-bogus-${RUN}` });
  await raw("GET", "chat/", undefined, { authorization: `Bearer ${S.ticketerToken}` });

  // A whole conversation, counselor reads it, replies, the child answers, the helpline closes.
  const a = newConversation("sec", 0);
  expect(
    (await s.chatbot.call("POST", "chat/", clientMessage(a.session, a.contact, "a1", text("child-1")))).status,
  ).toBe(201);
  await eventually("read", () => s.helpline.state.messages(a.session)[0]?.readAt !== undefined, 15_000);
  expect(
    (await s.counselor.call("POST", "chat/", counselorReply(a.session, a.contact, "r1", text("counselor-1")))).status,
  ).toBe(201);
  await eventually("reply at RapidPro", () => s.rapidpro.state.texts(a.contact).length === 1, 15_000);
  // The helpline's session expires: the bridge logs in again with its password.
  s.helpline.expireSessions();
  expect(
    (await s.chatbot.call("POST", "chat/", clientMessage(a.session, a.contact, "a2", text("child-2")))).status,
  ).toBe(201);
  await eventually("second message", () => s.helpline.state.messages(a.session).length === 2, 15_000);
  // Reads that return text on purpose (and show the sentinels are there to be found).
  expect((await s.chatbot.call("GET", `chat/${a.session}/`)).text).toContain(text("child-2"));
  await s.chatbot.call("GET", `chat/?session=${a.session}`);

  // Refusals that carry text and secrets in their requests.
  const auth = { ...json, authorization: `Token ${s.chatbot.token}` };
  const bad = (body: unknown) => raw("POST", "chat/", JSON.stringify(body), auth);
  await bad({ chat_message: text("no-session"), chat_source: "WENI" });
  await bad({ ...clientMessage("bad session!", a.contact, "x", text("bad-session")) });
  await bad({
    ...clientMessage(a.session, a.contact, "x", text("bad-source")),
    chat_source: `SENTINEL-TEXT-src-${RUN}`,
  });
  await bad({
    ...clientMessage(a.session, a.contact, "x", text("bad-attachment")),
    attachments: [{ url: `ftp://${text("url")}`, content_type: "x" }],
  });
  await bad({ ...clientMessage(a.session, a.contact, "x", text("long")), sender_name: text("name").repeat(20) });
  await raw("POST", "chat/", `{"chat_message":"${text("broken-json")}"`, auth);
  await raw("POST", "chat/", JSON.stringify(clientMessage(a.session, a.contact, "x", text("wrong-type"))), {
    ...auth,
    "content-type": "text/plain",
  });
  await raw(
    "POST",
    "chat/",
    JSON.stringify(clientMessage(a.session, a.contact, "x", `${text("huge")}${"z".repeat(1_100_000)}`)),
    auth,
  );
  await raw("POST", "chat/", `{"chat_message":${"[".repeat(100)}"${text("deep")}"${"]".repeat(100)}}`, auth);
  await s.counselor.call("POST", "chat/", counselorReply(a.session, a.contact, "r-bad", text("speaks-for-chatbot")));
  await s.chatbot.call("POST", "chat/", counselorReply(a.session, a.contact, "r-bad", text("chatbot-as-counselor")));
  await s.counselor.call("POST", `chat/${a.session}/ack/`, {
    message_id: text("ack-id"),
    status: "read",
    chat_source: "HELPLINE",
    sender_name: text("ack-name"),
  });
  await s.counselor.call("POST", `chat/${a.session}/close/`, { chat_source: "HELPLINE", reason: text("close-reason") });
  await eventually("flow start", () => s.rapidpro.state.flowStarts.length >= 1, 15_000);
  await s.chatbot.call("POST", "chat/", clientMessage(a.session, a.contact, "a3", text("after-close")));

  // A signed consumer: a good signature, a wrong one, a stale one.
  const signer = await raw("POST", "token/", JSON.stringify({ username: "signer", password: S.signerPassword }), json);
  capture.tokens.push(signer.body.token as string);
  const b = newConversation("sec", 1);
  const signedBody = JSON.stringify(clientMessage(b.session, b.contact, "b1", text("signed")));
  for (const at of [new Date(), new Date(Date.now() - 3_600_000)]) {
    const headers = await signStandardWebhook({
      id: randomUUID(),
      timestamp: at,
      body: signedBody,
      secret: S.signingSecret,
    });
    await raw("POST", "chat/", signedBody, { ...json, ...headers, authorization: `Token ${signer.body.token}` });
  }
  await raw("POST", "chat/", signedBody, {
    ...json,
    "webhook-id": "x",
    "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
    "webhook-signature": `v1,${Buffer.from(text("sig")).toString("base64")}`,
    authorization: `Token ${signer.body.token}`,
  });

  // Upstream faults: retries, then a dead letter whose error is logged.
  s.rapidpro.faults.set({ mode: "429", retryAfterS: 1, count: 2, paths: ["broadcasts.json"] });
  const c = newConversation("sec", 2);
  expect(
    (await s.chatbot.call("POST", "chat/", clientMessage(c.session, c.contact, "c1", text("fault-1")))).status,
  ).toBe(201);
  await eventually("c1", () => s.helpline.state.messages(c.session).length === 1, 15_000);
  await s.counselor.call("POST", "chat/", counselorReply(c.session, c.contact, "cr1", text("rate-limited-reply")));
  await eventually("cr1", () => s.rapidpro.state.texts(c.contact).length === 1, 20_000);
  s.helpline.faults.set({ mode: "5xx", status: 500, paths: ["msg/"] });
  const d = newConversation("sec", 3);
  expect(
    (await s.chatbot.call("POST", "chat/", clientMessage(d.session, d.contact, "d1", text("dead-letter")))).status,
  ).toBe(201);
  await eventually(
    "failed ack",
    () => s.rapidpro.state.acks.some((k) => k.messageId === "d1" && k.status === "failed"),
    20_000,
  );
  s.helpline.faults.set({ mode: "drop-after", count: 1, paths: ["msg/"] });
  await s.chatbot.call("POST", "chat/", clientMessage(d.session, d.contact, "d2", text("drop-after")));
  await eventually("d2", () => s.helpline.state.messages(d.session).length === 1, 20_000);

  // Hunting gives up on a conversation nobody reads (events: hunt.timeout, closes).
  s.helpline.configure({ ignoreFirstOffers: 100 });
  const e = newConversation("sec", 4);
  await s.chatbot.call("POST", "chat/", clientMessage(e.session, e.contact, "e1", text("nobody-reads")));
  await eventually(
    "given up",
    () => s.rapidpro.state.flowStarts.some((f) => f.params.conversation_id === e.session),
    20_000,
  );
  s.helpline.configure({ ignoreFirstOffers: 0 });

  // Style B: mailroom opens a ticket, forwards a message, the counselor answers (signed callback).
  const bearer = { ...json, authorization: `Bearer ${S.ticketerToken}` };
  const ticket = randomUUID();
  const opened = await raw(
    "POST",
    "ticketer/v1/tickets",
    JSON.stringify({
      ticket_id: ticket,
      contact: { uuid: randomUUID(), name: text("contact-name") },
      body: text("ticket-body"),
    }),
    { ...bearer, "idempotency-key": `open-${ticket}` },
  );
  const external = opened.body.external_id as string;
  await raw(
    "POST",
    `ticketer/v1/tickets/${external}/messages`,
    JSON.stringify({ message_id: randomUUID(), text: text("ticket-msg") }),
    bearer,
  );
  await raw(
    "POST",
    `ticketer/v1/tickets/${external}/messages`,
    JSON.stringify({ text: 42, attachments: text("x") }),
    bearer,
  );
  await raw("POST", "ticketer/v1/tickets", JSON.stringify({ ticket_id: ticket }), {
    ...json,
    authorization: `Bearer SENTINEL-TOKEN-wrong-${RUN}`,
  });
  await eventually("ticket at the helpline", () => s.helpline.state.messages(external).length >= 2, 15_000);
  await s.counselor.call("POST", "chat/", counselorReply(external, "", "tr1", text("ticket-reply")));

  // A crash and a restart with everything in flight.
  s.helpline.faults.clear();
  await restart();
  await s.chatbot.call("POST", "chat/", clientMessage(c.session, c.contact, "c2", text("after-restart")));
  await eventually("c2", () => s.helpline.state.messages(c.session).length === 2, 15_000);
  await sleep(500);
}

/** Fails with the places where a sentinel (or an issued token) shows. */
function expectNoSentinel(capture: Capture, extra: Array<{ where: string; content: string }> = []) {
  const needles = ["SENTINEL", ...Object.values(S), ...capture.tokens];
  const leaks: string[] = [];
  for (const { where, content } of [...capture.sources, ...extra]) {
    for (const needle of needles) {
      const at = content.indexOf(needle);
      if (at >= 0) leaks.push(`${where}: …${content.slice(Math.max(0, at - 80), at + 80)}…`);
    }
  }
  expect(leaks).toEqual([]);
}

const servers: Server[] = [];
afterAll(async () => {
  for (const server of servers) await new Promise((r) => server.close(r));
});

describe("secrets and message text never leak", () => {
  it("the gateway process: stdout, stderr and every error answer hold no sentinel", async () => {
    const mr = await mailroom();
    servers.push(mr.server);
    const capture = newCapture();
    const s = await startSystem({
      credentials: CREDENTIALS,
      env: sentinelEnv(mr.url),
      sink: sink(capture),
    });
    try {
      await story(s, capture, async () => {
        await s.gateway.kill("SIGKILL");
        await s.gateway.start();
      });
      expect(await s.gateway.stop()).toBe(0);
      // The story happened: the upstreams got the texts (allowed), the logs got lines (checked).
      expect(s.helpline.state.messages().some((m) => m.text.includes("SENTINEL-TEXT"))).toBe(true);
      expect(mr.received.some((b) => b.includes(text("ticket-reply")))).toBe(true);
      expect(s.gateway.events("delivery.dead_letter").length).toBeGreaterThan(0);
      expect(s.gateway.events("hunt.timeout").length).toBeGreaterThan(0);
      expectNoSentinel(capture, [
        { where: "gateway stdout", content: s.gateway.stdout },
        { where: "gateway stderr", content: s.gateway.stderr },
      ]);
      reportFigures("secrets (process)", {
        answersChecked: capture.sources.length,
        logLines: s.gateway.lines().length,
        tokensIssued: capture.tokens.length,
        leaks: 0,
      });
    } finally {
      await s.close();
    }
  }, 180_000);

  it("in process: every bridge event (text off) and every request log line hold no sentinel", async () => {
    const mr = await mailroom();
    servers.push(mr.server);
    const capture = newCapture();
    const s = await startSystem({
      credentials: CREDENTIALS,
      env: sentinelEnv(mr.url),
      sink: sink(capture),
      start: false,
    });
    const events: Array<{ where: string; content: string }> = [];
    const logs: string[] = [];
    const env = { ...s.env, PORT: "0" };
    const boot = async () =>
      startGateway(loadConfig(env), {
        log: (line) => logs.push(line),
        onComposed({ bridge }) {
          // A listener on every event (the delivery thread sends over the events listened to).
          for (const name of EVERY_EVENT) {
            bridge.events.on(name, (payload: unknown) => {
              events.push({ where: `event ${name}`, content: JSON.stringify(payload) });
            });
          }
        },
      });
    let gateway = await boot();
    let url = gateway.url;
    Object.defineProperty(s.gateway, "url", { get: () => url });
    s.helpline.connectBridge({ url, username: "helpline", password: S.helplineConsumerPassword });
    s.rapidpro.connectBridge({ url, username: "chatbot", password: S.chatbotPassword });
    try {
      await story(s, capture, async () => {
        await gateway.shutdown();
        gateway = await boot();
        url = gateway.url;
        s.helpline.connectBridge({ url, username: "helpline", password: S.helplineConsumerPassword });
        s.rapidpro.connectBridge({ url, username: "chatbot", password: S.chatbotPassword });
      });
      await gateway.shutdown();
      const names = new Set(events.map((e) => e.where));
      for (const name of [
        "message.accepted",
        "message.sent",
        "message.read",
        "message.failed",
        "delivery.retry",
        "delivery.dead_letter",
        "hunt.timeout",
        "auth.failure",
        "conversation.closed",
      ]) {
        expect(names.has(`event ${name}`), name).toBe(true);
      }
      expectNoSentinel(capture, [...events, ...logs.map((l) => ({ where: "request log", content: l }))]);
      reportFigures("secrets (events)", { events: events.length, kinds: names.size, logLines: logs.length, leaks: 0 });
    } finally {
      await gateway.shutdown();
      await s.close();
    }
  }, 180_000);

  it("configuration errors name the variable, never the value", async () => {
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, SERVE_ARGS, {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? "", ...env },
          stdio: "pipe",
        });
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
        });
        child.stderr.on("data", (d: Buffer) => {
          out += d.toString();
        });
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        child.on("exit", (code) => {
          clearTimeout(timer);
          resolve({ code, out });
        });
      });
    const base = {
      BRIDGE_STORE: "memory",
      PORT: "0",
      BRIDGE_CONSUMERS: JSON.stringify([{ username: "a", password: S.chatbotPassword, sources: ["WENI"] }]),
      HELPLINE_URL: "http://127.0.0.1:1/helpline/api/",
      HELPLINE_USERNAME: "bridge",
      HELPLINE_PASSWORD: S.helplineApiPassword,
      RAPIDPRO_URL: "http://127.0.0.1:1/api/v2/",
      RAPIDPRO_TOKEN: S.rapidproToken,
      RAPIDPRO_CLOSE_FLOW: "f",
    };
    const cases: Array<Record<string, string>> = [
      { BRIDGE_CONSUMERS: JSON.stringify([{ username: "a", password: "SNTNL7", sources: ["WENI"] }]) },
      { BRIDGE_CONSUMERS: `[{"username":"a","password":"${S.chatbotPassword}",` },
      { BRIDGE_CONSUMERS: JSON.stringify([{ username: "a", password: S.chatbotPassword, sources: ["SENTINEL-X"] }]) },
      { HELPLINE_URL: `http://bridge:${S.helplineApiPassword}@[::1` },
      { TICKETER_API_TOKEN: "SENTINEL-short" },
      { TICKETER_API_TOKEN: S.ticketerToken, TICKETER_WEBHOOK_SECRET: "SENTINEL-short" },
      { BRIDGE_RETENTION_DAYS: "SENTINEL" },
    ];
    for (const change of cases) {
      const result = await run({ ...base, ...change });
      expect(result.code).toBe(1);
      expect(result.out).toMatch(/^openchs-bridge: [A-Z_]+/);
      for (const needle of ["SENTINEL", "SNTNL7", ...Object.values(S)]) expect(result.out).not.toContain(needle);
    }
  }, 60_000);
});
