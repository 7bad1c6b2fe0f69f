import { connect } from "node:net";
import { gunzipSync } from "node:zlib";

/** An HTTP/1.1 answer as it came off the socket. */
export interface RawAnswer {
  status: number;
  /** Header names lower-cased; a repeated header keeps its last value. */
  headers: Record<string, string>;
  /** The body bytes (de-chunked when the answer was chunked). */
  body: Buffer;
  /** The body as UTF-8 text. */
  text: string;
}

/**
 * Writes `request` (the exact bytes of a caller's request) on a fresh loopback connection and reads
 * one answer: the head, then the body by `Content-Length`, by chunks, or up to the close. Interim
 * answers (1xx) are skipped. The connection is closed afterwards, as each caller here opens a new
 * one per request (curl in `kurl()`, a new Go request, a Postman send).
 */
export function exchange(port: number, request: Buffer, timeoutMs = 15_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, answer?: RawAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(answer!);
    };
    const timer = setTimeout(
      () => finish(new Error(`no complete answer within ${timeoutMs} ms (got ${received.length} bytes)`)),
      timeoutMs,
    );
    const tryParse = (closed: boolean) => {
      const answer = parseAnswer(received, closed);
      if (answer) finish(undefined, answer);
      else if (closed) finish(new Error(`the server closed after ${received.length} bytes without a full answer`));
    };
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      tryParse(false);
    });
    socket.on("end", () => tryParse(true));
    socket.on("error", (error) => finish(error));
    socket.on("connect", () => socket.write(request));
  });
}

/** The first final answer in `data`, or undefined when more bytes are needed. */
function parseAnswer(data: Buffer, closed: boolean): RawAnswer | undefined {
  let offset = 0;
  for (;;) {
    const end = data.indexOf("\r\n\r\n", offset);
    if (end < 0) return undefined;
    const lines = data.subarray(offset, end).toString("latin1").split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1]);
    if (!status) throw new Error(`not an HTTP answer: ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const start = end + 4;
    if (status < 200) {
      offset = start;
      continue;
    }
    let body: Buffer | undefined;
    if (/chunked/i.test(headers["transfer-encoding"] ?? "")) body = dechunk(data.subarray(start));
    else if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      if (data.length - start >= length) body = data.subarray(start, start + length);
    } else if (closed || status === 204 || status === 304) body = data.subarray(start);
    if (!body) return undefined;
    // Go's transport and Postman ask for gzip and decode it before the caller reads the body.
    if (/^gzip$/i.test(headers["content-encoding"] ?? "")) body = gunzipSync(body);
    return { status, headers, body, text: body.toString("utf8") };
  }
}

function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf("\r\n", offset);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(data.subarray(offset, lineEnd).toString("latin1"), 16);
    if (Number.isNaN(size)) throw new Error("bad chunk size");
    const start = lineEnd + 2;
    if (size === 0) return data.indexOf("\r\n", start) < 0 ? undefined : Buffer.concat(parts);
    if (data.length < start + size + 2) return undefined;
    parts.push(data.subarray(start, start + size));
    offset = start + size + 2;
  }
}
