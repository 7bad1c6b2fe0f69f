import { describe, expect, it } from "vitest";
import { BridgeConfigError } from "../options";
import { WebhookVerificationError } from "../signing/verification-error";
import { StoreConflictError, StoreUnavailableError } from "../store/errors";
import { BridgeError, ERROR_STATUS, errorBody } from "./bridge-error";
import { ConfigError, isConfigError } from "./config-error";
import { isOpenChsBridgeError, OpenChsBridgeError } from "./openchs-bridge-error";
import { UpstreamError } from "./upstream-error";

describe("the error family", () => {
  const cause = new Error("underneath");
  const members: [string, OpenChsBridgeError, string][] = [
    [
      "BridgeError",
      new BridgeError("conversation_closed", "closed", { state: "closed", cause }),
      "conversation_closed",
    ],
    [
      "UpstreamError",
      new UpstreamError("rapidpro", { code: "unavailable", message: "down", status: 503, cause }),
      "unavailable",
    ],
    ["StoreConflictError", new StoreConflictError("message"), "store_conflict"],
    ["StoreUnavailableError", new StoreUnavailableError("the store is closed", { cause }), "store_unavailable"],
    ["WebhookVerificationError", new WebhookVerificationError("invalid_signature", "no match"), "invalid_signature"],
    ["ConfigError", new ConfigError("baseUrl", "expected a URL"), "invalid_config"],
    ["BridgeConfigError", new BridgeConfigError("basePath", "expected a path"), "invalid_config"],
  ];

  it.each(members)("%s extends the one base, keeps its name and carries a stable code", (name, error, code) => {
    expect(error).toBeInstanceOf(OpenChsBridgeError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(isOpenChsBridgeError(error, code)).toBe(true);
    expect(isOpenChsBridgeError(error, "another_code")).toBe(false);
  });

  it("keeps the cause given, and none when none was given", () => {
    expect(members[0]![1].cause).toBe(cause);
    expect(members[1]![1].cause).toBe(cause);
    expect(members[3]![1].cause).toBe(cause);
    expect("cause" in members[2]![1]).toBe(false);
  });

  it("gives the status from the table for the bridge's answers, the upstream's for upstream failures", () => {
    expect(members[0]![1].status).toBe(409);
    expect(members[1]![1].status).toBe(503);
    expect(new UpstreamError("rapidpro", { code: "network", message: "refused" }).status).toBeUndefined();
  });

  it("has one configuration error: createBridge's is a ConfigError naming the option", () => {
    const error = new BridgeConfigError("delivery.leaseMs", "expected at least 1000 ms");
    expect(isConfigError(error)).toBe(true);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.option).toBe("delivery.leaseMs");
    expect(error.message).toBe("Invalid bridge option `delivery.leaseMs`: expected at least 1000 ms");
  });

  it("is not claimed by an unrelated error", () => {
    expect(isOpenChsBridgeError(new Error("x"))).toBe(false);
    expect(isOpenChsBridgeError({ code: "store_unavailable" })).toBe(false);
  });
});

describe("errorBody", () => {
  it("renders the documented shape, with field and state only when given", () => {
    expect(errorBody("internal_error", "internal error")).toEqual({
      error: { code: "internal_error", message: "internal error" },
    });
    expect(JSON.stringify(errorBody("invalid_field", "bad", { field: "chat_session" }))).toBe(
      '{"error":{"code":"invalid_field","message":"bad","field":"chat_session"}}',
    );
    expect(errorBody("invalid_transition", "no", { state: "closed" }).error).toEqual({
      code: "invalid_transition",
      message: "no",
      state: "closed",
    });
  });

  it("is what a BridgeError answers, with the status of its code", () => {
    const error = new BridgeError("invalid_field", "bad", { field: "x", state: "open" });
    expect(error.toBody()).toEqual(errorBody("invalid_field", "bad", { field: "x", state: "open" }));
    expect(error.status).toBe(ERROR_STATUS.invalid_field);
  });
});
