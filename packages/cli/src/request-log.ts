/** One structured line per request: never a header value, a body, or a query string. */
export interface RequestLogLine {
  time: string;
  method: string;
  path: string;
  status: number;
  ms: number;
  /** The connection's peer address: personal data, so only when the bridge shows text (`events.includeText`). */
  remote?: string | undefined;
}

export type LogSink = (line: string) => void;

/** Wraps a Web handler so each request writes one JSON line to `sink`; the peer address only with `includeAddress`. */
export function withRequestLog<
  H extends (request: Request, info?: { remoteAddress?: string | undefined }) => Promise<Response>,
>(handler: H, sink: LogSink, options: { includeAddress?: boolean } = {}): H {
  return (async (request: Request, info?: { remoteAddress?: string | undefined }) => {
    const start = performance.now();
    const response = await handler(request, info);
    const line: RequestLogLine = {
      time: new Date().toISOString(),
      method: request.method,
      path: new URL(request.url).pathname,
      status: response.status,
      ms: Math.round((performance.now() - start) * 10) / 10,
      ...(options.includeAddress ? { remote: info?.remoteAddress } : {}),
    };
    sink(JSON.stringify(line));
    return response;
  }) as H;
}
