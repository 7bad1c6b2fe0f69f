import { createServer, request as httpRequest } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { bufferedBody } from "../gateway/buffered-body";
import { type NodeListenerOptions, toNodeListener, type WebHandler } from "./node-listener";

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(handler: WebHandler, options: NodeListenerOptions = {}): Promise<string> {
  const server = createServer(toNodeListener(handler, options));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const echo: WebHandler = async (request) => {
  const bytes = new Uint8Array(await request.arrayBuffer());
  return new Response(bytes, { status: 200, headers: { "x-length": String(bytes.length) } });
};

describe("toNodeListener", () => {
  it("passes request bodies through byte for byte: small, large (streamed) and chunked", async () => {
    const url = await serve(echo);
    for (const size of [0, 1, 1000, 64 * 1024, 64 * 1024 + 1, 300 * 1024]) {
      const body = new Uint8Array(size).map((_, i) => (i * 31) % 251);
      const res = await fetch(url, { method: "POST", body });
      expect(res.headers.get("x-length"), `size ${size}`).toBe(String(size));
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(body);
    }
    const chunked = await fetch(url, {
      method: "POST",
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode("ab"));
          c.enqueue(new TextEncoder().encode("cd"));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(await chunked.text()).toBe("abcd");
  });

  it("hands a small body over as bytes beside the Request, still readable every Web way, once", async () => {
    const seen: Array<Record<string, unknown>> = [];
    const url = await serve(async (request) => {
      const buffered = bufferedBody(request);
      const path = new URL(request.url).pathname;
      if (path === "/large") {
        seen.push({ large: buffered === undefined && request.body instanceof ReadableStream });
        return new Response(null, { status: 204 });
      }
      const read =
        path === "/json" ? await request.json() : path === "/stream" ? await new Response(request.body).text() : null;
      seen.push({ buffered: buffered && new TextDecoder().decode(buffered), read, used: request.bodyUsed });
      if (path === "/twice") {
        await request.text();
        await expect(request.text()).rejects.toThrow(TypeError);
      }
      return new Response(null, { status: 204 });
    });
    for (const path of ["/json", "/stream", "/twice"]) {
      await fetch(`${url}${path}`, { method: "POST", body: '{"a":1}' });
    }
    expect(seen).toEqual([
      { buffered: '{"a":1}', read: { a: 1 }, used: true },
      { buffered: '{"a":1}', read: '{"a":1}', used: true },
      { buffered: '{"a":1}', read: null, used: false },
    ]);
    // A body too large to buffer is a stream, with no bytes beside it.
    await fetch(`${url}/large`, { method: "POST", body: new Uint8Array(64 * 1024 + 1) });
    expect(seen.at(-1)).toEqual({ large: true });
  });

  it("writes a response of several chunks whole, and an empty one", async () => {
    const url = await serve(async (request) => {
      if (new URL(request.url).pathname === "/empty") return new Response(null, { status: 204 });
      const parts = ["one,", "two,", "three"];
      return new Response(
        new ReadableStream({
          pull(c) {
            const part = parts.shift();
            if (part === undefined) c.close();
            else c.enqueue(new TextEncoder().encode(part));
          },
        }),
      );
    });
    expect(await (await fetch(url)).text()).toBe("one,two,three");
    const empty = await fetch(`${url}/empty`);
    expect(empty.status).toBe(204);
    expect(await empty.text()).toBe("");
  });

  it("aborts the request's signal when the client leaves before the answer, and not after a complete one", async () => {
    const signals: AbortSignal[] = [];
    let release: (() => void) | undefined;
    const url = await serve(async (request) => {
      signals.push(request.signal);
      if (new URL(request.url).pathname === "/slow") await new Promise<void>((resolve) => (release = resolve));
      return new Response("done");
    });
    expect(await (await fetch(url)).text()).toBe("done");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(signals[0]!.aborted).toBe(false);

    await new Promise<void>((resolve) => {
      const req = httpRequest(`${url}/slow`, () => {});
      req.on("error", () => resolve());
      req.end();
      const wait = setInterval(() => {
        if (signals.length === 2) {
          clearInterval(wait);
          req.destroy();
        }
      }, 2);
    });
    for (let i = 0; i < 100 && !signals[1]!.aborted; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(signals[1]!.aborted).toBe(true);
    release?.();
  });

  it("after an answer given before the body was read, reads the rest up to its bounds, then closes", async () => {
    const refuse: WebHandler = async () => Response.json({ error: { code: "payload_too_large" } }, { status: 413 });
    const url = await serve(refuse, { drain: { maxBytes: 2 * 2 ** 20, maxMs: 60_000 } });
    // Within the bound: the whole body is read, the answer read while sending, and the close is clean.
    const within = await upload(url, 2 ** 20, { stallAfter: Number.POSITIVE_INFINITY });
    expect(within).toMatchObject({ status: 413, error: undefined, sent: 2 ** 20 });
    expect(within.received).toMatch(/\r\nconnection: close\r\n/i);
    const answer = '{"error":{"code":"payload_too_large"}}';
    expect(within.received).toMatch(new RegExp(`\\r\\ncontent-length: ${answer.length}\\r\\n`, "i"));
    expect(within.received.endsWith(`\r\n\r\n${answer}`)).toBe(true);
    // Past the bound the server stops reading and closes: the client cannot send its 256 MiB.
    const past = await upload(url, 256 * 2 ** 20, { stallAfter: Number.POSITIVE_INFINITY });
    expect(past.status).toBe(413);
    expect(past.sent).toBeLessThan(256 * 2 ** 20);
    // A client that stops sending is closed on at the time bound.
    const stalled = await serve(refuse, { drain: { maxMs: 50 } });
    const idle = await upload(stalled, 2 ** 20, { stallAfter: 64 * 1024 });
    expect(idle).toMatchObject({ status: 413, closed: true, sent: 64 * 1024 });
  });
});

/** Posts `bodyBytes` on a raw socket (64 KiB writes), stopping after `stallAfter` bytes; reads until the server closes. */
async function upload(url: string, bodyBytes: number, options: { stallAfter: number }) {
  const socket = connect({ port: Number(new URL(url).port), host: "127.0.0.1" });
  let received = "";
  let error: string | undefined;
  let closed = false;
  let sent = 0;
  socket.on("data", (d: Buffer) => {
    received += d.toString("latin1");
  });
  socket.on("error", (e: NodeJS.ErrnoException) => {
    error ??= e.code;
  });
  const done = new Promise<void>((resolve) =>
    socket.once("close", () => {
      closed = true;
      resolve();
    }),
  );
  const write = (part: string | Uint8Array) =>
    new Promise<boolean>((resolve) => (closed ? resolve(false) : socket.write(part, (e) => resolve(!e))));
  await write(`POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${bodyBytes}\r\n\r\n`);
  const chunk = new Uint8Array(64 * 1024);
  while (sent < Math.min(bodyBytes, options.stallAfter) && (await write(chunk))) sent += chunk.byteLength;
  if (sent === bodyBytes) socket.end();
  await done;
  const status = /^HTTP\/1\.1 (\d{3})/.exec(received)?.[1];
  return { status: status === undefined ? undefined : Number(status), received, error, closed, sent };
}
