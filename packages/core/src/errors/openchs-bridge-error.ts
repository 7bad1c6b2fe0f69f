/** What every error of the family may carry besides its code. */
export interface OpenChsBridgeErrorInit {
  /** The HTTP status the error answers with, or the upstream answered with, when there is one. */
  status?: number | undefined;
  cause?: unknown;
}

/**
 * The base of every error thrown by openchs-bridge packages (the bridge's own answers, upstream
 * failures, store, signature and configuration errors): a stable `code` to branch on, the `status`
 * when HTTP is involved, and the `cause`. Messages never hold a secret or a message text.
 * Branch on the subclasses (`BridgeError`, `UpstreamError`, `ConfigError`, …) or on `code`.
 */
export class OpenChsBridgeError extends Error {
  override name = "OpenChsBridgeError";
  readonly code: string;
  readonly status: number | undefined;

  constructor(code: string, message: string, init: OpenChsBridgeErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.status = init.status;
  }
}

/** Whether `value` belongs to the family, optionally with the given `code`. */
export function isOpenChsBridgeError(value: unknown, code?: string): value is OpenChsBridgeError {
  return value instanceof OpenChsBridgeError && (code === undefined || value.code === code);
}
