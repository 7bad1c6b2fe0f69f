import { afterEach, describe, expect, it, vi } from "vitest";
import { type AttemptFailure, type RetryPolicy, resolveRetryPolicy, retryDelay } from "./retry-policy";

const POLICY: RetryPolicy = resolveRetryPolicy({
  limit: 3,
  minDelayMs: 1_000,
  factor: 2,
  maxDelayMs: 3_000,
  jitter: false,
});
const status = (code: number, retryAfterMs?: number): AttemptFailure => ({
  kind: "status",
  status: code,
  retryAfterMs,
});

afterEach(() => vi.restoreAllMocks());

describe("retryDelay", () => {
  it("backs off exponentially up to maxDelayMs, and gives up after limit retries", () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(POLICY, n, { kind: "network" }))).toEqual([
      1_000,
      2_000,
      3_000,
      undefined,
    ]);
    expect(retryDelay(resolveRetryPolicy(false), 1, { kind: "timeout" })).toBeUndefined();
  });

  it("retries timeouts, network failures and 408/429/5xx-that-may-pass, nothing else", () => {
    for (const code of [408, 429, 500, 502, 503, 504]) expect(retryDelay(POLICY, 1, status(code))).toBe(1_000);
    for (const code of [301, 400, 401, 403, 404, 409, 413, 422, 501])
      expect(retryDelay(POLICY, 1, status(code))).toBeUndefined();
    expect(retryDelay(POLICY, 1, { kind: "timeout" })).toBe(1_000);
  });

  it("waits out Retry-After on 429 and 503 as given (no jitter, may exceed maxDelayMs), backoff on other statuses", () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const jittered = { ...POLICY, jitter: true };
    expect(retryDelay(jittered, 1, status(429, 5_000))).toBe(5_000);
    expect(retryDelay(jittered, 1, status(503, 0))).toBe(0);
    expect(retryDelay(jittered, 1, status(502, 5_000))).toBe(500);
  });

  it("gives up at once on a Retry-After longer than maxRetryAfterMs, on any status", () => {
    const policy = { ...POLICY, maxRetryAfterMs: 10_000 };
    expect(retryDelay(policy, 1, status(429, 10_000))).toBe(10_000);
    expect(retryDelay(policy, 1, status(429, 10_001))).toBeUndefined();
    expect(retryDelay(policy, 1, status(500, 60_000))).toBeUndefined();
  });

  it("draws a jittered delay from [0, delay]", () => {
    vi.spyOn(Math, "random").mockReturnValue(0.25);
    expect(retryDelay({ ...POLICY, jitter: true }, 2, { kind: "network" })).toBe(500);
  });
});
