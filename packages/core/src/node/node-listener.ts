import type { IncomingMessage, ServerResponse } from "node:http";
// The error table and body only (pure, bundled into this entry): the rest of the core is not loaded.
import { ERROR_STATUS, errorBody } from "../errors/bridge-error";
import { BUFFERED_BODY } from "../gateway/buffered-body";

/** The bridge's handler signature, as a Node host sees it. */
export type WebHandler = (request: Request, info?: { remoteAddress?: string | undefined }) => Promise<Response>;

/**
 * Bodies that declare a `Content-Length` up to this size are read off the socket before the Web
 * `Request` is built (one buffer: far cheaper than a stream for a chat message); larger or chunked
 * bodies are streamed, so the bridge still refuses an oversized body while reading it.
 */
const BUFFERED_BODY_MAX = 64 * 1024;

/**
 * An answer given before the request body was read to its end (413, 401, 415, …) is sent while the
 * client may still be sending. Closing then, with its bytes unread, makes the kernel reset the
 * connection, and a client that reads only after its upload sees ECONNRESET/EPIPE instead of the
 * answer. So the rest of the body is read and discarded, up to this many bytes and this long, and
 * only then is the connection closed (cleanly, when the client sent no more than that).
 */
const DRAIN_MAX_BYTES = 8 * 2 ** 20;
const DRAIN_MAX_MS = 5_000;

/** Options of `toNodeListener`. */
export interface NodeListenerOptions {
  /** The origin of request URLs. Default `http://<Host header>`. */
  origin?: string;
  /** After an answer given before the body was read: how much more of it to read, and how long. */
  drain?: { maxBytes?: number; maxMs?: number };
}

/**
 * Converts a Node request to a Web `Request` and writes the Web `Response` back. A small body with a
 * declared length is handed over as one buffer; any other body is streamed, not buffered (the bridge
 * enforces its size limit while reading). The request's `signal` aborts when the client goes away
 * before the answer is complete. An answer given before the body was read is followed by a bounded
 * drain of the rest (see `DRAIN_MAX_BYTES`), then the connection is closed.
 *
 * Hand-written rather than `@hono/node-server`'s `getRequestListener`: that one stops draining an
 * early-answered upload after 500 ms (`DRAIN_TIMEOUT_MS` in its listener) and closes with bytes
 * unread, so a client still sending a slow 4 MiB body gets a reset instead of its 413. The host
 * conformance suite's slow uploads (test/hosts/host-conformance.ts) fail on it (2.1.9) and pass here.
 */
export function toNodeListener(handler: WebHandler, options: NodeListenerOptions = {}) {
  const limits = { maxBytes: options.drain?.maxBytes ?? DRAIN_MAX_BYTES, maxMs: options.drain?.maxMs ?? DRAIN_MAX_MS };
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const controller = new AbortController();
    // 'close' also follows every complete answer: only a connection lost before it is an abort.
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    let body: RequestBody | undefined;
    try {
      const origin = options.origin ?? `http://${req.headers.host ?? "localhost"}`;
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
      }
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      if (hasBody) body = await requestBody(req);
      const url = new URL(req.url ?? "/", origin);
      const init = { method: req.method ?? "GET", headers, signal: controller.signal };
      const request =
        body?.body instanceof Uint8Array
          ? new BufferedRequest(url, init, body.body)
          : new Request(url, { ...init, ...(body ? { body: body.body, duplex: "half" } : {}) } as RequestInit);
      const response = await handler(request, { remoteAddress: req.socket.remoteAddress });
      res.statusCode = response.status;
      response.headers.forEach((value, name) => {
        res.setHeader(name, value);
      });
      if (body && !req.complete) {
        await answerThenDrain(req, res, response, body, limits);
        return;
      }
      if (!response.body || req.method === "HEAD") {
        res.end();
        return;
      }
      await writeBody(response.body, res);
    } catch {
      body?.release();
      if (!res.headersSent) {
        res.statusCode = ERROR_STATUS.internal_error;
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(errorBody("internal_error", "internal error")));
      } else res.destroy();
    }
  };
}

/**
 * A `Request` whose small body was read off the socket already: the bytes ride along under
 * `BUFFERED_BODY`, which the bridge's handler reads directly, and a Web stream is made of them only
 * if something reads `body`, `text()`, `json()`… (then through a real `Request` holding them).
 */
class BufferedRequest extends Request {
  readonly [BUFFERED_BODY]: Uint8Array;
  #withBody: Request | undefined;

