import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { UpstreamError } from "../errors/upstream-error";
import type { AuthStrategy } from "./auth-strategy";
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
