import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { UpstreamError } from "../errors/upstream-error";
import { transportTimeout } from "./attempt-deadline";
import type { AuthStrategy } from "./auth-strategy";
import type { TransportRequest, TransportResponse, UpstreamTransport } from "./transport";
import { createUpstreamHttp } from "./upstream-http";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const BASE = "https://upstream.test/api/";
const make = (extra: Partial<Parameters<typeof createUpstreamHttp>[0]> = {}) =>
  createUpstreamHttp({
    label: "Test API",
    baseUrl: BASE,
    retry: { minDelayMs: 1, maxDelayMs: 5, jitter: false },
    createError: (init) => new UpstreamError("test", init),
    ...extra,
  });

describe("createUpstreamHttp", () => {
  it("validates answers with the schema and keeps trailing slashes", async () => {
    let seen = "";
    server.use(
      http.get(`${BASE}things/`, ({ request }) => {
        seen = new URL(request.url).pathname;
        return HttpResponse.json({ id: 7 });
      }),
    );
    const res = await make().request({ method: "GET", path: "things/", schema: z.object({ id: z.number() }) });
    expect(res.data.id).toBe(7);
    expect(seen).toBe("/api/things/");
  });

  it("reports a wrong shape as invalid_response naming what was expected, without the value", async () => {
    server.use(http.get(`${BASE}things/`, () => HttpResponse.json({ id: "secret-text" })));
    const err = await make()
      .request({ method: "GET", path: "things/", schema: z.object({ id: z.number() }) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).code).toBe("invalid_response");
    expect((err as UpstreamError).message).toMatch(/expected number at id/);
    expect((err as UpstreamError).message).not.toContain("secret-text");
  });

  it("retries 503 on an idempotent call and succeeds", async () => {
    let calls = 0;
    server.use(
      http.get(`${BASE}flaky`, () => (++calls < 3 ? new HttpResponse(null, { status: 503 }) : HttpResponse.json({}))),
    );
    await make().request({ method: "GET", path: "flaky" });
    expect(calls).toBe(3);
  });

  it("never retries a POST without an idempotency key", async () => {
    let calls = 0;
    server.use(
      http.post(`${BASE}create`, () => {
        calls++;
        return new HttpResponse(null, { status: 503 });
      }),
    );
    const err = await make()
      .request({ method: "POST", path: "create", json: {} })
      .catch((e: unknown) => e);
    expect((err as UpstreamError).code).toBe("unavailable");
    expect(calls).toBe(1);
  });

  it("retries a POST that carries an Idempotency-Key", async () => {
    let calls = 0;
    server.use(
      http.post(`${BASE}create`, () => (++calls < 2 ? new HttpResponse(null, { status: 502 }) : HttpResponse.json({}))),
    );
    await make().request({ method: "POST", path: "create", json: {}, headers: { "Idempotency-Key": "k1" } });
    expect(calls).toBe(2);
  });

  it("does not wait for a Retry-After longer than allowed and reports it", async () => {
    let calls = 0;
    server.use(
      http.get(`${BASE}limited`, () => {
        calls++;
        return new HttpResponse(null, { status: 429, headers: { "Retry-After": "3600" } });
      }),
    );
    const err = (await make()
      .request({ method: "GET", path: "limited" })
      .catch((e: unknown) => e)) as UpstreamError;
    expect(err.code).toBe("rate_limited");
    expect(err.retryAfterMs).toBe(3_600_000);
    expect(err.retriable).toBe(true);
    expect(calls).toBe(1);
  });

  it("on 401 invalidates the credential that was sent, re-authenticates once and retries once", async () => {
    let token = "t1";
    const invalidated: string[] = [];
    const auth: AuthStrategy = {
      headers: async () => ({ authorization: `Bearer ${token}` }),
      invalidate: (sent) => {
        invalidated.push(sent.authorization ?? "");
        token = "t2";
      },
    };
    server.use(
      http.post(`${BASE}msg/`, ({ request }) =>
        request.headers.get("authorization") === "Bearer t2"
          ? HttpResponse.json({ ok: 1 }, { status: 201 })
          : new HttpResponse(null, { status: 401 }),
      ),
    );
    const res = await make({ auth }).request({ method: "POST", path: "msg/", json: {} });
    expect(res.status).toBe(201);
    expect(invalidated).toEqual(["Bearer t1"]);
  });

  it("a second 401 is an auth error with the credential redacted", async () => {
    const auth: AuthStrategy = { headers: async () => ({ authorization: "Bearer sess-123" }), invalidate: () => {} };
    let calls = 0;
    server.use(
      http.get(`${BASE}x`, () => {
        calls++;
        return new HttpResponse(null, { status: 401 });
      }),
    );
    const err = (await make({ auth })
      .request({ method: "GET", path: "x" })
      .catch((e: unknown) => e)) as UpstreamError;
    expect(err.code).toBe("auth");
    expect(calls).toBe(2);
    expect(err.request?.headers.authorization).toBe("Bearer [REDACTED]");
    expect(JSON.stringify(err) + String(err) + err.stack).not.toContain("sess-123");
  });

  it("maps connection failures to network errors", async () => {
    server.use(http.get(`${BASE}down`, () => HttpResponse.error()));
    const err = (await make({ retry: false })
      .request({ method: "GET", path: "down" })
      .catch((e: unknown) => e)) as UpstreamError;
    expect(err.code).toBe("network");
    expect(err.retriable).toBe(true);
  });
});

