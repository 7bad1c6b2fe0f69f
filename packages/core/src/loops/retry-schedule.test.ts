import { describe, expect, it } from "vitest";
import {
  DEFAULT_RETRY_HORIZON_MS,
  DEFAULT_RETRY_JITTER,
  DEFAULT_RETRY_MAX_WAIT_MS,
  DEFAULT_RETRY_STEPS,
  nextWait,
  type RetryPolicy,
} from "./retry-schedule";

const HOUR = 3_600_000;
const defaults: RetryPolicy = {
  schedule: [...DEFAULT_RETRY_STEPS, DEFAULT_RETRY_MAX_WAIT_MS],
  maxWaitMs: DEFAULT_RETRY_MAX_WAIT_MS,
  horizonMs: DEFAULT_RETRY_HORIZON_MS,
  jitter: DEFAULT_RETRY_JITTER,
};
const exact: RetryPolicy = { ...defaults, jitter: 0 };
const T0 = Date.parse("2026-01-01T00:00:00Z");

describe("nextWait", () => {
  it("grows from 5 s to the hourly cap, then repeats the cap", () => {
    const waits = Array.from({ length: 10 }, (_, i) =>
      nextWait({ round: i + 1, firstAttemptAt: T0, now: T0, policy: exact }),
    );
    expect(waits).toEqual([5_000, 30_000, 120_000, 300_000, 600_000, 1_800_000, HOUR, HOUR, HOUR, HOUR]);
  });

  it("caps every step at maxWaitMs, a custom schedule's too", () => {
    const policy = { ...exact, schedule: [1_000, 7_200_000], maxWaitMs: 60_000 };
    expect(nextWait({ round: 1, firstAttemptAt: T0, now: T0, policy })).toBe(1_000);
    expect(nextWait({ round: 2, firstAttemptAt: T0, now: T0, policy })).toBe(60_000);
    expect(nextWait({ round: 9, firstAttemptAt: T0, now: T0, policy })).toBe(60_000);
  });

  it("keeps retrying until the horizon has passed since the first failed round, then dead-letters", () => {
    // Simulate an outage that never ends: the rounds the default policy makes.
    let now = T0;
    let rounds = 0;
    for (;;) {
      rounds++;
      const wait = nextWait({ round: rounds, firstAttemptAt: T0, now, policy: exact });
      if (wait === "dead") break;
      now += wait;
    }
    // Given up only at the first failure at or after 72 h, and not an hour later than that.
    expect(now - T0).toBeGreaterThanOrEqual(72 * HOUR);
    expect(now - T0).toBeLessThan(73 * HOUR);
    // 6 growing steps (47 min 35 s together), then hourly.
    expect(rounds).toBe(1 + 6 + Math.ceil((72 * HOUR - 2_855_000) / HOUR));
    expect(nextWait({ round: 2, firstAttemptAt: T0, now: T0 + 72 * HOUR - 1, policy: exact })).toBe(30_000);
    expect(nextWait({ round: 2, firstAttemptAt: T0, now: T0 + 72 * HOUR, policy: exact })).toBe("dead");
  });

  it("jitters each wait within ±10 %, and both ways", () => {
    const seen: number[] = [];
    for (const r of [0, 0.25, 0.5, 0.75, 0.999_999]) {
      seen.push(nextWait({ round: 7, firstAttemptAt: T0, now: T0, policy: defaults, random: () => r }) as number);
    }
    expect(seen[0]).toBe(0.9 * HOUR);
    expect(seen[2]).toBe(HOUR);
    expect(Math.max(...seen)).toBeLessThanOrEqual(1.1 * HOUR);
    expect(Math.max(...seen)).toBeGreaterThan(1.09 * HOUR);
    for (let i = 0; i < 200; i++) {
      const wait = nextWait({ round: 1, firstAttemptAt: T0, now: T0, policy: defaults }) as number;
      expect(wait).toBeGreaterThanOrEqual(4_500);
      expect(wait).toBeLessThanOrEqual(5_500);
    }
  });

  it("never waits less than Retry-After, even when the jittered step is shorter", () => {
    expect(nextWait({ round: 1, firstAttemptAt: T0, now: T0, retryAfterMs: 90_000, policy: defaults })).toBe(90_000);
    // A shorter Retry-After does not shorten the step.
    expect(nextWait({ round: 3, firstAttemptAt: T0, now: T0, retryAfterMs: 1_000, policy: exact })).toBe(120_000);
    // Past the cap too: the upstream's word wins over maxWaitMs.
    expect(nextWait({ round: 9, firstAttemptAt: T0, now: T0, retryAfterMs: 2 * HOUR, policy: exact })).toBe(2 * HOUR);
  });

  it("an explicit schedule whose horizon is its own sum dead-letters when used up, as before", () => {
    const policy: RetryPolicy = { schedule: [1_000, 2_000, 4_000], maxWaitMs: HOUR, horizonMs: 7_000, jitter: 0 };
    let now = T0;
    const waits: Array<number | "dead"> = [];
    for (let round = 1; round <= 5; round++) {
      const wait = nextWait({ round, firstAttemptAt: T0, now, policy });
      waits.push(wait);
      if (wait === "dead") break;
      now += wait;
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, "dead"]);
  });

  it("an empty schedule means no durable retry", () => {
    expect(nextWait({ round: 1, firstAttemptAt: T0, now: T0, policy: { ...exact, schedule: [] } })).toBe("dead");
  });
});
