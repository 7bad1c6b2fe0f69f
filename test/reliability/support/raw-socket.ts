import { connect } from "node:net";
import { sleep } from "./gateway-process";

/** What came back on a raw connection. */
export interface RawResult {
  /** The status of the first response, or undefined when the server closed without one. */
  status: number | undefined;
  /** Everything received (latin1). */
  received: string;
  /** Milliseconds from connect to the server closing (or to giving up). */
  elapsedMs: number;
  /** Whether the server closed the connection. */
  closed: boolean;
  /** Bytes the client managed to send before the server stopped it. */
  sent: number;
}

/**
 * Writes `parts` to a fresh loopback connection, `gapMs` apart, and reads until the server closes
 * or `timeoutMs` passes. A write error (the server hung up) ends the writing, not the reading.
 */
export async function rawExchange(
  port: number,
  parts: Array<string | Uint8Array>,
  options: { gapMs?: number; timeoutMs?: number; keepWriting?: () => string | Uint8Array | undefined } = {},
): Promise<RawResult> {
  const started = Date.now();
  const socket = connect({ port, host: "127.0.0.1" });
  let received = "";
  let closed = false;
  let sent = 0;
  socket.on("data", (d: Buffer) => {
    received += d.toString("latin1");
  });
  socket.on("error", () => {});
  const done = new Promise<void>((resolve) =>
    socket.once("close", () => {
      closed = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  const timeoutMs = options.timeoutMs ?? 10_000;
  const write = async (part: string | Uint8Array) => {
    if (closed || socket.destroyed) return false;
    await new Promise<void>((resolve) => socket.write(part, () => resolve()));
    sent += typeof part === "string" ? Buffer.byteLength(part) : part.byteLength;
    return true;
  };
  for (const part of parts) {
    if (!(await write(part))) break;
    if (options.gapMs) await Promise.race([sleep(options.gapMs), done]);
  }
  if (options.keepWriting) {
    while (!closed && Date.now() - started < timeoutMs) {
      const next = options.keepWriting();
      if (next === undefined) break;
      if (!(await write(next))) break;
      if (options.gapMs) await Promise.race([sleep(options.gapMs), done]);
    }
  }
  await Promise.race([done, sleep(Math.max(0, timeoutMs - (Date.now() - started)))]);
  const elapsedMs = Date.now() - started;
  socket.destroy();
  // The final status: interim answers (100 Continue) are skipped.
  const statuses = [...received.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
  const status = statuses.find((s) => s >= 200);
  return { status, received, elapsedMs, closed, sent };
}

/** What a slow uploader saw: the answer it read while still sending, and how the connection ended. */
export interface UploadResult {
  /** The final status (interim 100 Continue skipped), or undefined when none was read. */
  status: number | undefined;
  /** The final response's body, cut at its `Content-Length`. */
  body: string;
  /** Body bytes (framing not counted) written before the answer was read, and in all. */
  sentBeforeAnswer: number | undefined;
  sent: number;
  /** The socket error the client saw (`ECONNRESET`, `EPIPE`), or undefined for a clean close. */
  error: string | undefined;
  closed: boolean;
}

/**
 * A client like an HTTP library uploading a large body on a slow link: it sends the head, then
 * `bodyBytes` in `chunkBytes` pieces `pauseMs` apart, reading the answer all the while and not
 * stopping when it comes (most clients finish their upload first). With `expectContinue` it waits
 * for the interim `100 Continue` before the body (even when the final answer follows it at once),
 * and sends none if a final answer comes first.
 * `chunked` frames the body with `Transfer-Encoding: chunked` instead of a `Content-Length`.
 */
export async function slowUpload(
  port: number,
  request: { path: string; headers: string[] },
  options: {
    bodyBytes: number;
    chunkBytes?: number;
    pauseMs?: number;
    chunked?: boolean;
    expectContinue?: boolean;
    timeoutMs?: number;
  },
): Promise<UploadResult> {
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const started = Date.now();
  const socket = connect({ port, host: "127.0.0.1" });
  let received = "";
  let error: string | undefined;
  let closed = false;
  let sent = 0;
  let sentBeforeAnswer: number | undefined;
  socket.on("data", (d: Buffer) => {
    received += d.toString("latin1");
    if (sentBeforeAnswer === undefined && finalHead(received)) sentBeforeAnswer = sent;
  });
  socket.on("error", (e: NodeJS.ErrnoException) => {
    error ??= e.code ?? e.message;
  });
  const done = new Promise<void>((resolve) =>
    socket.once("close", () => {
      closed = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  const expired = () => Date.now() - started > timeoutMs;
  const write = (part: string | Uint8Array) =>
    new Promise<boolean>((resolve) => {
      if (closed || socket.destroyed) return resolve(false);
      socket.write(part, (e) => resolve(!e));
    });
  const headers = [
    ...request.headers,
    options.chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${options.bodyBytes}`,
    ...(options.expectContinue ? ["Expect: 100-continue"] : []),
  ];
  await write(`POST ${request.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`);
  let sendBody = true;
  if (options.expectContinue) {
    const continued = () => /^HTTP\/1\.[01] 100 /m.test(received);
    while (!continued() && !finalHead(received) && !closed && !expired()) await sleep(5);
    sendBody = continued() && !closed;
  }
  const chunk = new Uint8Array(chunkBytes).fill(0x20); // spaces: JSON whitespace, should anyone parse it
  for (let left = options.bodyBytes; sendBody && left > 0 && !expired(); left -= chunkBytes) {
    const piece = left >= chunkBytes ? chunk : chunk.subarray(0, left);
    const framed = options.chunked ? [`${piece.byteLength.toString(16)}\r\n`, piece, "\r\n"] : [piece];
    let ok = true;
    for (const part of framed) ok &&= await write(part);
    if (!ok) break;
    sent += piece.byteLength;
    if (options.pauseMs) await Promise.race([sleep(options.pauseMs), done]);
  }
  if (sendBody && options.chunked) await write("0\r\n\r\n");
  // Done with the connection once the answer is whole: hang up our side, as a client would, and
  // see how the server ends it (a clean close, or a reset).
  while (!closed && !expired() && !answerComplete(received)) await sleep(5);
  socket.end();
  await Promise.race([done, sleep(Math.max(0, timeoutMs - (Date.now() - started)))]);
  socket.destroy();
  const head = finalHead(received);
  let body = head ? received.slice(head.end) : "";
  const length = head && contentLength(head.text);
  if (length !== undefined) body = body.slice(0, length);
  return { status: head?.status, body, sentBeforeAnswer, sent, error, closed };
}

const contentLength = (head: string) => {
  const value = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
  return value === undefined ? undefined : Number(value);
};

/** Whether a final answer has been received whole (by its `Content-Length` or its last chunk). */
function answerComplete(received: string): boolean {
  const head = finalHead(received);
  if (!head) return false;
  const length = contentLength(head.text);
  if (length !== undefined) return received.length - head.end >= length;
  return /\r\n0\r\n\r\n$/.test(received.slice(head.end - 2));
}

/** The first complete response head with a final (non-1xx) status, and where its body starts. */
function finalHead(received: string): { status: number; text: string; end: number } | undefined {
  for (const m of received.matchAll(/HTTP\/1\.[01] (\d{3})[\s\S]*?\r\n\r\n/g)) {
    const status = Number(m[1]);
    if (status >= 200) return { status, text: m[0], end: m.index + m[0].length };
  }
  return undefined;
}
