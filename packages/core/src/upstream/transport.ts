export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** One attempt as the executor hands it to a transport: everything resolved, the body serialized. */
export interface TransportRequest {
  method: HttpMethod;
  /** Absolute URL, query included. */
  url: string;
  /** Lower-case names, one value each. */
  headers: Record<string, string>;
  body: string | Uint8Array<ArrayBuffer> | undefined;
  /** The caller's signal: when it fires, stop and reject (with any error: the executor reports `aborted`). */
  signal: AbortSignal | undefined;
  /**
   * The attempt's deadline: without the answer read in full by then, stop and reject with an error
   * named `TimeoutError` (see {@link transportTimeout}).
   */
  timeoutMs: number;
}

/** The answer, read in full. Any status: the executor decides what a status means. */
export interface TransportResponse {
  status: number;
  /** Lower-case names, as Node's `IncomingHttpHeaders`. */
  headers: Record<string, string | string[] | undefined>;
  /** The body as UTF-8 text ("" when there is none). */
  body: string;
}

/**
 * How the upstream executor sends one HTTP attempt. The default is `fetch` (any runtime);
 * `@openchs-bridge/core/node` has one on undici's pooled `request`, cheaper per call on Node.
 * A transport neither retries, nor follows auth, nor reads statuses: it sends, waits at most
 * `timeoutMs`, and hands back what came. Any rejection other than a timeout or the caller's abort
 * counts as a failure to reach the upstream (`network`, retriable).
 */
export interface UpstreamTransport {
  send(request: TransportRequest): Promise<TransportResponse>;
}
