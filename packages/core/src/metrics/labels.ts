import type { MessageDirection, OutboxLane } from "../domain/model";

/**
 * Label values of the bridge's metrics, each from a fixed set: a metric label never carries a
 * conversation id, an address or anything a caller chose, so the number of series stays bounded.
 * A value outside the set is counted as `other`.
 */

/** `side` of `messages_accepted_total`: who sent the message. */
export function sideLabel(direction: MessageDirection): "chatbot" | "helpline" {
  return direction === "to_helpline" ? "chatbot" : "helpline";
}

/** `target` of `deliveries_total`: where the job goes (its lane, acks included). */
export function targetLabel(lane: OutboxLane): "helpline" | "chatbot" {
  return lane === "helpline" || lane === "ack:helpline" ? "helpline" : "chatbot";
}

/** Every reason an `auth.failure` event gives (consumer-auth, standard-webhooks, the metrics route). */
export const AUTH_FAILURE_REASONS: ReadonlySet<string> = new Set([
  "invalid_credentials",
  "rate_limited",
  "unauthorized",
  "token_revoked",
  "token_expired",
  "missing_header",
  "invalid_timestamp",
  "timestamp_too_old",
  "timestamp_too_new",
  "invalid_signature",
  "invalid_metrics_token",
]);

export function authReasonLabel(reason: string): string {
  return AUTH_FAILURE_REASONS.has(reason) ? reason : "other";
}

/** `status` of `http_requests_total`: the status code, or `other` outside 100–599. */
export function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : "other";
}

/** A route template (`chat/{session}/close`) as the handler names it; anything else is `other`. */
export function routeLabel(route: string, known: ReadonlySet<string>): string {
  return known.has(route) ? route : "other";
}
