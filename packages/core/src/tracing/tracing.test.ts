import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bridgeHarness, CHATBOT_USER, clientMessage } from "../../test-support/bridge-harness";
import { UpstreamError } from "../errors/upstream-error";
import type { HelplineTarget } from "../ports/helpline-target";
import { createSqliteStore } from "../store/sqlite/sqlite-store";
import type { Store } from "../store/store";
import { createUpstreamHttp } from "../upstream/upstream-http";

// An SDK as a host registers it (the CLI does when OTEL_* asks): in-memory export, async-local
// context, W3C propagation. The core itself only speaks @opentelemetry/api.
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const server = setupServer();
beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  server.listen({ onUnhandledFrame: "error" });
});
const dirs: string[] = [];
afterEach(() => {
  exporter.reset();
  server.resetHandlers();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
afterAll(async () => {
  server.close();
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

const INBOUND_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const INBOUND_SPAN = "00f067aa0ba902b7";
const TRACEPARENT = `00-${INBOUND_TRACE}-${INBOUND_SPAN}-01`;
const SENTINEL_TEXT = "SENTINEL-child-says-help";
const SENTINEL_CONTACT = "whatsapp:+254700SENTINEL";
const HELPLINE = "https://helpline.test/api/";

/** A helpline target on the upstream toolkit both real clients use; msw records the headers it sent. */
function httpHelpline(): { target: HelplineTarget; seen: Headers[] } {
  const seen: Headers[] = [];
  server.use(
    http.post(`${HELPLINE}msg/`, ({ request }) => {
      seen.push(request.headers);
      return HttpResponse.json({ ok: true });
    }),
  );
  const upstream = createUpstreamHttp({
    label: "test helpline",
    baseUrl: HELPLINE,
    retry: false,
    headers: { authorization: "Bearer upstream-secret-token" },
    createError: (init) => new UpstreamError("test", init),
  });
  const target: HelplineTarget = {
    async deliverMessage(message, { signal }) {
      await upstream.request({ method: "POST", path: "msg/", json: message, signal });
    },
    async notifyClose() {},
  };
  return { target, seen };
}

function sqliteFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "bridge-tracing-"));
  dirs.push(dir);
  return join(dir, "bridge.db");
}

async function postTraced(h: ReturnType<typeof bridgeHarness>, headers: Record<string, string> = {}) {
  const token = await h.login(CHATBOT_USER);
  const res = await h.call("POST", "chat/", {
    token,
    headers,
    body: clientMessage("s1", SENTINEL_TEXT, { message_id: "m1", chat_sender: SENTINEL_CONTACT }),
  });
  expect(res.status).toBe(201);
  return token;
}

const spans = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe("one trace per message across the outbox", () => {
  it("continues an inbound traceparent with a server span named by the route template", async () => {
    const h = bridgeHarness();
    await postTraced(h, { traceparent: TRACEPARENT });
    const [server] = spans("POST chat");
    expect(server?.spanContext().traceId).toBe(INBOUND_TRACE);
    expect(parentOf(server!)).toBe(INBOUND_SPAN);
    expect(server?.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "chat",
      "http.response.status_code": 201,
      "openchs_bridge.conversation.id": "s1",
    });
    // The job carries the server span's context, not the caller's: the delivery is its child.
    const [job] = await h.store.pendingJobs("s1");
    expect(job?.traceContext?.traceparent).toBe(`00-${INBOUND_TRACE}-${server?.spanContext().spanId}-01`);
  });

  it("names spans by the template, never the concrete path", async () => {
    const h = bridgeHarness();
    const token = await postTraced(h);
    await h.call("POST", "chat/s1/close/", { token, body: { chat_source: "WENI" } });
    await h.call("GET", "chat/nope-session/", { token });
    await h.call("GET", "no/such/route");
    const names = exporter.getFinishedSpans().map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining(["POST chat", "POST chat/{session}/close", "GET chat/{session}", "GET"]),
    );
    expect(names.join(" ")).not.toMatch(/nope-session|such/);
  });

  it("puts the delivery span in the same trace and sends its traceparent upstream", async () => {
    const helpline = httpHelpline();
    const h = bridgeHarness({ helplines: helpline.target });
    await postTraced(h, { traceparent: TRACEPARENT });
    await h.bridge.runDue();
    const [server] = spans("POST chat");
    const [delivery] = spans("deliver message");
    expect(delivery?.spanContext().traceId).toBe(INBOUND_TRACE);
    expect(parentOf(delivery!)).toBe(server?.spanContext().spanId);
    expect(delivery?.attributes).toMatchObject({
      "openchs_bridge.conversation.id": "s1",
      "openchs_bridge.job.kind": "message",
      "openchs_bridge.job.lane": "helpline",
      "openchs_bridge.delivery.attempt": 1,
      "openchs_bridge.delivery.outcome": "sent",
    });
    expect(helpline.seen).toHaveLength(1);
    expect(helpline.seen[0]?.get("traceparent")).toBe(`00-${INBOUND_TRACE}-${delivery?.spanContext().spanId}-01`);
  });

  it("records a failed delivery's outcome and upstream status on its span", async () => {
    const helpline = httpHelpline();
    // The helpline is down: replaces the handler that answered 200.
    server.resetHandlers(http.post(`${HELPLINE}msg/`, () => HttpResponse.json({ detail: "down" }, { status: 503 })));
    const h = bridgeHarness({ helplines: helpline.target });
    await postTraced(h);
    await h.bridge.runDue();
    const [delivery] = spans("deliver message");
    expect(delivery?.attributes).toMatchObject({
      "openchs_bridge.delivery.outcome": "retry",
      "http.response.status_code": 503,
    });
    expect(delivery?.status.code).toBe(2); // SpanStatusCode.ERROR
  });

  it("joins the trace after a restart: another bridge on the same store delivers it in the same trace", async () => {
    const file = sqliteFile();
    const first = bridgeHarness({ store: createSqliteStore(file) });
    await postTraced(first, { traceparent: TRACEPARENT });
    const [server] = spans("POST chat");
    await first.store.close(); // the process is gone before delivering

    const helpline = httpHelpline();
    const store: Store = createSqliteStore(file);
    const second = bridgeHarness({ store, helplines: helpline.target });
    await second.bridge.runDue();
    await store.close();
    const [delivery] = spans("deliver message");
    expect(delivery?.spanContext().traceId).toBe(INBOUND_TRACE);
    expect(parentOf(delivery!)).toBe(server?.spanContext().spanId);
    expect(helpline.seen[0]?.get("traceparent")).toContain(INBOUND_TRACE);
  });

  it("puts no message text, contact address, token or password in any span", async () => {
    const helpline = httpHelpline();
    const h = bridgeHarness({ helplines: helpline.target });
    const token = await postTraced(h, { traceparent: TRACEPARENT });
    await h.bridge.runDue();
    await h.call("GET", "chat/s1/", { token });
    const everything = JSON.stringify(
      exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })),
    );
    expect(exporter.getFinishedSpans().length).toBeGreaterThanOrEqual(4);
    for (const secret of [SENTINEL_TEXT, SENTINEL_CONTACT, token, CHATBOT_USER.password, "upstream-secret-token"]) {
      expect(everything).not.toContain(secret);
    }
  });
});
