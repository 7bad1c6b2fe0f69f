import { describe, expect, it } from "vitest";
import { manualClock } from "../ports/clock";
import { LoginLimiter } from "./login-limiter";
import { LoginThrottle } from "./login-throttle";

const WINDOW = 300_000;

describe("LoginLimiter", () => {
  it("refuses a key at max failures in the window, until the oldest counted one leaves it", () => {
    const clock = manualClock(0);
    const limiter = new LoginLimiter(3, WINDOW, () => clock.now());
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterS("k")).toBeUndefined();
      limiter.fail("k");
      clock.advance(10_000);
    }
    expect(limiter.retryAfterS("k")).toBe(270); // the first failure (t=0) leaves at t=300 s; now t=30 s
    expect(limiter.retryAfterS("other")).toBeUndefined();
    clock.advance(270_000);
    expect(limiter.retryAfterS("k")).toBeUndefined();
    limiter.fail("k");
    expect(limiter.retryAfterS("k")).toBe(10); // again max in the window: until t=10 s's failure leaves
    limiter.succeed("k");
    expect(limiter.retryAfterS("k")).toBeUndefined();
  });

  it("keeps a bounded number of keys however many fail at once", () => {
    const clock = manualClock(0);
    const limiter = new LoginLimiter(5, WINDOW, () => clock.now());
    for (let i = 0; i < 25_000; i++) limiter.fail(`k${i}`);
    expect(limiter.size).toBeLessThanOrEqual(10_000);
    // The newest are the ones kept.
    for (let i = 0; i < 4; i++) limiter.fail("k24999");
    expect(limiter.retryAfterS("k24999")).toBeGreaterThan(0);
  });
});

describe("LoginThrottle", () => {
  const setup = (max = 5, maxPerAddress = 20) => {
    const clock = manualClock(0);
    return { clock, throttle: new LoginThrottle({ max, maxPerAddress, windowMs: WINDOW }, () => clock.now()) };
  };

  it("limits a (username, address) pair without refusing other consumers at that address", () => {
    const { throttle } = setup();
    for (let i = 0; i < 5; i++) {
      expect(throttle.check("weni", "10.0.0.1")).toBeUndefined();
      throttle.failed("weni", "10.0.0.1");
    }
    expect(throttle.check("weni", "10.0.0.1")).toEqual({ retryAfterS: 300, scope: "consumer" });
    expect(throttle.check("helpline", "10.0.0.1")).toBeUndefined();
    expect(throttle.check("weni", "10.0.0.2")).toBeUndefined();
  });

  it("refuses every username at an address over its ceiling, for the rest of the window", () => {
    const { throttle, clock } = setup(5, 20);
    for (let user = 0; user < 4; user++) {
      for (let i = 0; i < 5; i++) throttle.failed(`guess-${user}`, "10.0.0.1");
      clock.advance(1000);
    }
    expect(throttle.check("helpline", "10.0.0.1")).toEqual({ retryAfterS: 296, scope: "address" });
    expect(throttle.check("helpline", "10.0.0.2")).toBeUndefined();
    clock.advance(296_000);
    expect(throttle.check("helpline", "10.0.0.1")).toBeUndefined();
  });

  it("a success clears its pair but not the address's count", () => {
    const { throttle } = setup(5, 8);
    for (let i = 0; i < 4; i++) throttle.failed("helpline", "10.0.0.1");
    throttle.succeeded("helpline", "10.0.0.1");
    for (let i = 0; i < 4; i++) throttle.failed("helpline", "10.0.0.1");
    // The pair was cleared (4 < 5 again), the address was not (8 ≥ 8).
    expect(throttle.check("helpline", "10.0.0.1")?.scope).toBe("address");
  });

  it("without an address, counts per username only", () => {
    const { throttle } = setup(2, 2);
    throttle.failed("weni", undefined);
    throttle.failed("weni", undefined);
    expect(throttle.check("weni", undefined)?.scope).toBe("consumer");
    expect(throttle.check("helpline", undefined)).toBeUndefined();
    // A username holding the separator characters cannot collide with another pair.
    throttle.failed('a","b', undefined);
    throttle.failed('a","b', undefined);
    expect(throttle.check("a", "b")).toBeUndefined();
  });
});
