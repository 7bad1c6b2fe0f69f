import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { OutboxJob } from "../domain/model";
import { contextFromStored } from "./stored-context";
import { ATTR, tracer } from "./tracer";

/** How one claim of a job ended. */
export type DeliveryOutcome = "sent" | "retry" | "dead_letter" | "interrupted" | "erased" | "lost";

export interface DeliveryResult {
  outcome: DeliveryOutcome;
  /** The attempt number of the last attempt (all claims counted). */
  attempt?: number | undefined;
  /** The last failure's stable code and upstream HTTP status, when it failed. */
  failure?: { code: string; status?: number | undefined } | undefined;
}

/**
 * Runs one claim of an outbox job inside a delivery span that joins the trace stored with the job
 * (the request that queued it): a child of that context even after a restart or on another
 * instance. The upstream calls made inside carry it as `traceparent`. Attributes: ids, kind, lane,
 * attempt, outcome and HTTP status only.
 */
export async function withDeliverySpan(job: OutboxJob, deliver: () => Promise<DeliveryResult>): Promise<void> {
  const parent = contextFromStored(job.traceContext);
  const span = tracer.startSpan(
    `deliver ${job.kind}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        [ATTR.conversationId]: job.conversationId,
        [ATTR.jobId]: job.id,
        [ATTR.jobKind]: job.kind,
        [ATTR.jobLane]: job.lane,
      },
    },
    parent,
  );
  try {
    const result = await context.with(trace.setSpan(parent, span), deliver);
    span.setAttribute(ATTR.outcome, result.outcome);
    if (result.attempt !== undefined) span.setAttribute(ATTR.attempt, result.attempt);
    if (result.failure) {
      if (result.failure.status !== undefined) span.setAttribute(ATTR.httpStatus, result.failure.status);
      span.setAttribute(ATTR.errorType, result.failure.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: result.failure.code });
    }
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.setAttribute(ATTR.errorType, error instanceof Error ? error.name : "Error");
    throw error;
  } finally {
    span.end();
  }
}
