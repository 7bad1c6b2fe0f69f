import { describe, expect, it } from "vitest";
import { sha256HexSync } from "../bridge/hash";
import { manualClock } from "../ports/clock";
import { createMemoryStore } from "../store/memory-store";
import type { Store } from "../store/store";
import { ConsumerAuth, VERIFIED_TOKEN_CACHE_MS } from "./consumer-auth";

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
  const auth = new ConsumerAuth(CONSUMERS, store, clock, ttlMs, { max: 5, windowMs: 300_000 }, (reason) =>
    failures.push(reason),
  );
  return { auth, clock, inner, failures, lookups: () => lookups };
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
    const auth = new ConsumerAuth(CONSUMERS, store, clock, 3_600_000, { max: 5, windowMs: 300_000 }, () => {});
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
