import { describe, expect, it } from "vitest";
import { bridgeHarness, CHATBOT_USER, HELPLINE_USER } from "../../test-support/bridge-harness";
import { apiKeyHash } from "../auth/api-keys";
import type { BridgeEventMap } from "../conversations/events";
import type { BridgeOptions } from "../options";
import { createMemoryStore } from "../store/memory-store";
import type { Store } from "../store/store";

/**
 * The token route as the helpline sees it: its PHP logs in for every message, often through the
 * same proxy (one address) as the chatbot's flows and as anyone on the internet.
 */
function gateway(overrides: Partial<BridgeOptions> & { store?: Store } = {}) {
  const h = bridgeHarness(overrides);
  const failures: Array<BridgeEventMap["auth.failure"]> = [];
  h.bridge.events.on("auth.failure", (e) => failures.push(e));
  const login = async (
    user: { username: string; password: string },
    peer: string,
    headers: Record<string, string> = {},
  ) => {
    const response = await h.bridge.handler(
      new Request("http://bridge.test/api/token/", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(user),
      }),
      { remoteAddress: peer },
    );
    return { status: response.status, retryAfter: response.headers.get("retry-after") };
  };
  return { ...h, failures, login };
}

const WENI_GUESS = { username: "weni", password: "a-wrong-guess" };

describe("token/: throttling that cannot lock the helpline out", () => {
  it("keeps answering the helpline's correct login while the chatbot's password is guessed from the same address", async () => {
    const g = gateway();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await g.login(WENI_GUESS, "10.0.0.5")).status);
      // The helpline logs in for every message, in between.
      expect((await g.login(HELPLINE_USER, "10.0.0.5")).status).toBe(200);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429, 429, 429, 429, 429]);
    // The guessed consumer itself is refused, even with its right password: the guesser learns nothing.
    const limited = await g.login(CHATBOT_USER, "10.0.0.5");
    expect(limited.status).toBe(429);
    expect(Number(limited.retryAfter)).toBe(300);
    // …but not from another address.
    expect((await g.login(CHATBOT_USER, "10.0.0.6")).status).toBe(200);
  });

  it("refuses every login from an address once it is over its ceiling, for the rest of the window only", async () => {
    const g = gateway({ loginRateLimit: { max: 2, maxPerAddress: 6, windowS: 60 } });
    // Many usernames (known and unknown) guessed from one address: 2 counted each.
    for (const username of ["weni", "nobody-1", "nobody-2", "nobody-3"]) {
      for (let i = 0; i < 3; i++) await g.login({ username, password: "a-wrong-guess" }, "10.0.0.5");
    }
    expect((await g.login(HELPLINE_USER, "10.0.0.5")).status).toBe(429);
    expect((await g.login(HELPLINE_USER, "10.0.0.7")).status).toBe(200);
    g.clock.advance(60_000);
    expect((await g.login(HELPLINE_USER, "10.0.0.5")).status).toBe(200);
  });

  it("behind a trusted proxy, throttles the address the proxy reports, and ignores the header from anyone else", async () => {
    const g = gateway({ trustedProxies: ["127.0.0.1", "10.0.0.0/8"], loginRateLimit: { max: 2, maxPerAddress: 4 } });
    const via = (client: string) => ({ "x-forwarded-for": `${client}, 10.1.2.3` });
    // An attacker behind the proxy guesses many usernames until its own address is over the ceiling.
    for (const username of ["weni", "helpline", "nobody"]) {
      for (let i = 0; i < 2; i++) {
        await g.login({ username, password: "a-wrong-guess" }, "::ffff:127.0.0.1", via("198.51.100.9"));
      }
    }
    expect((await g.login(HELPLINE_USER, "::ffff:127.0.0.1", via("198.51.100.9"))).status).toBe(429);
    // The helpline, through the same proxy, is another client: its login works.
    expect((await g.login(HELPLINE_USER, "::ffff:127.0.0.1", via("203.0.113.5"))).status).toBe(200);
    expect((await g.login(CHATBOT_USER, "::ffff:127.0.0.1", via("203.0.113.5"))).status).toBe(200);
    // A peer that is not a trusted proxy cannot pick a fresh address per guess with the header.
    const direct: number[] = [];
    for (let i = 0; i < 3; i++) {
      direct.push((await g.login(WENI_GUESS, "192.0.2.50", { "x-forwarded-for": `198.18.0.${i}` })).status);
    }
    expect(direct).toEqual([401, 401, 429]);
  });

  it("costs one store write per login, the token row, and none for a refused one", async () => {
    const calls: string[] = [];
    const inner = createMemoryStore();
    const store = new Proxy(inner, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push(String(name));
          return value.apply(target, args);
        };
      },
    });
    const g = gateway({ store });
    calls.length = 0;
    expect((await g.login(HELPLINE_USER, "10.0.0.5")).status).toBe(200);
    expect(calls).toEqual(["putToken"]);
    calls.length = 0;
    expect((await g.login({ ...HELPLINE_USER, password: "wrong-password" }, "10.0.0.5")).status).toBe(401);
    expect(calls).toEqual([]);
  });

  it("reports refused logins as auth.failure with the consumer, and the address only when text is on", async () => {
    const quiet = gateway({ loginRateLimit: { max: 1 } });
    await quiet.login(WENI_GUESS, "10.0.0.5");
    await quiet.login(WENI_GUESS, "10.0.0.5");
    await quiet.login({ username: "a-password-typed-as-username", password: "x" }, "10.0.0.5");
    expect(quiet.failures).toEqual([
      { reason: "invalid_credentials", consumer: "weni" },
      { reason: "rate_limited", consumer: "weni" },
      { reason: "invalid_credentials", consumer: undefined },
    ]);
    expect(JSON.stringify(quiet.failures)).not.toContain("10.0.0.5");
    expect(JSON.stringify(quiet.failures)).not.toContain(WENI_GUESS.password);
    const verbose = gateway({ events: { includeText: true }, trustedProxies: ["127.0.0.1"] });
    await verbose.login(WENI_GUESS, "127.0.0.1", { "x-forwarded-for": "198.51.100.9" });
    expect(verbose.failures).toEqual([{ reason: "invalid_credentials", consumer: "weni", address: "198.51.100.9" }]);
  });
});

