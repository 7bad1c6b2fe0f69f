import { describe, expect, it } from "vitest";
import { classifyFailure, isRetriable, isRetriableCode, RETRIABLE_STATUSES } from "./retriability";
import { codeForStatus, UpstreamError } from "./upstream-error";

describe("retriability", () => {
  it.each([
    ["rate_limited", true],
    ["unavailable", true],
    ["timeout", true],
    ["network", true],
    ["validation", false],
    ["auth", false],
    ["forbidden", false],
    ["not_found", false],
    ["conflict", false],
    ["invalid_response", false],
    ["aborted", false],
    ["http", false],
  ])("an upstream %s is retriable: %s", (code, retriable) => {
    expect(isRetriableCode(code)).toBe(retriable);
    expect(new UpstreamError("x", { code: code as never, message: "m" }).retriable).toBe(retriable);
    expect(isRetriable(new UpstreamError("x", { code: code as never, message: "m" }))).toBe(retriable);
  });

  it("retries within a call exactly the statuses whose code is retriable, except the odd 5xx", () => {
    for (const status of RETRIABLE_STATUSES) expect(isRetriableCode(codeForStatus(status))).toBe(true);
    for (const status of [400, 401, 403, 404, 409, 412, 422]) {
      expect(RETRIABLE_STATUSES).not.toContain(status);
      expect(isRetriableCode(codeForStatus(status))).toBe(false);
    }
  });

  it("takes an error that says at its word, with its code, status and Retry-After", () => {
    const error = new UpstreamError("rapidpro", {
      code: "rate_limited",
      message: "slow down",
      status: 429,
      retryAfterMs: 3000,
    });
    expect(classifyFailure(error)).toEqual({
      retriable: true,
      retryAfterMs: 3000,
      code: "rate_limited",
      message: "slow down",
      status: 429,
    });
    expect(
      classifyFailure(Object.assign(new Error("no target"), { retriable: false, code: "no_target" })),
    ).toMatchObject({ retriable: false, code: "no_target" });
  });

  it("retries timeouts and aborts, and anything unknown (a bug never loses a message silently)", () => {
    expect(classifyFailure(new DOMException("t", "TimeoutError"))).toEqual({
      retriable: true,
      code: "timeout",
      message: "the attempt timed out",
    });
    expect(classifyFailure(new DOMException("a", "AbortError")).code).toBe("timeout");
    expect(classifyFailure(new TypeError("x is undefined"))).toMatchObject({ retriable: true, code: "delivery_error" });
    expect(classifyFailure("a string")).toMatchObject({ retriable: true, message: "delivery failed" });
    expect(classifyFailure(undefined).retriable).toBe(true);
  });

  it("keeps at most 300 characters of a message", () => {
    expect(classifyFailure(new Error("x".repeat(1000))).message).toHaveLength(300);
  });
});
