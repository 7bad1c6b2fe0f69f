import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { clientMessage } from "./support/bridge-client";
import { eventually } from "./support/gateway-process";
import { type System, startSystem } from "./support/system";

/**
 * OpenTelemetry traces of the real `openchs-bridge serve` process (PROTOCOL.md "Traces"): with the
 * standard `OTEL_*` variables pointing at an OTLP/HTTP receiver on loopback, one message is one
 * trace, across the outbox and a restart: the inbound `traceparent` is continued by the server
 * span, the delivery span (in the next process) is in the same trace, and the simulated helpline
 * received a `traceparent` of that trace. Spans are flushed by the graceful stop (SIGTERM).
 */

interface ReceivedExport {
  contentType: string;
  body: Buffer;
}

/** A minimal OTLP/HTTP receiver: accepts `POST /v1/traces` and keeps what it got. */
async function otlpReceiver(): Promise<{ server: Server; endpoint: string; exports: ReceivedExport[] }> {
  const exports: ReceivedExport[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      exports.push({ contentType: req.headers["content-type"] ?? "", body: Buffer.concat(chunks) });
      // An empty ExportTraceServiceResponse: full success, in the encoding asked for.
      if (req.headers["content-type"]?.includes("json")) {
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      } else {
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, endpoint: `http://127.0.0.1:${port}`, exports };
}

/** The spans of OTLP/JSON exports (ids as hex, as the OTLP/JSON encoding says). */
interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
}

function jsonSpans(exports: ReceivedExport[]): { spans: JsonSpan[]; serviceNames: string[] } {
  const spans: JsonSpan[] = [];
  const serviceNames: string[] = [];
  for (const e of exports) {
    const doc = JSON.parse(e.body.toString("utf8")) as {
      resourceSpans: Array<{
        resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
        scopeSpans: Array<{ spans: JsonSpan[] }>;
      }>;
    };
    for (const rs of doc.resourceSpans) {
      const name = rs.resource?.attributes?.find((a) => a.key === "service.name")?.value.stringValue;
      if (name) serviceNames.push(name);
      for (const ss of rs.scopeSpans) spans.push(...ss.spans);
    }
  }
  return { spans, serviceNames };
}

const RUN = randomUUID().slice(0, 8);
const SENTINEL_TEXT = `SENTINEL-TEXT-trace-${RUN}`;
const SENTINEL_CONTACT = `whatsapp:2547${RUN.replace(/\D/g, "7").padEnd(8, "7").slice(0, 8)}`;

const systems: System[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const s of systems.splice(0)) await s.close();
});
afterAll(async () => {
  for (const server of servers) await new Promise((r) => server.close(r));
});

