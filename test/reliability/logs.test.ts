import { randomInt, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { clientMessage, counselorReply } from "./support/bridge-client";
import { eventually, type LogLine } from "./support/gateway-process";
import { type System, startSystem } from "./support/system";

/**
 * Leveled logs of the real `openchs-bridge serve` process (PROTOCOL.md "Logs"): at
 * `BRIDGE_LOG_LEVEL=debug`, the most a log says, a whole conversation with every kind of sentinel
 * (message text, a contact address, passwords at refused logins, tokens, upstream errors that echo
 * the refused body back) leaves none of them in stdout or stderr, while the lines are there at their
 * levels. With `BRIDGE_LOG_TEXT=true` the same text does appear: the switch works.
 */
const RUN = randomUUID().slice(0, 8);
const S = {
  chatbotPassword: `SENTINEL-PW-chatbot-${RUN}`,
  helplineConsumerPassword: `SENTINEL-PW-helpline-${RUN}`,
  helplineApiPassword: `SENTINEL-PW-helplineapi-${RUN}`,
  rapidproToken: `SENTINEL-TOKEN-rapidpro-${RUN}`,
  ackToken: `SENTINEL-TOKEN-ack-${RUN}`,
};
const text = (what: string) => `SENTINEL-TEXT-${what}-${RUN}`;
/** A contact address (a WhatsApp URN, as Weni sends it): personal data, like the text. */
const address = () => `whatsapp:2547${String(randomInt(10_000_000, 99_999_999))}`;

/**
 * A pass-through proxy in front of a simulator that, while `echo` is on, refuses the calls `echo`
 * matches with the body it got quoted in its error, as real upstreams do (DRF's `"… is not valid"`,
 * the helpline's `errors[0]`): what the bridge reads of an upstream's error may hold text.
 */
async function echoingProxy(
  target: string,
  refuse: (method: string, path: string) => { status: number; body: (received: string) => unknown } | undefined,
): Promise<{ server: Server; url: string; echo: boolean; refused: number }> {
  const origin = new URL(target).origin;
  const state = { server: undefined as unknown as Server, url: "", echo: false, refused: 0 };
  state.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString();
      const refusal = state.echo ? refuse(req.method ?? "GET", req.url ?? "/") : undefined;
      if (refusal) {
        state.refused++;
        res.writeHead(refusal.status, { "content-type": "application/json" }).end(JSON.stringify(refusal.body(body)));
        return;
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(
          (e): e is [string, string] =>
            typeof e[1] === "string" && !["host", "content-length", "connection"].includes(e[0]),
        ),
      );
      try {
        const answer = await fetch(`${origin}${req.url}`, {
          method: req.method ?? "GET",
          headers,
          ...(req.method === "GET" || req.method === "HEAD" ? {} : { body }),
        });
        const out: Record<string, string> = {};
        answer.headers.forEach((v, k) => {
          if (!["content-length", "content-encoding", "transfer-encoding", "connection"].includes(k)) out[k] = v;
        });
        res.writeHead(answer.status, out).end(Buffer.from(await answer.arrayBuffer()));
      } catch {
        res.writeHead(502).end();
      }
    });
  });
  await new Promise<void>((resolve) => state.server.listen(0, "127.0.0.1", resolve));
  const { port } = state.server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}${new URL(target).pathname}`;
  return state;
}

const servers: Server[] = [];
afterAll(async () => {
  for (const server of servers) await new Promise((r) => server.close(r));
});

interface Run {
  s: System;
  helplineProxy: Awaited<ReturnType<typeof echoingProxy>>;
  rapidproProxy: Awaited<ReturnType<typeof echoingProxy>>;
}

/** The simulators behind echoing proxies, and the real gateway at debug. */
async function start(env: Record<string, string>): Promise<Run> {
  const s = await startSystem({ credentials: S, start: false, rapidpro: { flavour: "weni" } });
  // The helpline refuses a message (422, never retried: a dead letter) quoting it; RapidPro refuses a
  // reply (400) naming the URN it could not use, as its serializer does.
  const helplineProxy = await echoingProxy(s.helpline.url, (method, path) =>
    method === "POST" && path.includes("msg/")
      ? { status: 422, body: (got) => ({ errors: [["error", `refused ${got}`, 1, "chat", null, "message", got]] }) }
      : undefined,
  );
  const rapidproProxy = await echoingProxy(s.rapidpro.url, (method, path) =>
    method === "POST" && (path.includes("broadcasts") || path.includes("messages"))
      ? { status: 400, body: (got) => ({ urns: [`Invalid URN: ${got}`] }) }
      : undefined,
  );
  servers.push(helplineProxy.server, rapidproProxy.server);
  Object.assign(s.env, {
    HELPLINE_URL: helplineProxy.url,
    RAPIDPRO_URL: rapidproProxy.url,
    BRIDGE_LOG_LEVEL: "debug",
    BRIDGE_RETRY_SCHEDULE_S: "1",
    BRIDGE_RETRY_HORIZON_S: "2",
    ...env,
  });
  await s.gateway.start();
  s.helpline.connectBridge({ url: s.gateway.url, username: "helpline", password: S.helplineConsumerPassword });
  s.rapidpro.connectBridge({ url: s.gateway.url, username: "chatbot", password: S.chatbotPassword });
  return { s, helplineProxy, rapidproProxy };
}

/** Refused logins and credentials, a delivered exchange, and a dead letter each way. */
async function story({ s, helplineProxy, rapidproProxy }: Run): Promise<{ contact: string; tokens: string[] }> {
  const json = { "content-type": "application/json" };
  const raw = (path: string, body: unknown, headers: Record<string, string> = json) =>
    s.chatbot.raw("POST", path, { body: JSON.stringify(body), headers });
  await raw("token/", { username: "chatbot", password: `${S.chatbotPassword}-wrong` });
  await raw("token/", { username: S.helplineConsumerPassword, password: S.helplineConsumerPassword });
  await s.chatbot.raw("GET", "chat/", { headers: { authorization: `Token SENTINEL-TOKEN-bogus-${RUN}` } });

  const session = `logs_${RUN}`;
  const contact = address();
  expect((await s.chatbot.call("POST", "chat/", clientMessage(session, contact, "m1", text("child")))).status).toBe(
    201,
  );
  await eventually("read", () => s.helpline.state.messages(session)[0]?.readAt !== undefined, 15_000);
  expect(
    (await s.counselor.call("POST", "chat/", counselorReply(session, contact, "r1", text("counselor")))).status,
  ).toBe(201);
  // Sent to a URN, the reply lands on a contact the simulator makes for it: the debug line says so.
  const sent = (id: string) =>
    s.gateway.events("message.sent").some((l) => (l.payload as { messageId: string }).messageId === id);
  await eventually("reply at RapidPro", () => sent("r1"), 15_000);

  // Dead letters whose upstream errors quote the text and the address.
  helplineProxy.echo = true;
  rapidproProxy.echo = true;
  await s.chatbot.call("POST", "chat/", clientMessage(session, contact, "m2", text("refused-by-helpline")));
  await s.counselor.call("POST", "chat/", counselorReply(session, contact, "r2", text("refused-by-rapidpro")));
  await eventually("two dead letters", () => s.gateway.events("delivery.dead_letter").length >= 2, 20_000);
  helplineProxy.echo = false;
  rapidproProxy.echo = false;
  expect(helplineProxy.refused).toBeGreaterThan(0);
  expect(rapidproProxy.refused).toBeGreaterThan(0);
  return { contact, tokens: [s.chatbot.token!, s.counselor.token!] };
}

const levelsOf = (lines: LogLine[]) => new Set(lines.map((l) => l.level));

describe("leveled logs of serve", () => {
  it("at debug, no text, token, password or address reaches stdout or stderr; lines carry their levels", async () => {
    const run = await start({});
    try {
      const { contact, tokens } = await story(run);
      expect(await run.s.gateway.stop()).toBe(0);
      const { stdout, stderr } = run.s.gateway;
      const lines = run.s.gateway.lines();
      // Every stdout line is one JSON object with a level name, a time and a message.
      expect(stdout.trim().split("\n").length).toBe(lines.length);
      for (const l of lines) {
        expect(["debug", "info", "warn", "error"]).toContain(l.level);
        expect(typeof l.time === "string" && typeof l.msg === "string").toBe(true);
      }
      expect(levelsOf(lines)).toEqual(new Set(["debug", "info", "warn", "error"]));
      const level = (event: string) => new Set(run.s.gateway.events(event).map((l) => l.level));
      expect(level("auth.failure")).toEqual(new Set(["warn"]));
      expect(level("delivery.retry").size === 0 || level("delivery.retry").has("warn")).toBe(true);
      expect(level("delivery.dead_letter")).toEqual(new Set(["error"]));
      expect(level("message.accepted")).toEqual(new Set(["debug"]));
      // The dead letters are logged with what an operator needs: the code and status, not the body.
      expect(run.s.gateway.events("delivery.dead_letter").map((l) => (l.payload as { error: unknown }).error)).toEqual(
        expect.arrayContaining([
          { code: "validation", status: 422 },
          { code: "validation", status: 400 },
        ]),
      );
      const needles = ["SENTINEL", contact, contact.slice("whatsapp:".length), ...Object.values(S), ...tokens];
      const leaks = needles.filter((n) => stdout.includes(n) || stderr.includes(n));
      expect(leaks).toEqual([]);
      expect(lines.some((l) => "remote" in l || JSON.stringify(l).includes('"address"'))).toBe(false);
    } finally {
      await run.s.close();
    }
  }, 120_000);

  it("with BRIDGE_LOG_TEXT=true the text, the address and the upstream's message do appear, secrets still not", async () => {
    const run = await start({ BRIDGE_LOG_TEXT: "true" });
    try {
      const { contact, tokens } = await story(run);
      expect(await run.s.gateway.stop()).toBe(0);
      const { stdout, stderr } = run.s.gateway;
      const accepted = run.s.gateway.events("message.accepted").map((l) => (l.payload as { text?: string }).text);
      expect(accepted).toContain(text("child"));
      expect(stdout).toContain(text("refused-by-helpline"));
      expect(stdout).toContain(contact);
      expect(run.s.gateway.lines().some((l) => typeof l.remote === "string")).toBe(true);
      const secrets = [...Object.values(S), ...tokens].filter((n) => stdout.includes(n) || stderr.includes(n));
      expect(secrets).toEqual([]);
    } finally {
      await run.s.close();
    }
  }, 120_000);
});
