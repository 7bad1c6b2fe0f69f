import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type ChatbotTarget,
  createBridge,
  type HelplineTarget,
  sha256HexSync,
  signStandardWebhook,
} from "@openchs-bridge/core";
import { createSqliteStore } from "@openchs-bridge/core/sqlite";
import { createTicketerHandler } from "@openchs-bridge/rapidpro-adapter";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import * as timing from "../../packages/core/src/signing/timing-safe-equal";
import { clientMessage } from "./support/bridge-client";
import { eventually, ROOT, sleep } from "./support/gateway-process";
import { type System, startSystem } from "./support/system";
import { reportFigures } from "./support/truth";
import { newConversation } from "./support/workload";

// Every secret comparison of the code goes through these two functions: wrap them to see the calls.
vi.mock("../../packages/core/src/signing/timing-safe-equal", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../packages/core/src/signing/timing-safe-equal")>();
  return {
    timingSafeEqual: vi.fn(original.timingSafeEqual),
    timingSafeEqualStrings: vi.fn(original.timingSafeEqualStrings),
  };
});

/**
 * Auth against the real gateway process where the surface is HTTP (expiry, signatures, sides,
 * brute force), and in process where it is not (revocation is an API call; which comparison
 * function runs is seen by wrapping it).
 */
let system: System | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

const OLD_SECRET = `whsec_${Buffer.from("reliability-old-signing-key-0001").toString("base64")}`;
const NEW_SECRET = `whsec_${Buffer.from("reliability-new-signing-key-0002").toString("base64")}`;

function consumersWith(signingSecrets: string[]) {
  return JSON.stringify([
    { username: "chatbot", password: "reliability-chatbot-pass", sources: ["WENI"] },
    { username: "helpline", password: "reliability-helpline-pass", sources: ["OUTBOX", "HELPLINE"] },
    { username: "signer", password: "reliability-signer-pass", sources: ["WENI"], signingSecrets },
  ]);
}

describe("tokens", () => {
  it("expire after BRIDGE_TOKEN_TTL: 401 token_expired, then a new login works", async () => {
    system = await startSystem({ env: { BRIDGE_TOKEN_TTL: "2" } });
    const s = system;
    const token = await s.chatbot.login();
    const headers = { authorization: `Token ${token}` };
    expect((await s.chatbot.raw("GET", "chat/", { headers })).status).toBe(200);
    await sleep(2200);
    const expired = await s.chatbot.raw("GET", "chat/", { headers });
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe("token_expired");
    expect(expired.headers.get("www-authenticate")).toMatch(/^Token/);
    // Also through the signed-in path used for writes, and for the other routes.
    const write = await s.chatbot.raw("POST", "chat/", {
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(clientMessage("exp_1", "c", "m1", "hello")),
    });
    expect(write.status).toBe(401);
    const fresh = await s.chatbot.login();
    expect(fresh).not.toBe(token);
    expect((await s.chatbot.raw("GET", "chat/", { headers: { authorization: `Token ${fresh}` } })).status).toBe(200);
  });

  it("revocation takes effect at once, for one token or a whole consumer, and survives a restart", async () => {
    const dir = (await startSystem({ start: false })).dir;
    const file = join(dir, "revoke.db");
    const noop = async () => {};
    const target: HelplineTarget & ChatbotTarget = { deliverMessage: noop, notifyClose: noop };
    const make = () =>
      createBridge({
        store: createSqliteStore(file),
        helplines: target,
        chatbot: target,
        consumers: [{ username: "chatbot", password: "reliability-chatbot-pass", sources: ["WENI"] }],
      });
    const call = (b: ReturnType<typeof make>, token: string) =>
      b.handler(new Request("http://bridge.test/api/chat/", { headers: { authorization: `Token ${token}` } }));
    const first = make();
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => first.tokens.issue("chatbot")));
    expect((await call(first, a!.token)).status).toBe(200); // verified, and remembered for a few seconds
    expect(await first.tokens.revoke(a!.token)).toBe(true);
    const revoked = await call(first, a!.token);
    expect(revoked.status).toBe(401);
    expect(((await revoked.json()) as { error: { code: string } }).error.code).toBe("token_revoked");
    expect((await call(first, b!.token)).status).toBe(200);
    expect(await first.tokens.revokeConsumer("chatbot")).toBe(2);
    expect((await call(first, b!.token)).status).toBe(401);
    expect((await call(first, c!.token)).status).toBe(401);
    await first.options.store.close();
    // A new process on the same file: still revoked.
    const second = make();
    expect((await call(second, a!.token)).status).toBe(401);
    expect((await call(second, c!.token)).status).toBe(401);
    const d = await second.tokens.issue("chatbot");
    expect((await call(second, d.token)).status).toBe(200);
    await second.options.store.close();
  });
});