/** A fresh W3C trace, as an instrumented chatbot would send it. */
function inboundTrace() {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

describe("traces of the serve process over OTLP/HTTP", () => {
  it("http/json: one trace from the inbound request, across a restart, to the helpline's request", async () => {
    const receiver = await otlpReceiver();
    servers.push(receiver.server);
    const s = await startSystem({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_SERVICE_NAME: "bridge-under-test",
        BRIDGE_RETRY_SCHEDULE_S: "1,1,1,1,1",
      },
    });
    systems.push(s);
    const session = `trace-${RUN}`;
    const inbound = inboundTrace();

    // The helpline is down: the message waits in the outbox when the first process stops.
    s.helpline.faults.set({ mode: "5xx", status: 503, paths: ["msg/"] });
    const accepted = await s.chatbot.call(
      "POST",
      "chat/",
      { ...clientMessage(session, SENTINEL_CONTACT, "m1", SENTINEL_TEXT) },
      { traceparent: inbound.traceparent },
    );
    expect(accepted.status).toBe(201);
    await eventually("a failed delivery attempt", () => s.helpline.faults.injected["5xx"] > 0);
    expect(await s.gateway.stop()).toBe(0);

    // The next process on the same store delivers it.
    s.helpline.faults.clear();
    await s.gateway.start();
    await eventually("the message at the helpline", () => s.helpline.state.messages(session).length === 1);
    expect(await s.gateway.stop()).toBe(0);

    expect(receiver.exports.length).toBeGreaterThan(0);
    expect(receiver.exports.every((e) => e.contentType.startsWith("application/json"))).toBe(true);
    const { spans, serviceNames } = jsonSpans(receiver.exports);
    expect(new Set(serviceNames)).toEqual(new Set(["bridge-under-test"]));

    const server = spans.find((sp) => sp.name === "POST chat");
    expect(server).toBeDefined();
    expect(server?.traceId).toBe(inbound.traceId);
    expect(server?.parentSpanId).toBe(inbound.spanId);
    const deliveries = spans.filter((sp) => sp.name === "deliver message");
    // At least one failed claim in the first process and the one that delivered in the second.
    expect(deliveries.length).toBeGreaterThanOrEqual(2);
    for (const d of deliveries) {
      expect(d.traceId).toBe(inbound.traceId);
      expect(d.parentSpanId).toBe(server?.spanId);
    }
    const outcome = (sp: JsonSpan) =>
      sp.attributes?.find((a) => a.key === "openchs_bridge.delivery.outcome")?.value.stringValue;
    expect(deliveries.map(outcome)).toContain("sent");
    expect(deliveries.map(outcome)).toContain("retry");

    // The helpline saw the trace on every delivery attempt, the faulted ones included.
    const calls = s.helpline.state.requests.filter((r) => r.path.endsWith("msg/") && r.method === "POST");
    expect(calls.length).toBeGreaterThanOrEqual(2);
    const sent = deliveries.find((d) => outcome(d) === "sent");
    expect(calls.at(-1)?.traceparent).toBe(`00-${inbound.traceId}-${sent?.spanId}-01`);
    for (const call of calls) expect(call.traceparent).toContain(inbound.traceId);

    // No text, contact address or credential in anything exported.
    const everything = receiver.exports.map((e) => e.body.toString("utf8")).join("\n");
    for (const secret of [
      SENTINEL_TEXT,
      SENTINEL_CONTACT,
      s.credentials.chatbotPassword,
      s.credentials.helplineApiPassword,
      s.credentials.rapidproToken,
      s.chatbot.token ?? "no-token",
    ]) {
      expect(everything).not.toContain(secret);
    }
  });

  it("http/protobuf (the default): the serve process exports span batches in protobuf", async () => {
    const receiver = await otlpReceiver();
    servers.push(receiver.server);
    const s = await startSystem({ env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.endpoint}/v1/traces` } });
    systems.push(s);
    const session = `trace-pb-${RUN}`;
    const inbound = inboundTrace();
    const accepted = await s.chatbot.call(
      "POST",
      "chat/",
      clientMessage(session, SENTINEL_CONTACT, "m1", SENTINEL_TEXT),
      { traceparent: inbound.traceparent },
    );
    expect(accepted.status).toBe(201);
    await eventually("the message at the helpline", () => s.helpline.state.messages(session).length === 1);
    expect(await s.gateway.stop()).toBe(0);

    expect(receiver.exports.length).toBeGreaterThan(0);
    expect(receiver.exports.every((e) => e.contentType === "application/x-protobuf")).toBe(true);
    const all = Buffer.concat(receiver.exports.map((e) => e.body));
    // Not decoded: the trace id's 16 raw bytes, and the span names, are in the batch.
    expect(all.includes(Buffer.from(inbound.traceId, "hex"))).toBe(true);
    expect(all.includes(Buffer.from("POST chat"))).toBe(true);
    expect(all.includes(Buffer.from("deliver message"))).toBe(true);
    expect(all.includes(Buffer.from(SENTINEL_TEXT))).toBe(false);
    const calls = s.helpline.state.requests.filter((r) => r.path.endsWith("msg/") && r.method === "POST");
    expect(calls.at(-1)?.traceparent).toContain(inbound.traceId);
  });

  it("without OTEL_* variables exports nothing and sends no traceparent upstream", async () => {
    const s = await startSystem();
    systems.push(s);
    const session = `trace-off-${RUN}`;
    const accepted = await s.chatbot.call(
      "POST",
      "chat/",
      clientMessage(session, SENTINEL_CONTACT, "m1", SENTINEL_TEXT),
      { traceparent: inboundTrace().traceparent },
    );
    expect(accepted.status).toBe(201);
    await eventually("the message at the helpline", () => s.helpline.state.messages(session).length === 1);
    const calls = s.helpline.state.requests.filter((r) => r.path.endsWith("msg/") && r.method === "POST");
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((r) => r.traceparent === undefined)).toBe(true);
  });
});
