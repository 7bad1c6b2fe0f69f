import { isUpstreamError, UpstreamError } from "@openchs-bridge/core";
import { describe, expect, it } from "vitest";
import {
  asLoginError,
  describeGatewayError,
  describeHelplineError,
  isOpenChsError,
  OpenChsCaseError,
  OpenChsError,
} from "./errors";

describe("OpenChsError", () => {
  it("is an UpstreamError with its service, a stable code and retriability", () => {
    const err = new OpenChsError("openchs-helpline", { code: "unavailable", status: 503, message: "down" });
    expect(err).toBeInstanceOf(UpstreamError);
    expect(isUpstreamError(err, "unavailable")).toBe(true);
    expect(isOpenChsError(err)).toBe(true);
    expect(isOpenChsError(err, "auth")).toBe(false);
    expect(isOpenChsError(new UpstreamError("rapidpro", { code: "auth", message: "x" }))).toBe(false);
    expect(err.name).toBe("OpenChsError");
    expect(String(err)).toBe("OpenChsError: down");
    expect(err.retriable).toBe(true);
    expect(JSON.parse(JSON.stringify(err))).toMatchObject({
      name: "OpenChsError",
      service: "openchs-helpline",
      code: "unavailable",
      status: 503,
    });
  });

  it("OpenChsCaseError copies the failed call's code and keeps its own copy of the created ids", () => {
    const cause = new OpenChsError("openchs-helpline", { code: "timeout", message: "slow" });
    const created = { clientIds: [] as string[], perpetratorIds: [] as string[] };
    const err = new OpenChsCaseError({ step: "reporter", created, cause });
    created.clientIds.push("later");
    expect(err.code).toBe("timeout");
    expect(err.retriable).toBe(true);
    expect(err.created.clientIds).toEqual([]);
    const unknown = new OpenChsCaseError({ step: "case", created, cause: new Error("boom") });
    expect(unknown.code).toBe("http");
    expect(unknown.retriable).toBe(false);
  });
});

describe("describeGatewayError", () => {
  it("reads DRF detail, non_field_errors and field errors (first key)", () => {
    expect(describeGatewayError(401, { detail: "Invalid token." })).toEqual({ message: "Invalid token." });
    expect(describeGatewayError(400, { non_field_errors: ["", "Unable to log in."] })).toEqual({
      message: "Unable to log in.",
    });
    expect(describeGatewayError(400, { chat_session: ["This field is required."], chat_source: ["x"] })).toEqual({
      message: "This field is required.",
      field: "chat_session",
    });
    expect(describeGatewayError(400, { metadata: { age: ["A valid integer is required."] } })).toEqual({
      message: "A valid integer is required.",
      field: "metadata.age",
    });
  });

  it("reads the bridge's error object", () => {
    expect(
      describeGatewayError(400, {
        error: { code: "missing_field", message: "chat_session is required", field: "chat_session" },
      }),
    ).toEqual({
      message: "missing_field: chat_session is required",
      field: "chat_session",
    });
  });

  it("reads JSON sent as text, and ignores what it does not know", () => {
    expect(describeGatewayError(401, '{"detail":"Invalid token."}')).toEqual({ message: "Invalid token." });
    expect(describeGatewayError(502, "<html>Bad Gateway</html>")).toBeUndefined();
    expect(describeGatewayError(500, undefined)).toBeUndefined();
    expect(describeGatewayError(500, [1, 2])).toBeUndefined();
    expect(describeGatewayError(400, { error: {} })).toBeUndefined();
  });
});

describe("describeHelplineError", () => {
  it("reads message and field of the first entry, never the value", () => {
    const details = describeHelplineError(412, {
      errors: [
        ["error", "Invalid phone", "0", "contact", "0", "contact_phone", "+254 700 000 000"],
        ["error", "Missing", "0", "contact", "0", "contact_fname", ""],
      ],
    });
    expect(details).toEqual({ message: "Invalid phone (contact) (+1 more)", field: "contact_phone" });
    expect(JSON.stringify(details)).not.toContain("700");
  });

  it("reads the short forms the server sends for 401, 400 and 404", () => {
    expect(describeHelplineError(401, { errors: [["error", "Authentication Required"]] })).toEqual({
      message: "Authentication Required",
      field: undefined,
    });
    expect(
      describeHelplineError(412, { errors: [["error", "You do not have rights", "Access Denied", "", "", ""]] }),
    ).toEqual({
      message: "You do not have rights",
      field: undefined,
    });
    expect(describeHelplineError(404, '{ "errors":[["error","The requested URL was not found"]]}')).toEqual({
      message: "The requested URL was not found",
      field: undefined,
    });
  });

  it("ignores other bodies", () => {
    expect(describeHelplineError(500, { errors: [] })).toBeUndefined();
    expect(describeHelplineError(500, { errors: "x" })).toBeUndefined();
    expect(describeHelplineError(500, "Internal error")).toBeUndefined();
    expect(describeHelplineError(500, { errors: [["error"]] })).toBeUndefined();
  });
});

describe("asLoginError", () => {
  it("makes a refused login auth (400, 401, 403, 412) and leaves 5xx alone", () => {
    const login = asLoginError(describeHelplineError);
    const body = { errors: [["error", "Invalid login"]] };
    for (const status of [400, 401, 403, 412]) expect(login(status, body)?.code).toBe("auth");
    expect(login(503, body)?.code).toBeUndefined();
    expect(login(412, undefined)).toEqual({ code: "auth" });
  });
});