describe("API keys", () => {
  const KEY = "obk_cmVsaWFiaWxpdHktYXBpLWtleS1mb3ItdGVzdHMtMDE";
  const consumersWithKey = (apiKeys: string[]) =>
    JSON.stringify([
      { username: "chatbot", password: "reliability-chatbot-pass", sources: ["WENI"], api_keys: apiKeys },
      { username: "helpline", password: "reliability-helpline-pass", sources: ["OUTBOX", "HELPLINE"] },
    ]);

  it("a flow's key works on every call, outlives any token, and is revoked by removing its hash", async () => {
    system = await startSystem({
      env: { BRIDGE_TOKEN_TTL: "1", BRIDGE_CONSUMERS: consumersWithKey([`sha256:${sha256HexSync(KEY)}`]) },
    });
    const s = system;
    const { session, contact } = newConversation("key", 0);
    const send = (id: string, scheme = "Token") =>
      s.chatbot.raw("POST", "chat/", {
        body: JSON.stringify(clientMessage(session, contact, id, `with a key ${id}`)),
        headers: { authorization: `${scheme} ${KEY}`, "content-type": "application/json" },
      });
    expect((await send("k1")).status).toBe(201);
    await sleep(1500); // longer than a token lives
    expect((await send("k2", "Bearer")).status).toBe(201);
    await eventually("delivered", () => s.helpline.state.messages(session).length === 2);
    // Revoked: the hash removed from the configuration, then a restart.
    await s.gateway.stop();
    s.env.BRIDGE_CONSUMERS = consumersWithKey([]);
    await s.gateway.start();
    const revoked = await send("k3");
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.code).toBe("unauthorized");
    expect(s.gateway.stdout).not.toContain(KEY);
  });
});