  constructor(url: URL, init: RequestInit, bytes: Uint8Array) {
    super(url, init);
    this[BUFFERED_BODY] = bytes;
  }

  #full(): Request {
    this.#withBody ??= new Request(this.url, {
      method: this.method,
      headers: this.headers,
      signal: this.signal,
      body: this[BUFFERED_BODY],
      duplex: "half",
    } as RequestInit);
    return this.#withBody;
  }

  override get body() {
    return this.#full().body;
  }
  override get bodyUsed() {
    return this.#withBody?.bodyUsed ?? false;
  }
  override arrayBuffer() {
    return this.#full().arrayBuffer();
  }
  override blob() {
    return this.#full().blob();
  }
  override bytes() {
    return this.#full().bytes();
  }
  override formData() {
    return this.#full().formData();
  }
  override json() {
    return this.#full().json();
  }
  override text() {
    return this.#full().text();
  }
  override clone(): Request {
    return this.#full().clone();
  }
}

/** The body handed to the Web `Request`, and a way to take the Node stream back from it. */
interface RequestBody {
  body: Uint8Array | ReadableStream<Uint8Array>;
  /** Stops feeding the Web stream and leaves the Node request paused, for the drain to read. */
  release(): void;
}

/** The body for the Web `Request`: one buffer when small and of declared length, else a stream. */
async function requestBody(req: IncomingMessage): Promise<RequestBody> {
  const declared = req.headers["content-length"];
  const length = declared === undefined ? Number.NaN : Number(declared);
  if (!(length >= 0 && length <= BUFFERED_BODY_MAX) || req.headers["transfer-encoding"] !== undefined) {
    return streamedBody(req);
  }
  // Node's parser delivers exactly the declared length (or an error), so this stays within the bound.
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return { body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), release: () => {} };
}

/**
 * The Node request as a Web stream with backpressure. Unlike `Readable.toWeb`, cancelling it (the
 * bridge does at its size limit) does not destroy the request: destroying an incomplete request
 * destroys the socket, with the answer not yet written. The request is only detached and paused.
 */
function streamedBody(req: IncomingMessage): RequestBody {
  let release = () => {};
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let open = true;
        const onData = (chunk: Buffer) => {
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        };
        const onEnd = () => {
          release();
          controller.close();
        };
        const onError = (error: unknown) => {
          release();
          controller.error(error);
        };
        // A connection lost mid-body closes the request without 'end' (or 'error', on some versions).
        const onClose = () => {
          if (open) onError(new Error("the client closed the connection before the end of the body"));
        };
        release = () => {
          if (!open) return;
          open = false;
          req.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
          req.pause();
        };
        req.on("data", onData).once("end", onEnd).once("error", onError).once("close", onClose);
      },
      pull() {
        req.resume();
      },
      cancel() {
        release();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: BUFFERED_BODY_MAX }),
  );
  return { body, release: () => release() };
}

/**
 * Writes an answer given before the body was read, then reads and discards the rest of the body
 * (bounded) before ending the answer: Node closes the connection (`Connection: close`) only once the
 * answer ends, so the client's remaining bytes are read instead of causing a reset. The body goes
 * out whole with its `Content-Length` (these answers are short errors), so the client can read it
 * while still sending.
 */
async function answerThenDrain(
  req: IncomingMessage,
  res: ServerResponse,
  response: Response,
  body: RequestBody,
  limits: DrainLimits,
): Promise<void> {
  body.release();
  res.shouldKeepAlive = false;
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 204 && response.status !== 304) res.setHeader("content-length", bytes.byteLength);
  if (bytes.byteLength > 0) res.write(bytes);
  else res.flushHeaders();
  await drain(req, limits);
  res.end();
}

type DrainLimits = { maxBytes: number; maxMs: number };

/** Reads and discards the rest of a request body, up to `limits.maxBytes` and `limits.maxMs`. */
function drain(req: IncomingMessage, limits: DrainLimits): Promise<void> {
  return new Promise<void>((resolve) => {
    let drained = 0;
    const done = () => {
      clearTimeout(timer);
      req.off("data", onData).off("end", done).off("close", done).off("error", done);
      req.pause(); // past the bound: the rest stays unread, and the close may reset
      resolve();
    };
    const onData = (chunk: Buffer) => {
      drained += chunk.byteLength;
      if (drained > limits.maxBytes) done();
    };
    const timer = setTimeout(done, limits.maxMs);
    timer.unref();
    req.on("data", onData).once("end", done).once("close", done).once("error", done);
    if (req.complete || req.destroyed) done();
    else req.resume();
  });
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
