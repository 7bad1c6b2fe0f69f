import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";

/** The bridge's handler signature, as a Node host sees it. */
export type WebHandler = (request: Request, info?: { remoteAddress?: string | undefined }) => Promise<Response>;

/**
 * Bodies that declare a `Content-Length` up to this size are read off the socket before the Web
 * `Request` is built (one buffer: far cheaper than a stream for a chat message); larger or chunked
 * bodies are streamed, so the bridge still refuses an oversized body while reading it.
 */
const BUFFERED_BODY_MAX = 64 * 1024;

/**
 * Converts a Node request to a Web `Request` and writes the Web `Response` back. A small body with a
 * declared length is handed over as one buffer; any other body is streamed, not buffered (the bridge
 * enforces its size limit while reading). The request's `signal` aborts when the client goes away
 * before the answer is complete.
 */
export function toNodeListener(handler: WebHandler, options: { origin?: string } = {}) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const controller = new AbortController();
    // 'close' also follows every complete answer: only a connection lost before it is an abort.
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    try {
      const origin = options.origin ?? `http://${req.headers.host ?? "localhost"}`;
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
      }
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      const request = new Request(new URL(req.url ?? "/", origin), {
        method: req.method ?? "GET",
        headers,
        signal: controller.signal,
        ...(hasBody ? { body: await requestBody(req), duplex: "half" } : {}),
      } as RequestInit);
      const response = await handler(request, { remoteAddress: req.socket.remoteAddress });
      res.statusCode = response.status;
      // Answered before the body was read to its end (e.g. 413): the connection cannot be reused, as
      // the client may still be sending; say so, and Node closes it after the response.
      if (hasBody && !req.complete) res.shouldKeepAlive = false;
      response.headers.forEach((value, name) => {
        res.setHeader(name, value);
      });
      if (!response.body || req.method === "HEAD") {
        res.end();
        return;
      }
      await writeBody(response.body, res);
    } catch {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader("content-type", "application/json");
        res.end('{"error":{"code":"internal_error","message":"internal error"}}');
      } else res.destroy();
    }
  };
}

/** The body for the Web `Request`: one buffer when small and of declared length, else a stream. */
async function requestBody(req: IncomingMessage): Promise<Uint8Array | ReadableStream<Uint8Array>> {
  const declared = req.headers["content-length"];
  const length = declared === undefined ? Number.NaN : Number(declared);
  if (!(length >= 0 && length <= BUFFERED_BODY_MAX) || req.headers["transfer-encoding"] !== undefined) {
    return Readable.toWeb(req) as ReadableStream<Uint8Array>;
  }
  // Node's parser delivers exactly the declared length (or an error), so this stays within the bound.
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** Writes a Web body: a single-chunk body (every JSON answer) in one `end()`, anything longer as it comes. */
async function writeBody(body: ReadableStream<Uint8Array>, res: ServerResponse): Promise<void> {
  const reader = body.getReader();
  const first = await reader.read();
  if (first.done) {
    res.end();
    return;
  }
  let next = await reader.read();
  if (next.done) {
    res.end(first.value);
    return;
  }
  res.write(first.value);
  while (!next.done) {
    res.write(next.value);
    next = await reader.read();
  }
  res.end();
}