describe("signed requests (Standard Webhooks)", () => {
  async function signed(s: System, secret: string, body: string, at: Date, id: string = crypto.randomUUID()) {
    const token = await loginAs(s, "signer", "reliability-signer-pass");
    const headers = await signStandardWebhook({ id, timestamp: at, body, secret });
    return s.chatbot.raw("POST", "chat/", {
      body,
      headers: { ...headers, authorization: `Token ${token}`, "content-type": "application/json" },
    });
  }

  it("refuses replays outside ±300 s, tampered bodies and rotated-out keys; accepts both keys during a rotation", async () => {
    system = await startSystem({ env: { BRIDGE_CONSUMERS: consumersWith([OLD_SECRET]) } });
    const s = system;
    const { session, contact } = newConversation("sig", 0);
    const body = JSON.stringify(clientMessage(session, contact, "sig-1", "signed hello"));
    const now = new Date();
    expect((await signed(s, OLD_SECRET, body, now, "wh-1")).status).toBe(201);
    // The same signed request again inside the window: the message_id makes it a duplicate, delivered once.
    const again = await signed(s, OLD_SECRET, body, now, "wh-1");
    expect(again.status).toBe(200);
    expect(again.body.duplicate).toBe(true);
    // Replayed later: its timestamp is outside the window, both ways. The skew is taken from the clock at
    // each call, with a few seconds of margin, so a slow machine cannot move it back inside the window.
    for (const skew of [-305, 305, -3600]) {
      const late = await signed(s, OLD_SECRET, body, new Date(Date.now() + skew * 1000));
      expect(late.status).toBe(401);
      expect(late.body.error).toMatchObject({ code: "invalid_signature", field: "webhook-timestamp" });
    }
    // A body changed after signing, a signature of another key, no signature at all.
    const tamperedHeaders = await signStandardWebhook({ id: "wh-2", timestamp: now, body, secret: OLD_SECRET });
    const token = await loginAs(s, "signer", "reliability-signer-pass");
    const tampered = await s.chatbot.raw("POST", "chat/", {
      body: body.replace("signed hello", "signed HELLO"),
      headers: { ...tamperedHeaders, authorization: `Token ${token}`, "content-type": "application/json" },
    });
    expect(tampered.status).toBe(401);
    expect((await signed(s, NEW_SECRET, body, now)).status).toBe(401);
    const unsigned = await s.chatbot.raw("POST", "chat/", {
      body,
      headers: { authorization: `Token ${token}`, "content-type": "application/json" },
    });
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.error.code).toBe("invalid_signature");

    // Rotation: both keys valid…
    await s.gateway.stop();
    s.env.BRIDGE_CONSUMERS = consumersWith([NEW_SECRET, OLD_SECRET]);
    await s.gateway.start();
    const rotate = (id: string) => JSON.stringify(clientMessage(session, contact, id, `during rotation ${id}`));
    expect((await signed(s, OLD_SECRET, rotate("sig-2"), new Date())).status).toBe(201);
    expect((await signed(s, NEW_SECRET, rotate("sig-3"), new Date())).status).toBe(201);
    // …then the old one rotated out.
    await s.gateway.stop();
    s.env.BRIDGE_CONSUMERS = consumersWith([NEW_SECRET]);
    await s.gateway.start();
    const rotatedOut = await signed(s, OLD_SECRET, rotate("sig-4"), new Date());
    expect(rotatedOut.status).toBe(401);
    expect(rotatedOut.body.error.code).toBe("invalid_signature");
    expect((await signed(s, NEW_SECRET, rotate("sig-5"), new Date())).status).toBe(201);
    // Exactly the accepted ones reached the helpline, once each.
    await eventually("delivered", () => s.helpline.state.messages(session).length === 4);
    expect(s.helpline.state.messages(session).map((m) => m.messageId)).toEqual(["sig-1", "sig-2", "sig-3", "sig-5"]);
  });
});

async function loginAs(s: System, username: string, password: string): Promise<string> {
  const answer = await s.chatbot.raw("POST", "token/", {
    body: JSON.stringify({ username, password }),
    headers: { "content-type": "application/json" },
  });
  if (answer.status !== 200) throw new Error(`login ${username}: ${answer.status}`);
  return answer.body.token as string;
}

describe("sides: a consumer speaks only for its own", () => {
  it("refuses the chatbot speaking for the helpline and the other way round (403), on every route", async () => {
    system = await startSystem();
    const s = system;
    const { session, contact } = newConversation("side", 0);
    expect((await s.chatbot.call("POST", "chat/", clientMessage(session, contact, "c1", "hi"))).status).toBe(201);
    await eventually("delivered", () => s.helpline.state.messages(session).length === 1);
    const reply = { chat_session: session, chat_message: "x", chat_source: "OUTBOX", message_id: "r1" };
    const cases: Array<[string, () => Promise<{ status: number; body: { error?: { code: string } } }>]> = [
      ["chatbot posts a counselor reply", () => s.chatbot.call("POST", "chat/", reply)],
      [
        "helpline posts a client message",
        () => s.counselor.call("POST", "chat/", clientMessage(session, contact, "c2", "x")),
      ],
      [
        "chatbot closes as the helpline",
        () => s.chatbot.call("POST", `chat/${session}/close/`, { chat_source: "HELPLINE" }),
      ],
      [
        "helpline closes as the chatbot",
        () => s.counselor.call("POST", `chat/${session}/close/`, { chat_source: "WENI" }),
      ],
      [
        "chatbot acks as the helpline (read)",
        () =>
          s.chatbot.call("POST", `chat/${session}/ack/`, { message_id: "c1", status: "read", chat_source: "HELPLINE" }),
      ],
      [
        "helpline acks as the chatbot",
        () =>
          s.counselor.call("POST", `chat/${session}/ack/`, {
            message_id: "c1",
            status: "delivered",
            chat_source: "WENI",
          }),
      ],
    ];
    for (const [name, send] of cases) {
      const answer = await send();
      expect({ name, status: answer.status, code: answer.body.error?.code }).toEqual({
        name,
        status: 403,
        code: "forbidden_source",
      });
    }
    // Nothing of it took effect.
    const view = await s.counselor.call("GET", `chat/${session}/`);
    expect(view.body.state).not.toBe("closed");
    expect(view.body.messages.map((m: { message_id: string }) => m.message_id)).toEqual(["c1"]);
    // A consumer token is no ticketer token, and the ticketer's is no consumer token.
    const ticketerWithConsumer = await s.chatbot.raw("POST", "ticketer/v1/tickets", {
      body: "{}",
      headers: { authorization: `Bearer ${s.chatbot.token}`, "content-type": "application/json" },
    });
    expect([401, 404]).toContain(ticketerWithConsumer.status);
  });
});

