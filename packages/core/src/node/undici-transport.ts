import type { Dispatcher } from "undici";
import { withAttemptDeadline } from "../upstream/attempt-deadline";
import type { UpstreamTransport } from "../upstream/transport";

/** Options of {@link createUndiciTransport}. */
export interface UndiciTransportOptions {
  /**
   * The connection pool to send through. Default: undici's global dispatcher, the one Node's own
   * `fetch` uses (so a proxy set with `setGlobalDispatcher` or `NODE_USE_ENV_PROXY` applies alike).
   */
  dispatcher?: Dispatcher | undefined;
}

type UndiciRequest = typeof import("undici").request;

let loading: Promise<UndiciRequest> | undefined;

/**
 * undici, loaded on first use: it is an optional peer dependency, and a host that imports
 * `@openchs-bridge/core/node` for `toNodeListener` alone must not need it.
 */
function loadUndici(): Promise<UndiciRequest> {
  loading ??= import("undici").then(
    (undici) => undici.request,
    (cause: unknown) => {
      throw new Error("createUndiciTransport needs the `undici` package: npm install undici", { cause });
    },
  );
  return loading;
}

/**
 * The upstream clients' transport on undici's pooled `request`: the same HTTP/1.1 connections as
 * Node's `fetch`, without the Web `Request`/`Response`/streams it builds around each call (several
 * times less CPU per call: `bench/upstream-call.ts`). Redirects are not followed: a 3xx is handed
 * to the executor, which reports it as an `http` error, never as success. Needs `undici` installed
 * (an optional peer dependency of `@openchs-bridge/core`); without it every call fails as `network`,
 * naming the missing package.
 *
 * @example
 * ```ts
 * import { createUndiciTransport } from "@openchs-bridge/core/node";
 *
 * const helpline = createOpenChsHelplineClient({ baseUrl, username, password, transport: createUndiciTransport() });
 * ```
 */
export function createUndiciTransport(options: UndiciTransportOptions = {}): UpstreamTransport {
  const dispatcher = options.dispatcher;
  let request: UndiciRequest | undefined;
  // Started now so that the first call does not wait for it; a failure is reported by each call.
  loadUndici().then(
    (loaded) => {
      request = loaded;
    },
    () => {},
  );
  return {
    send: (attempt) =>
      withAttemptDeadline(attempt, async (signal) => {
        request ??= await loadUndici();
        const response = await request(attempt.url, {
          method: attempt.method,
          // fetch's User-Agent, so that changing transports changes nothing an upstream's filters see.
          headers: "user-agent" in attempt.headers ? attempt.headers : { "user-agent": "node", ...attempt.headers },
          body: attempt.body ?? null,
          signal,
          ...(dispatcher ? { dispatcher } : {}),
        });
        const body = await response.body.text();
        return { status: response.statusCode, headers: response.headers, body };
      }),
  };
}
