import type { SimResponse } from "./sim-server";

/**
 * A simulator action that cannot be done: `invalid_request` (bad input), `unknown_session`,
 * `unknown_counselor`, `unknown_contact`, or `no_bridge` (no bridge configured yet).
 */
export class SimulatorError extends Error {
  override name = "SimulatorError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The admin API's error answer: `{"error":{"code","message",…}}`. */
export function adminError(status: number, code: string, message: string, extra: object = {}): SimResponse {
  return { status, json: { error: { code, message, ...extra } } };
}

/**
 * Maps a thrown error to an admin answer: 400 for bad input, 404 for an unknown session or
 * counselor, 409 when no bridge is configured, 502 when the call to the bridge failed (with the
 * bridge client's error code and the status the bridge answered).
 */
export function adminFailure(error: unknown): SimResponse {
  if (error instanceof SimulatorError) {
    const status = error.code === "invalid_request" ? 400 : error.code === "no_bridge" ? 409 : 404;
    return adminError(status, error.code, error.message);
  }
  if (error instanceof TypeError) return adminError(400, "invalid_request", error.message);
  const described = describeBridgeError(error);
  return adminError(502, described.code, `the bridge call failed: ${described.message}`, {
    ...(described.status !== undefined ? { status: described.status } : {}),
  });
}

/** A required non-empty string field of an admin request body. */
export function requiredString(input: Record<string, unknown>, key: string): string {
  const value = input[key];
  if (typeof value !== "string" || value === "") throw new SimulatorError("invalid_request", `${key} is required`);
  return value;
}

/** An optional string field of an admin request body. */
export function optionalString(input: Record<string, unknown>, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new SimulatorError("invalid_request", `${key} must be a string`);
  return value;
}

/** A failure of a call to the bridge as events carry it: code, status and a message without secrets. */
export interface BridgeCallError {
  code: string;
  status?: number | undefined;
  message: string;
}

/** Reads an error thrown by the gateway client (an `OpenChsError`) into {@link BridgeCallError}. */
export function describeBridgeError(error: unknown): BridgeCallError {
  if (error instanceof Error) {
    const e = error as Error & { code?: unknown; status?: unknown };
    return {
      code: typeof e.code === "string" ? e.code : "error",
      ...(typeof e.status === "number" ? { status: e.status } : {}),
      message: e.message,
    };
  }
  return { code: "error", message: String(error) };
}
