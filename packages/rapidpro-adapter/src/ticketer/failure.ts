/** An error answer of the generic ticketer contract: `{"error":"<code>","message","details"?}`. */
export class TicketerFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}
