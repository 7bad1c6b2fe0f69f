/** A unique key was taken (conversation id, or `message_id` within a conversation). */
export class StoreConflictError extends Error {
  override name = "StoreConflictError";
  constructor(
    readonly entity: "conversation" | "message",
    message?: string,
  ) {
    super(message ?? `${entity} already exists`);
  }
}

/** The store cannot be reached or written: the bridge answers 503 and accepts nothing. */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}