describe("createUpstreamHttp: what is sent and how answers are read", () => {
  it("merges headers case-insensitively: defaults < client headers < auth < call headers; json sets content-type", async () => {
    let seen: Headers | undefined;
    let body = "";
    server.use(
      http.post(`${BASE}msg/`, async ({ request }) => {
        seen = request.headers;
        body = await request.text();
        return HttpResponse.json({ ok: true }, { headers: { "x-answer": "1" } });
      }),
    );
    const res = await make({
      headers: { "X-Client": "c", Accept: "application/vnd.test+json" },
      auth: { headers: async () => ({ Authorization: "Bearer a" }), invalidate: () => {} },
    }).request({ method: "POST", path: "msg/", json: { text: "hi" }, headers: { "x-client": "call" } });
    expect(seen?.get("accept")).toBe("application/vnd.test+json");
    expect(seen?.get("x-client")).toBe("call");
    expect(seen?.get("authorization")).toBe("Bearer a");
    expect(seen?.get("content-type")).toBe("application/json");
    expect(JSON.parse(body)).toEqual({ text: "hi" });
    expect(res.headers.get("x-answer")).toBe("1");
  });

  it("keeps a content-type the call names, and sends search parameters without the undefined ones", async () => {
    let seen: Request | undefined;
    server.use(
      http.post(`${BASE}raw`, ({ request }) => {
        seen = request;
        return HttpResponse.json({});
      }),
    );
    await make().request({
      method: "POST",
      path: "raw",
      body: "a=1",
      headers: { "Content-Type": "text/plain" },
      searchParams: { page: 2, skip: undefined, q: "x y" },
    });
    expect(seen?.headers.get("content-type")).toBe("text/plain");
    expect(new URL(seen!.url).search).toBe("?page=2&q=x+y");
    expect(await seen?.text()).toBe("a=1");
  });

  it("sends a stream body again on a retry (read once into bytes)", async () => {
    const bodies: string[] = [];
    server.use(
      http.put(`${BASE}doc`, async ({ request }) => {
        bodies.push(await request.text());
        return bodies.length < 2 ? new HttpResponse(null, { status: 503 }) : HttpResponse.json({});
      }),
    );
    const stream = new Blob(["payload"]).stream();
    await make().request({ method: "PUT", path: "doc", body: stream });
    expect(bodies).toEqual(["payload", "payload"]);
  });

  it("reports a 2xx whose body is not JSON as invalid_response, without the body", async () => {
    server.use(http.get(`${BASE}html`, () => new HttpResponse("<html>secret-page</html>", { status: 200 })));
    const err = (await make()
      .request({ method: "GET", path: "html" })
      .catch((e: unknown) => e)) as UpstreamError;
    expect(err.code).toBe("invalid_response");
    expect(err.message).not.toContain("secret-page");
  });

  it("hands describeError the parsed body for a JSON type, the text otherwise", async () => {
    const bodies: unknown[] = [];
    server.use(
      http.get(`${BASE}json`, () => HttpResponse.json({ detail: "nope" }, { status: 400 })),
      http.get(`${BASE}text`, () => new HttpResponse("plain refusal", { status: 400 })),
    );
    const client = make({
      describeError: (_status, body) => {
        bodies.push(body);
        return { message: "refused" };
      },
    });
    const err = (await client.request({ method: "GET", path: "json" }).catch((e: unknown) => e)) as UpstreamError;
    await client.request({ method: "GET", path: "text" }).catch(() => {});
    expect(bodies).toEqual([{ detail: "nope" }, "plain refusal"]);
    expect(err.code).toBe("validation");
    expect(err.message).toContain("failed with 400 (validation): refused");
  });

  it("times out an attempt that gets no answer: timeout, retriable", async () => {
    server.use(http.get(`${BASE}slow`, () => new Promise<Response>(() => {})));
    const started = Date.now();
    const err = (await make({ retry: false, timeoutMs: 50 })
      .request({ method: "GET", path: "slow" })
      .catch((e: unknown) => e)) as UpstreamError;
    expect(err.code).toBe("timeout");
    expect(err.retriable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("the caller's abort ends the call as aborted, also while waiting to retry, and is not retried", async () => {
    let calls = 0;
    server.use(
      http.get(`${BASE}busy`, () => {
        calls++;
        return new HttpResponse(null, { status: 503 });
      }),
    );
    const controller = new AbortController();
    const pending = make({ retry: { minDelayMs: 10_000, maxDelayMs: 10_000, jitter: false } })
      .request({ method: "GET", path: "busy", signal: controller.signal })
      .catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    const err = (await pending) as UpstreamError;
    expect(err.code).toBe("aborted");
    expect(calls).toBe(1);
    const before = (await make()
      .request({ method: "GET", path: "busy", signal: AbortSignal.abort() })
      .catch((e: unknown) => e)) as UpstreamError;
    expect(before.code).toBe("aborted");
    expect(calls).toBe(1);
  });

  it("rejects a timeout setTimeout cannot keep", () => {
    expect(() => make({ timeoutMs: 0 })).toThrow(RangeError);
    expect(() => make({ timeoutMs: 2 ** 31 })).toThrow(RangeError);
  });
});

describe("createUpstreamHttp with a transport", () => {
  const answer = (status: number, body = "", headers: Record<string, string> = {}): TransportResponse => ({
    status,
    headers,
    body,
  });
  const recording = (answers: TransportResponse[]) => {
    const sent: TransportRequest[] = [];
    const transport: UpstreamTransport = {
      send: async (request) => {
        sent.push(request);
        return answers[Math.min(sent.length - 1, answers.length - 1)]!;
      },
    };
    return { sent, transport };
  };

  it("hands the transport the resolved attempt, and not fetch", async () => {
    const { sent, transport } = recording([answer(201, '{"id":1}', { "content-type": "application/json" })]);
    const fetchSpy = vi.fn<typeof fetch>();
    const res = await make({ transport, fetch: fetchSpy, timeoutMs: 1234, headers: { "X-Tenant": "t" } }).request({
      method: "POST",
      path: "msg/",
      json: { a: 1 },
      searchParams: { x: "1" },
      schema: z.object({ id: z.number() }),
    });
    expect(res).toMatchObject({ status: 201, data: { id: 1 } });
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(sent).toEqual([
      {
        method: "POST",
        url: `${BASE}msg/?x=1`,
        headers: { accept: "application/json", "x-tenant": "t", "content-type": "application/json" },
        body: '{"a":1}',
        signal: undefined,
        timeoutMs: 1234,
      },
    ]);
  });

  it("never takes a redirect for success", async () => {
    const { transport } = recording([answer(302, "", { location: "https://elsewhere.test/" })]);
    const err = (await make({ transport })
      .request({ method: "POST", path: "msg/", json: {} })
      .catch((e: unknown) => e)) as UpstreamError;
    expect(err.code).toBe("http");
    expect(err.status).toBe(302);
  });

  it("maps a transport's TimeoutError to timeout and anything else it throws to network, retrying both", async () => {
    let calls = 0;
    const failing = (error: Error): UpstreamTransport => ({
      send: async () => {
        calls++;
        throw error;
      },
    });
    const timeout = (await make({ transport: failing(transportTimeout(5)) })
      .request({ method: "GET", path: "x" })
      .catch((e: unknown) => e)) as UpstreamError;
    expect(timeout.code).toBe("timeout");
    expect(calls).toBe(3);
    calls = 0;
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    const network = (await make({ transport: failing(refused) })
      .request({ method: "GET", path: "x" })
      .catch((e: unknown) => e)) as UpstreamError;
    expect(network.code).toBe("network");
    expect(network.cause).toBe(refused);
    expect(network.message).toContain("failed to connect: connect ECONNREFUSED");
    expect(calls).toBe(3);
  });

  it("redacts the credential in the error's request", async () => {
    const { transport } = recording([answer(500)]);
    const err = (await make({
      transport,
      retry: false,
      auth: { headers: async () => ({ authorization: "Token secret-token" }), invalidate: () => {} },
    })
      .request({ method: "GET", path: "x", searchParams: { token: "secret-query" } })
      .catch((e: unknown) => e)) as UpstreamError;
    expect(err.request?.headers.authorization).toBe("Token [REDACTED]");
    expect(JSON.stringify(err) + String(err) + err.stack).not.toMatch(/secret-token|secret-query/);
  });
});
