import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { toNodeListener, type WebHandler } from "./node-http";

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(handler: WebHandler): Promise<string> {
  const server = createServer(toNodeListener(handler));
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
});
