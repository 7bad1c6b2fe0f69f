/**
 * A request body the host has already read whole (the Node adapter does for small bodies of
 * declared length), kept beside the `Request` under this registered symbol so that the handler
 * reads the bytes as they are instead of through a Web stream made from them. `Symbol.for`: the
 * Node adapter is bundled into its own entry point, and both copies must name the same key.
 */
export const BUFFERED_BODY: unique symbol = Symbol.for("@openchs-bridge/buffered-body") as never;

/** The bytes a host handed over with the request, if any and not read some other way already. */
export function bufferedBody(request: Request): Uint8Array | undefined {
  const bytes = (request as { [BUFFERED_BODY]?: unknown })[BUFFERED_BODY];
  return bytes instanceof Uint8Array && !request.bodyUsed ? bytes : undefined;
}
