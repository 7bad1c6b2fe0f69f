import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from "@opentelemetry/api";
import { ATTR, tracer } from "./tracer";

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

/**
 * Runs one gateway request inside a server span that continues the caller's trace (W3C
 * `traceparent`, through the host's propagator). The span is named by the method until the route
 * is known (`nameServerSpan`), then `{method} {route template}`; never by the concrete path.
 * Attributes: method, route template, status. A 5xx marks the span an error; a 4xx does not (the
 * caller's mistake, per the HTTP semantic conventions for servers).
 */
export async function withServerSpan(request: Request, handle: () => Promise<Response>): Promise<Response> {
  const parent = propagation.extract(ROOT_CONTEXT, request.headers, headerGetter);
  const span = tracer.startSpan(
    request.method,
    { kind: SpanKind.SERVER, attributes: { [ATTR.httpMethod]: request.method } },
    parent,
  );
  try {
    const response = await context.with(trace.setSpan(parent, span), handle);
    span.setAttribute(ATTR.httpStatus, response.status);
    if (response.status >= 500) {
      span.setAttribute(ATTR.errorType, String(response.status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    return response;
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.setAttribute(ATTR.errorType, error instanceof Error ? error.name : "Error");
    throw error;
  } finally {
    span.end();
  }
}

/** Names the active server span by the route template once the route is matched. */
export function nameServerSpan(method: string, route: string): void {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return;
  span.updateName(`${method} ${route}`);
  span.setAttribute(ATTR.httpRoute, route);
}

/** Tags the active span with the conversation it is about (ids are allowed in spans, text is not). */
export function tagConversation(conversationId: string): void {
  trace.getActiveSpan()?.setAttribute(ATTR.conversationId, conversationId);
}
