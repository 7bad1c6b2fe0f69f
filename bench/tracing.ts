/**
 * Helpers of the bench's `tracing` scenario (run.ts): an OTLP/HTTP sink the traced bridge exports
 * to, and the in-process cost of the core's tracing calls when no OpenTelemetry SDK is registered
 * (the no-OTEL path every gateway without `OTEL_*` runs).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { OutboxJob } from "@openchs-bridge/core";
import { withDeliverySpan } from "../packages/core/src/tracing/delivery-span";
import { nameServerSpan, tagConversation, withServerSpan } from "../packages/core/src/tracing/server-span";
import { captureTraceContext } from "../packages/core/src/tracing/stored-context";
import { nowMs } from "./lib";

/** Accepts `POST /v1/traces` (any encoding), answers 200, counts batches and bytes. */
export async function otlpSink(): Promise<{ url: string; batches: () => number; close: () => Promise<void> }> {
  let batches = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.url === "/v1/traces") batches++;
      res.writeHead(200, { "content-type": req.headers["content-type"] ?? "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    batches: () => batches,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const JOB: OutboxJob = {
  id: 1,
  conversationId: "bench",
  lane: "helpline",
  kind: "message",
  payload: {},
  attempts: 0,
  nextAttemptAt: 0,
  createdAt: new Date(0).toISOString(),
};

/**
 * What the tracing calls of one message cost with no SDK registered (`@opentelemetry/api` no-ops):
 * the server span around the request, its name and conversation, the context captured for the job,
 * the delivery span. Microseconds per message, traced minus the same work untraced, median of 5.
 */
export async function noopTracingCostUs(iterations: number): Promise<{ tracedUs: number; bareUs: number }> {
  const request = new Request("http://bench.test/api/chat/", { method: "POST" });
  const response = new Response(null, { status: 201 });
  const deliver = async () => ({ outcome: "sent" as const });
  const bare = async () => {
    await deliver();
    return response;
  };
  const traced = () =>
    withServerSpan(request, async () => {
      nameServerSpan("POST", "chat");
      tagConversation("bench");
      captureTraceContext();
      await withDeliverySpan(JOB, deliver);
      return response;
    });
  const time = async (fn: () => Promise<Response>) => {
    const t0 = nowMs();
    for (let i = 0; i < iterations; i++) await fn();
    return ((nowMs() - t0) * 1000) / iterations;
  };
  const tracedRuns: number[] = [];
  const bareRuns: number[] = [];
  for (let round = 0; round < 5; round++) {
    bareRuns.push(await time(bare));
    tracedRuns.push(await time(traced));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return { tracedUs: median(tracedRuns), bareUs: median(bareRuns) };
}
