import { withAttemptDeadline } from "./attempt-deadline";
import type { UpstreamTransport } from "./transport";

/**
 * The runtime-neutral transport: one `fetch` per attempt, the answer read as text. Without
 * `fetchFn`, the global `fetch` is looked up at each call, so that one patched later (test
 * interceptors, instrumentation) is the one used.
 */
export function fetchTransport(fetchFn?: typeof fetch): UpstreamTransport {
  return {
    send: (request) =>
      withAttemptDeadline(request, async (signal) => {
        const response = await (fetchFn ?? globalThis.fetch)(request.url, {
          method: request.method,
          headers: request.headers,
          ...(request.body !== undefined ? { body: request.body } : {}),
          signal,
        });
        const body = await response.text();
        return { status: response.status, headers: Object.fromEntries(response.headers), body };
      }),
  };
}