describe("brute force", () => {
  /** A login through the real gateway, optionally as if through a proxy (`X-Forwarded-For`). */
  const attempt = (s: System, username: string, password: string, forwardedFor?: string) =>
    s.chatbot.raw("POST", "token/", {
      body: JSON.stringify({ username, password }),
      headers: {
        "content-type": "application/json",
        ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}),
      },
    });
  const authFailures = (s: System) => s.gateway.lines().filter((l) => l.event === "auth.failure");

  it("rate-limits a consumer's failed logins per address (429, Retry-After) without locking the helpline out", async () => {
    system = await startSystem({ env: { BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS: "20" } });
    const s = system;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await attempt(s, "chatbot", `guess-${i}-xxxxxxxx`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    const limited = await attempt(s, "chatbot", "guess-5-xxxxxxxx");
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("rate_limited");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(200);
    // The right password is refused too while limited: the attacker learns nothing.
    expect((await attempt(s, "chatbot", "reliability-chatbot-pass")).status).toBe(429);
    // The helpline, from the same address (behind one proxy, everyone is), still logs in: the limit is
    // per (username, address), so one flow with a wrong password cannot silence every counselor.
    expect((await attempt(s, "helpline", "reliability-helpline-pass")).status).toBe(200);
    // A thousand tries cost the attacker a thousand 429s, answered fast, and the process is fine.
    const started = Date.now();
    const flood = await Promise.all(Array.from({ length: 200 }, (_, i) => attempt(s, "chatbot", `flood-${i}-xxxxxx`)));
    expect(flood.every((a) => a.status === 429)).toBe(true);
    const floodMs = Date.now() - started;
    expect(floodMs).toBeLessThan(10_000);
    expect((await attempt(s, "helpline", "reliability-helpline-pass")).status).toBe(200);
    // Unknown usernames count and answer the same as known ones. A refused pair stops counting against
    // its address, so the address ceiling (20 here, 100 by default) takes 4 usernames failing 5 times.
    for (const username of ["nobody-1", "nobody-2", "nobody-3"]) {
      const answers: number[] = [];
      for (let i = 0; i < 6; i++) answers.push((await attempt(s, username, `guess-${i}-xxxxxxxx`)).status);
      expect(answers).toEqual([401, 401, 401, 401, 401, 429]);
    }
    // Now the address as a whole is over its ceiling: every login from it waits, the helpline's too.
    expect((await attempt(s, "helpline", "reliability-helpline-pass")).status).toBe(429);
    // Tokens issued before keep working: the limit is on logins, not on the API.
    expect((await s.chatbot.raw("GET", "health")).status).toBe(200);
    // Logged at warn with the reason and the consumer (only a configured one: a mistyped username may
    // be a password), never a password, and no client address (text is off).
    const lines = authFailures(s);
    expect(lines.length).toBeGreaterThanOrEqual(5 + 202 + 18 + 1);
    expect(lines.every((l) => l.level === "warn")).toBe(true);
    const payloads = lines.map((l) => l.payload as { reason: string; consumer?: string; address?: string });
    expect(payloads.slice(0, 6)).toEqual([
      ...Array.from({ length: 5 }, () => ({ reason: "invalid_credentials", consumer: "chatbot" })),
      { reason: "rate_limited", consumer: "chatbot" },
    ]);
    expect(payloads.filter((p) => p.consumer === undefined).length).toBe(18);
    const logged = s.gateway.stdout;
    expect(logged).not.toMatch(/guess-|flood-|reliability-\w+-pass|nobody-/);
    expect(logged).not.toContain('127.0.0.1"');
    reportFigures("brute force", {
      wrongBeforeLimit: 5,
      floodAnswered429: flood.length,
      floodMs,
      addressCeiling: 20,
    });
  });

  it("behind a trusted proxy, limits the client the proxy reports (X-Forwarded-For), not the proxy", async () => {
    system = await startSystem({
      env: { BRIDGE_TRUSTED_PROXIES: "127.0.0.1,::1", BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS: "20" },
    });
    const s = system;
    // An attacker behind the proxy tries many usernames. It forges an entry of its own, but the proxy
    // appends the address it saw, and the walk from the right stops there.
    const attacker = (i: number) => `10.${i}.${i}.${i}, 198.51.100.9`;
    for (const username of ["chatbot", "helpline", "nobody-1", "nobody-2"]) {
      for (let i = 0; i < 5; i++)
        expect((await attempt(s, username, `guess-${i}-xxxxxxxx`, attacker(i))).status).toBe(401);
    }
    const refused = await attempt(s, "helpline", "reliability-helpline-pass", attacker(9));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(200);
    // Every other caller through the same proxy is another client: the helpline and the flows log in.
    expect((await attempt(s, "helpline", "reliability-helpline-pass", "203.0.113.5")).status).toBe(200);
    expect((await attempt(s, "chatbot", "reliability-chatbot-pass", "203.0.113.6")).status).toBe(200);
    // The proxy's own address (no header) is a client like any other, not over any limit.
    expect((await attempt(s, "helpline", "reliability-helpline-pass")).status).toBe(200);
    // No address in the log: it is personal data, and text is off.
    expect(s.gateway.stdout).not.toContain("198.51.100.9");
    expect(authFailures(s).every((l) => l.level === "warn")).toBe(true);
  });

  it("without BRIDGE_TRUSTED_PROXIES, a client cannot pick a fresh address per guess with X-Forwarded-For", async () => {
    system = await startSystem();
    const s = system;
    const answers: number[] = [];
    for (let i = 0; i < 6; i++)
      answers.push((await attempt(s, "chatbot", `guess-${i}-xxxxxxxx`, `198.18.0.${i}`)).status);
    expect(answers).toEqual([401, 401, 401, 401, 401, 429]);
  });
});

