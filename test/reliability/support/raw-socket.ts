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
