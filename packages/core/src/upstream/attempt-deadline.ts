import type { TransportRequest } from "./transport";

/** The error a transport rejects with when an attempt's deadline passes (named like `AbortSignal.timeout`'s). */
export function transportTimeout(timeoutMs: number): Error {
  return new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError");
}

/**
 * Runs one transport attempt under its deadline and the caller's signal, handing `run` one signal
 * for both. One timer and one AbortController, both gone when the attempt ends: `AbortSignal.any`
 * with `AbortSignal.timeout` costs more per call, and that timer outlives the attempt. Rejects with
 * {@link transportTimeout} when the deadline passes first, whatever `run` rejected with.
 */
export async function withAttemptDeadline<T>(
  request: Pick<TransportRequest, "signal" | "timeoutMs">,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const caller = request.signal;
  caller?.throwIfAborted();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(transportTimeout(request.timeoutMs));
  }, request.timeoutMs);
  const forward = () => controller.abort(caller?.reason);
  caller?.addEventListener("abort", forward, { once: true });
  try {
    return await run(controller.signal);
  } catch (error) {
    if (timedOut) throw transportTimeout(request.timeoutMs);
    throw error;
  } finally {
    clearTimeout(timer);
    caller?.removeEventListener("abort", forward);
  }
}