describe("constant-time comparisons", () => {
  beforeEach(() => {
    vi.mocked(timing.timingSafeEqualStrings).mockClear();
    vi.mocked(timing.timingSafeEqual).mockClear();
  });

  const bridgeWith = (store = createSqliteStore(":memory:")) => {
    const noop = async () => {};
    const target: HelplineTarget & ChatbotTarget = { deliverMessage: noop, notifyClose: noop };
    return createBridge({
      store,
      helplines: target,
      chatbot: target,
      ticketer: (conversations) => createTicketerHandler({ apiToken: "ticketer-token-0123456789", conversations }),
      consumers: [
        { username: "chatbot", password: "correct-horse-battery", sources: ["WENI"] },
        { username: "signer", password: "signer-password-1", sources: ["WENI"], signingSecrets: [OLD_SECRET] },
      ],
    });
  };
  const login = (b: ReturnType<typeof bridgeWith>, username: string, password: string) =>
    b.handler(
      new Request("http://bridge.test/api/token/", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password }),
      }),
    );

  it("password checks compare fixed-length digests with timingSafeEqualStrings, for known and unknown users alike", async () => {
    const b = bridgeWith();
    const spy = vi.mocked(timing.timingSafeEqualStrings);
    expect((await login(b, "chatbot", "correct-horse-battery")).status).toBe(200);
    expect((await login(b, "chatbot", "x")).status).toBe(401);
    expect((await login(b, "chatbot", "a much longer wrong password than the right one")).status).toBe(401);
    expect((await login(b, "nobody", "correct-horse-battery")).status).toBe(401);
    expect(spy).toHaveBeenCalledTimes(4);
    for (const [given, expected] of spy.mock.calls) {
      // Digests, never the passwords themselves, and always of one length: time says nothing of either.
      expect(given).toMatch(/^[0-9a-f]{64}$/);
      expect(expected).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it("token checks look up a SHA-256 of the token, never comparing the token itself", async () => {
    const store = createSqliteStore(":memory:");
    const getToken = vi.spyOn(store, "getToken");
    const b = bridgeWith(store);
    const { token } = await b.tokens.issue("chatbot");
    const res = await b.handler(
      new Request("http://bridge.test/api/chat/", { headers: { authorization: `Token ${token}` } }),
    );
    expect(res.status).toBe(200);
    expect(getToken).toHaveBeenCalledTimes(1);
    const looked = getToken.mock.calls[0]![0];
    expect(looked).toMatch(/^[0-9a-f]{64}$/);
    expect(looked).not.toContain(token);
    const { createHash } = await import("node:crypto");
    expect(looked).toBe(createHash("sha256").update(token).digest("hex"));
    expect(vi.mocked(timing.timingSafeEqualStrings)).not.toHaveBeenCalledWith(token, expect.anything());
  });

  it("signatures and the ticketer's Bearer token are compared with timingSafeEqual/timingSafeEqualStrings", async () => {
    const b = bridgeWith();
    const { token } = await b.tokens.issue("signer");
    const body = JSON.stringify(clientMessage("tse_1", "c", "m1", "hi"));
    const headers = await signStandardWebhook({ id: "x", timestamp: new Date(), body, secret: OLD_SECRET });
    const res = await b.handler(
      new Request("http://bridge.test/api/chat/", {
        method: "POST",
        headers: { ...headers, authorization: `Token ${token}`, "content-type": "application/json" },
        body,
      }),
    );
    expect(res.status).toBe(201);
    expect(vi.mocked(timing.timingSafeEqual)).toHaveBeenCalled();
    vi.mocked(timing.timingSafeEqualStrings).mockClear();
    const ticketer = await b.handler(
      new Request("http://bridge.test/api/ticketer/v1/tickets", {
        method: "POST",
        headers: { authorization: "Bearer wrong-token-0123456789", "content-type": "application/json" },
        body: "{}",
      }),
    );
    expect(ticketer.status).toBe(401);
    // Compared as SHA-256 hashes, so not even the token's length shows in the timing.
    expect(vi.mocked(timing.timingSafeEqualStrings)).toHaveBeenCalledWith(
      sha256HexSync("wrong-token-0123456789"),
      sha256HexSync("ticketer-token-0123456789"),
    );
  });

  it("no source file compares a secret with === or !== (inspection of every package)", () => {
    const offenders: string[] = [];
    const secretName = /(password|token|secret|signature|digest|hmac|apikey|sessionid)$/i;
    const literal = /^(["'`].*["'`]|\d+|undefined|null|true|false)$/;
    const comparison = /([\w$.[\]"'`]+)\s*[!=]==\s*([\w$.[\]"'`]+)/g;
    /** A compared operand that holds a secret: its last name segment says so, and it is not a literal. */
    const isSecret = (operand: string) => !literal.test(operand) && secretName.test(operand.split(".").at(-1) ?? "");
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) return name === "node_modules" || name === "dist" ? [] : walk(path);
        return path.endsWith(".ts") && !path.endsWith(".test.ts") ? [path] : [];
      });
    const packages = join(ROOT, "packages");
    let lines = 0;
    for (const file of readdirSync(packages).flatMap((p) => walk(join(packages, p, "src")))) {
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          lines++;
          const code = line.replace(/\/\/.*$/, "");
          for (const [, left, right] of code.matchAll(comparison)) {
            if (literal.test(left!) || literal.test(right!) || /typeof\s*$/.test(code.split(left!)[0] ?? "")) continue;
            if (isSecret(left!) || isSecret(right!))
              offenders.push(`${file.slice(ROOT.length)}:${i + 1}: ${line.trim()}`);
          }
        });
    }
    expect(lines).toBeGreaterThan(5000);
    expect(offenders).toEqual([]);
  });
});
