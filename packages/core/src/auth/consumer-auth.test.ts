import { describe, expect, it, vi } from "vitest";
import { manualClock } from "../ports/clock";
import { sha256HexSync } from "../signing/hash";
import * as timing from "../signing/timing-safe-equal";
import { createMemoryStore } from "../store/memory-store";
import type { Store } from "../store/store";
import { apiKeyHash } from "./api-keys";
import { ConsumerAuth, VERIFIED_TOKEN_CACHE_MS } from "./consumer-auth";

// Every secret comparison goes through these: wrap them to see the calls.
vi.mock("../signing/timing-safe-equal", async (importOriginal) => {
  const original = await importOriginal<typeof import("../signing/timing-safe-equal")>();
  return {
    timingSafeEqual: vi.fn(original.timingSafeEqual),
    timingSafeEqualStrings: vi.fn(original.timingSafeEqualStrings),
  };
});

const CONSUMERS = [
  { username: "weni", password: "weni-password", sources: ["WENI" as const] },
  { username: "helpline", password: "helpline-password", sources: ["OUTBOX" as const, "HELPLINE" as const] },
];

function setup(ttlMs = 3_600_000) {
  const clock = manualClock(Date.parse("2026-01-01T00:00:00Z"));
  const inner = createMemoryStore();
  let lookups = 0;
  const store: Store = {
    ...inner,
    getToken: (hash) => {
      lookups++;
      return inner.getToken(hash);
    },
  };
  const failures: string[] = [];
  const auth = new ConsumerAuth(
    CONSUMERS,
    store,
    clock,
    ttlMs,
    { max: 5, maxPerAddress: 100, windowMs: 300_000 },
    (reason) => failures.push(reason),
  );
  return { auth, clock, inner, failures, lookups: () => lookups };
}

/** A memory store that records the name of every method called on it. */
function countingStore() {
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
  return { store, inner, calls };
}

const code = (promise: Promise<unknown>) =>
  promise.then(
    () => "ok",
    (error: { code?: string }) => error.code,
  );

describe("ConsumerAuth: verified tokens", () => {
  it("asks the store once for a token it has confirmed, then again after the cache window", async () => {
    const { auth, clock, lookups } = setup();
    const { token } = await auth.issue("weni");
    for (let i = 0; i < 5; i++) expect((await auth.authenticate(`Token ${token}`)).username).toBe("weni");
    expect(lookups()).toBe(1);
    clock.advance(VERIFIED_TOKEN_CACHE_MS);
    await auth.authenticate(`Bearer ${token}`);
    expect(lookups()).toBe(2);
  });

  it("never caches a refusal: an unknown token is looked up every time", async () => {
    const { auth, lookups } = setup();
    expect(await code(auth.authenticate(`Token ${"f".repeat(64)}`))).toBe("unauthorized");
    expect(await code(auth.authenticate(`Token ${"f".repeat(64)}`))).toBe("unauthorized");
    expect(lookups()).toBe(2);
  });

  it("refuses a cached token at once when it is revoked here, singly or by consumer", async () => {
    const { auth } = setup();
    const a = (await auth.issue("weni")).token;
    const b = (await auth.issue("weni")).token;
    const other = (await auth.issue("helpline")).token;
    for (const t of [a, b, other]) await auth.authenticate(`Token ${t}`);
    expect(await auth.revoke(a)).toBe(true);
    expect(await code(auth.authenticate(`Token ${a}`))).toBe("token_revoked");
    expect(await code(auth.authenticate(`Token ${b}`))).toBe("ok");
    expect(await auth.revokeConsumer("weni")).toBe(1);
    expect(await code(auth.authenticate(`Token ${b}`))).toBe("token_revoked");
    expect(await code(auth.authenticate(`Token ${other}`))).toBe("ok");
  });

  it("refuses a cached token once it expires, even inside the cache window", async () => {
    const { auth, clock } = setup(2_000);
    const { token } = await auth.issue("weni");
    await auth.authenticate(`Token ${token}`);
    clock.advance(2_000);
    expect(await code(auth.authenticate(`Token ${token}`))).toBe("token_expired");
  });

  it("sees a revocation made in the store by another process within the cache window", async () => {
    const { auth, clock, inner } = setup();
    const { token } = await auth.issue("weni");
    await auth.authenticate(`Token ${token}`);
    expect(await inner.revokeToken(sha256HexSync(token))).toBe(true);
    expect(await code(auth.authenticate(`Token ${token}`))).toBe("ok");
    clock.advance(VERIFIED_TOKEN_CACHE_MS);
    expect(await code(auth.authenticate(`Token ${token}`))).toBe("token_revoked");
  });

  it("does not cache a lookup that a revocation overlapped", async () => {
    const clock = manualClock(Date.parse("2026-01-01T00:00:00Z"));
    const inner = createMemoryStore();
    let release: (() => void) | undefined;
    const store: Store = {
      ...inner,
      getToken: async (hash) => {
        const stored = await inner.getToken(hash);
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return stored;
      },
    };
    const auth = new ConsumerAuth(
      CONSUMERS,
      store,
      clock,
      3_600_000,
      { max: 5, maxPerAddress: 100, windowMs: 300_000 },
      () => {},
    );
    const { token } = await auth.issue("weni");
    const first = auth.authenticate(`Token ${token}`);
    await new Promise((resolve) => setTimeout(resolve, 0));
    await auth.revoke(token);
    release!();
    expect((await first).username).toBe("weni");
    const second = code(auth.authenticate(`Token ${token}`));
    await new Promise((resolve) => setTimeout(resolve, 0));
    release!();
    expect(await second).toBe("token_revoked");
  });
});

