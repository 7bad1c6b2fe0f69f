import { OpenChsBridgeError } from "../errors/openchs-bridge-error";

/** A unique key was taken (conversation id, or `message_id` within a conversation). */
export class StoreConflictError extends OpenChsBridgeError {
  override name = "StoreConflictError";
  constructor(
    readonly entity: "conversation" | "message",
    message?: string,
  ) {
    super("store_conflict", message ?? `${entity} already exists`);
  }
}

/** The store cannot be reached or written: the bridge answers 503 and accepts nothing. */
export class StoreUnavailableError extends OpenChsBridgeError {
  override name = "StoreUnavailableError";
  constructor(message = "the store is unavailable", options: { cause?: unknown } = {}) {
    super("store_unavailable", message, { cause: options.cause });
  }
}
