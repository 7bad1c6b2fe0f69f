import {
  type Context,
  context,
  createTraceState,
  isSpanContextValid,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
} from "@opentelemetry/api";
import type { StoredTraceContext } from "../domain/model";

// W3C Trace Context, level 1: `version-traceid-parentid-flags`, lower-case hex.
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The active span's context as W3C strings, to store with an outbox job so its delivery (later,
 * after a restart, on another instance) joins the same trace. Written in the W3C format directly,
 * not through the host's propagator: what is stored must read back whatever propagator the
 * instance that delivers it has. Undefined when no span is active (tracing off costs one lookup).
 */
export function captureTraceContext(from: Context = context.active()): StoredTraceContext | undefined {
  const span = trace.getSpanContext(from);
  if (!span || !isSpanContextValid(span)) return undefined;
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, "0");
  const traceparent = `00-${span.traceId}-${span.spanId}-${flags}`;
  const tracestate = span.traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/** A context whose (remote) parent is the stored span; the root context when none or unreadable. */
export function contextFromStored(stored: StoredTraceContext | undefined): Context {
  const match = stored ? TRACEPARENT.exec(stored.traceparent) : null;
  if (!match) return ROOT_CONTEXT;
  const span: SpanContext = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16),
    isRemote: true,
    ...(stored?.tracestate ? { traceState: createTraceState(stored.tracestate) } : {}),
  };
  return isSpanContextValid(span) ? trace.setSpanContext(ROOT_CONTEXT, span) : ROOT_CONTEXT;
}
