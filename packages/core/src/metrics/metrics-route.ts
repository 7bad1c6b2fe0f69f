import type { BridgeEvents } from "../conversations/events";
import { toEventError } from "../conversations/events";
import { BridgeError } from "../errors/bridge-error";
import { timingSafeEqualStrings } from "../signing/timing-safe-equal";
import type { MetricsExporter } from "./exporter";

/** What `GET {basePath}metrics` needs: the scraper's token and the exporter that renders the text. */
export interface MetricsRouteDeps {
  token: string;
  exporter: MetricsExporter;
  events: BridgeEvents;
}

/**
 * `GET {basePath}metrics` (PROTOCOL.md "Metrics"): the exposition, for a scraper that sends
 * `Authorization: Bearer <token>`; else 401 `unauthorized` (and an `auth.failure`, so guessing shows).
 * Without `deps` (no `metrics` option) the route does not exist: 404.
 */
export async function metricsResponse(request: Request, deps: MetricsRouteDeps | undefined): Promise<Response> {
  if (!deps) throw new BridgeError("route_not_found", "no such route");
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer +(\S+)\s*$/i.exec(header);
  if (!match?.[1] || !timingSafeEqualStrings(match[1], deps.token)) {
    deps.events.emit("auth.failure", { reason: "invalid_metrics_token" });
    throw new BridgeError("unauthorized", "missing or invalid metrics token");
  }
  let body: string;
  try {
    body = await deps.exporter.render();
  } catch (error) {
    deps.events.emit("error", { where: "metrics", error: toEventError(error) });
    throw new BridgeError("internal_error", "the metrics could not be rendered");
  }
  return new Response(body, {
    status: 200,
    headers: { "content-type": deps.exporter.contentType, "cache-control": "no-store" },
  });
}
