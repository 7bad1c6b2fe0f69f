import { trace } from "@opentelemetry/api";

/**
 * The core's one tracer. `@opentelemetry/api` only: a no-op until the host registers an SDK (the
 * CLI does when `OTEL_*` asks for it), and a proxy, so an SDK registered after this module loaded
 * is still used.
 */
export const tracer = trace.getTracer("@openchs-bridge/core");

/**
 * Span attribute names. OpenTelemetry's semantic conventions where one fits (`http.*`), the
 * bridge's own under `openchs_bridge.` otherwise. Ids, kinds and codes only: never message text,
 * tokens or contact addresses.
 */
export const ATTR = {
  httpMethod: "http.request.method",
  httpRoute: "http.route",
  httpStatus: "http.response.status_code",
  errorType: "error.type",
  conversationId: "openchs_bridge.conversation.id",
  jobId: "openchs_bridge.job.id",
  jobKind: "openchs_bridge.job.kind",
  jobLane: "openchs_bridge.job.lane",
  attempt: "openchs_bridge.delivery.attempt",
  outcome: "openchs_bridge.delivery.outcome",
} as const;