describe("ConsumerAuth: API keys", () => {
  const KEY_A = "obk_first-key-of-the-flow-0123456789abcdefghijklm";
  const KEY_B = "obk_second-key-for-rotation-0123456789abcdefghij";
  const WITH_KEYS = [
    { ...CONSUMERS[0]!, apiKeys: [apiKeyHash(KEY_A), apiKeyHash(KEY_B).toUpperCase().replace("SHA256:", "sha256:")] },
    CONSUMERS[1]!,
  ];
  const setupKeys = () => {
    const clock = manualClock(Date.parse("2026-01-01T00:00:00Z"));
    const { store, calls } = countingStore();
    const failures: string[] = [];
    const auth = new ConsumerAuth(
      WITH_KEYS,
      store,
      clock,
      1000,
      { max: 5, maxPerAddress: 100, windowMs: 300_000 },
      (r) => failures.push(r),
    );
    return { auth, clock, calls, failures };
  };

  it("authenticates any configured key as its consumer, Token or Bearer, with no store access, and never expires", async () => {
    const { auth, clock, calls } = setupKeys();
    expect((await auth.authenticate(`Token ${KEY_A}`)).username).toBe("weni");
    expect((await auth.authenticate(`Bearer ${KEY_B}`)).sources).toEqual(["WENI"]);
    clock.advance(10 * 365 * 86_400_000);
    expect((await auth.authenticate(`Token ${KEY_A}`)).username).toBe("weni");
    expect(calls).toEqual([]);
  });

  it("compares the presented key's hash with every configured one in constant time", async () => {
    const { auth } = setupKeys();
    const spy = vi.mocked(timing.timingSafeEqualStrings);
    spy.mockClear();
    await auth.authenticate(`Token ${KEY_A}`);
    // Both of weni's keys are compared even though the first matched: 64-hex digests, never the key.
    expect(spy).toHaveBeenCalledTimes(2);
    for (const [given, expected] of spy.mock.calls) {
      expect(given).toBe(sha256HexSync(KEY_A));
      expect(expected).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it("refuses a key that is not configured, or only nearly, like any unknown token", async () => {
    const { auth, failures } = setupKeys();
    expect(await code(auth.authenticate(`Token ${KEY_A}x`))).toBe("unauthorized");
    expect(await code(auth.authenticate(`Token ${apiKeyHash(KEY_A)}`))).toBe("unauthorized");
    expect(failures).toEqual(["unauthorized", "unauthorized"]);
  });
});

describe("ConsumerAuth: login", () => {
  it("costs one store write, the token row, and nothing else", async () => {
    const clock = manualClock(Date.parse("2026-01-01T00:00:00Z"));
    const { store, inner, calls } = countingStore();
    const auth = new ConsumerAuth(
      CONSUMERS,
      store,
      clock,
      3_600_000,
      { max: 5, maxPerAddress: 100, windowMs: 300_000 },
      () => {},
    );
    const { token } = await auth.login("helpline", "helpline-password", "10.0.0.1");
    expect(calls).toEqual(["putToken"]);
    expect((await inner.getToken(sha256HexSync(token)))?.consumer).toBe("helpline");
    // A refused login touches the store not at all.
    calls.length = 0;
    expect(await code(auth.login("helpline", "wrong-password", "10.0.0.1"))).toBe("invalid_credentials");
    expect(calls).toEqual([]);
  });

  it("names the consumer of a refused login only when it is a configured one, and passes the address on", async () => {
    const clock = manualClock(0);
    const seen: Array<[string, string | undefined, string | undefined]> = [];
    const auth = new ConsumerAuth(
      CONSUMERS,
      createMemoryStore(),
      clock,
      3_600_000,
      { max: 1, maxPerAddress: 100, windowMs: 300_000 },
      (reason, consumer, address) => seen.push([reason, consumer, address]),
    );
    await code(auth.login("weni", "wrong-password", "10.0.0.1"));
    await code(auth.login("weni", "weni-password", "10.0.0.1"));
    await code(auth.login("my-secret-typed-as-username", "x", "10.0.0.1"));
    await code(auth.login("my-secret-typed-as-username", "x", "10.0.0.1"));
    expect(seen).toEqual([
      ["invalid_credentials", "weni", "10.0.0.1"],
      ["rate_limited", "weni", "10.0.0.1"],
      ["invalid_credentials", undefined, "10.0.0.1"],
      ["rate_limited", undefined, "10.0.0.1"],
    ]);
  });
});
