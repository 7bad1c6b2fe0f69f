import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { UpstreamError } from "../errors/upstream-error";
import type { TransportRequest } from "../upstream/transport";
import { createUpstreamHttp } from "../upstream/upstream-http";
import { createUndiciTransport } from "./undici-transport";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** A real node:http server on 127.0.0.1; resolves with its base URL. */
async function serve(handler: Handler): Promise<string> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    handler(req, Buffer.concat(chunks).toString("utf8"), res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`;
}

/** The error an attempt rejected with (fails the test if it resolved). */
async function rejection(pending: Promise<unknown>): Promise<Error> {
  const outcome = await pending.then(
    () => undefined,
    (error: unknown) => error as Error,
  );
  if (!outcome) throw new Error("expected the attempt to fail");
  return outcome;
}

/** A port nothing listens on: one the system gave and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const attempt = (url: string, extra: Partial<TransportRequest> = {}): TransportRequest => ({
  method: "GET",
  url,
  headers: {},
  body: undefined,
  signal: undefined,
  timeoutMs: 5_000,
  ...extra,
});

const client = (baseUrl: string, timeoutMs = 5_000) =>
  createUpstreamHttp({
    label: "Test API",
    baseUrl,
    retry: false,
    timeoutMs,
    transport: createUndiciTransport(),
    createError: (init) => new UpstreamError("test", init),
  });

describe("createUndiciTransport", () => {
  it("sends method, headers and body as given, and hands back status, headers and body text", async () => {
    let seen: {
      method?: string | undefined;
      url?: string | undefined;
      headers?: IncomingMessage["headers"];
      body?: string;
    } = {};
    const url = await serve((req, body, res) => {
      seen = { method: req.method, url: req.url, headers: req.headers, body };
      res.writeHead(201, { "content-type": "application/json", "x-multi": ["a", "b"] });
      res.end('{"ok":"é"}');
    });
    const response = await createUndiciTransport().send(
      attempt(`${url}msg/?x=1`, {
        method: "POST",
        headers: { authorization: "Bearer s", "content-type": "application/json" },
        body: '{"text":"ü"}',
      }),
    );
    expect(seen).toMatchObject({ method: "POST", url: "/api/msg/?x=1", body: '{"text":"ü"}' });
    expect(seen.headers).toMatchObject({
      authorization: "Bearer s",
      "content-type": "application/json",
      "user-agent": "node",
    });
    expect(response.status).toBe(201);
    expect(response.body).toBe('{"ok":"é"}');
    expect(response.headers["content-type"]).toBe("application/json");
    expect(response.headers["x-multi"]).toEqual(["a", "b"]);
  });

  it("through the executor: 2xx validated, statuses mapped to codes, Retry-After read, 3xx not followed", async () => {
    const url = await serve((req, _body, res) => {
      const [status, headers] = (
        {
          "/api/ok": [200, { "content-type": "application/json" }],
          "/api/gone": [404, {}],
          "/api/busy": [503, { "retry-after": "7" }],
          "/api/moved": [301, { location: "/api/ok" }],
        } as Record<string, [number, Record<string, string>]>
      )[req.url ?? ""] ?? [500, {}];
      res.writeHead(status, headers);
      res.end(status === 200 ? '{"id":7}' : "");
    });
    const http = client(url);
    const ok = await http.request({ method: "GET", path: "ok", schema: z.object({ id: z.number() }) });
    expect(ok.data.id).toBe(7);
    expect(ok.headers.get("content-type")).toBe("application/json");
    const fail = (path: string) =>
      http.request({ method: "GET", path }).catch((e: unknown) => e as UpstreamError) as Promise<UpstreamError>;
    expect(await fail("gone")).toMatchObject({ code: "not_found", status: 404 });
    expect(await fail("busy")).toMatchObject({ code: "unavailable", status: 503, retryAfterMs: 7_000 });
    expect(await fail("moved")).toMatchObject({ code: "http", status: 301 });
  });

  it("rejects with a TimeoutError when no answer comes in time, and the executor reports timeout", async () => {
    const url = await serve(() => {});
    const started = Date.now();
    const error = await rejection(createUndiciTransport().send(attempt(url, { timeoutMs: 100 })));
    expect(error.name).toBe("TimeoutError");
    expect(Date.now() - started).toBeLessThan(2_000);
    const mapped = (await client(url, 100)
      .request({ method: "GET", path: "x" })
      .catch((e: unknown) => e)) as UpstreamError;
    expect(mapped.code).toBe("timeout");
    expect(mapped.retriable).toBe(true);
  });

  it("times out an answer whose body stops half-way", async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write('{"partial":');
    });
    const error = await rejection(createUndiciTransport().send(attempt(url, { timeoutMs: 150 })));
    expect(error.name).toBe("TimeoutError");
  });

  it("stops when the caller aborts, before or during the call: aborted, not retried", async () => {
    let calls = 0;
    const url = await serve(() => {
      calls++;
    });
    const controller = new AbortController();
    const pending = createUpstreamHttp({
      label: "Test API",
      baseUrl: url,
      transport: createUndiciTransport(),
      createError: (init) => new UpstreamError("test", init),
    })
      .request({ method: "GET", path: "x", signal: controller.signal })
      .catch((e: unknown) => e as UpstreamError);
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    expect(await pending).toMatchObject({ code: "aborted" });
    expect(calls).toBe(1);
    const early = await rejection(createUndiciTransport().send(attempt(url, { signal: AbortSignal.abort() })));
    expect(early.name).toBe("AbortError");
    expect(calls).toBe(1);
  });

  it("a refused connection is a network error, retriable, naming the cause", async () => {
    const port = await closedPort();
    const error = (await client(`http://127.0.0.1:${port}/api/`)
      .request({ method: "POST", path: "msg/", json: {} })
      .catch((e: unknown) => e)) as UpstreamError;
    expect(error.code).toBe("network");
    expect(error.retriable).toBe(true);
    expect((error.cause as { code?: string }).code).toBe("ECONNREFUSED");
    expect(error.message).toContain("ECONNREFUSED");
  });
});