describe("API keys", () => {
  const KEY = "obk_Zm9yLXRlc3RzLW9ubHktbm90LWEtcmVhbC1rZXktMDE";

  it("authenticate every call of their consumer like a token, and never expire", async () => {
    const g = gateway({
      consumers: [
        { ...CHATBOT_USER, sources: ["WENI"], apiKeys: [apiKeyHash(KEY)] },
        { ...HELPLINE_USER, sources: ["OUTBOX", "HELPLINE"] },
      ],
    });
    expect((await g.call("GET", "chat/", { token: KEY })).status).toBe(200);
    g.clock.advance(365 * 86_400_000);
    expect((await g.call("GET", "chat/", { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
    // Bound to its consumer's sources like a token.
    const reply = { chat_session: "s1", chat_message: "x", chat_source: "OUTBOX", message_id: "r1" };
    expect((await g.call("POST", "chat/", { token: KEY, body: reply })).status).toBe(403);
  });

  it("refuses malformed key hashes, keys shared by two consumers, and bad throttle options, naming the option", () => {
    const consumers = (a: string[], b: string[] = []) => [
      { ...CHATBOT_USER, sources: ["WENI" as const], apiKeys: a },
      { ...HELPLINE_USER, sources: ["OUTBOX" as const], apiKeys: b },
    ];
    expect(() => bridgeHarness({ consumers: consumers([KEY]) })).toThrow(/consumers\.0\.apiKeys\.0.*sha256:<64 hex>/);
    expect(() => bridgeHarness({ consumers: consumers([`sha256:${"a".repeat(63)}`]) })).toThrow(
      /consumers\.0\.apiKeys/,
    );
    expect(() => bridgeHarness({ consumers: consumers([apiKeyHash(KEY)], [apiKeyHash(KEY)]) })).toThrow(
      /consumers\.1\.apiKeys\.0/,
    );
    expect(() => bridgeHarness({ consumers: consumers([KEY]) })).not.toThrow(new RegExp(KEY));
    expect(() => bridgeHarness({ trustedProxies: ["10.0.0.0/8", "proxy.local"] })).toThrow(/trustedProxies\.1/);
    expect(() => bridgeHarness({ loginRateLimit: { max: 10, maxPerAddress: 5 } })).toThrow(
      /loginRateLimit\.maxPerAddress/,
    );
  });
});
