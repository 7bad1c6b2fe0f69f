import type { Logger } from "./logger";

/** One structured line per request: never a header value, a body, or a query string. */
export interface RequestLogLine {
  time: string;
  level: "debug" | "info";
  msg: "request";
  method: string;
  path: string;
  status: number;
  ms: number;
  /** The connection's peer address: personal data, so only when the bridge shows text (`events.includeText`). */
  remote?: string | undefined;
}

/** Where a host's log lines go, one JSON line per call (no trailing newline). */
export type LogSink = (line: string) => void;

/** Probes polled by orchestrators and scrapers: logged at `debug`, so that they do not flood `info`. */
const PROBES = ["health", "ready", "metrics"];

/**
 * Wraps a Web handler so each request writes one line to `logger`: `info`, or `debug` for the probes
 * under `basePath` (default `/api/`); the peer address only with `includeAddress`.
 */
export function withRequestLog<
  H extends (request: Request, info?: { remoteAddress?: string | undefined }) => Promise<Response>,
>(handler: H, logger: Logger, options: { includeAddress?: boolean; basePath?: string } = {}): H {
  const probes = new Set(
    PROBES.flatMap((name) => [`${options.basePath ?? "/api/"}${name}`, `${options.basePath ?? "/api/"}${name}/`]),
  );
  return (async (request: Request, info?: { remoteAddress?: string | undefined }) => {
    const start = performance.now();
    const response = await handler(request, info);
    const path = new URL(request.url).pathname;
    const level = probes.has(path) ? "debug" : "info";
    if (!logger.isLevelEnabled(level)) return response;
    logger[level](
      {
        method: request.method,
        path,
        status: response.status,
        ms: Math.round((performance.now() - start) * 10) / 10,
        ...(options.includeAddress ? { remote: info?.remoteAddress } : {}),
      },
      "request",
    );
    return response;
  }) as H;
}
