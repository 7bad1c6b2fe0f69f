import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { toEventError } from "../conversations/events";
import type { BridgeMetricsSource } from "../metrics/exporter";
import { AUTH_FAILURE_REASONS, authReasonLabel, sideLabel, statusLabel, targetLabel } from "../metrics/labels";
import type { ConversationCounts, OutboxStats } from "../store/store";
import { CONVERSATION_STATES } from "../store/store-checks";

/** The families of PROTOCOL.md "Metrics", by name. */
export const METRIC_NAMES = {
  messagesAccepted: "openchs_bridge_messages_accepted_total",
  deliveries: "openchs_bridge_deliveries_total",
  deadLetters: "openchs_bridge_dead_letters",
  outboxPending: "openchs_bridge_outbox_pending",
  outboxOldestAge: "openchs_bridge_outbox_oldest_pending_age_seconds",
  conversations: "openchs_bridge_conversations",
  httpRequests: "openchs_bridge_http_requests_total",
  httpDuration: "openchs_bridge_http_request_duration_seconds",
  authFailures: "openchs_bridge_auth_failures_total",
} as const;

/** What the store says at one scrape; undefined when it did not answer (the gauges are then NaN). */
interface Snapshot {
  outbox: OutboxStats;
  conversations: ConversationCounts;
  now: number;
}

/**
 * Registers the bridge's metrics (PROTOCOL.md "Metrics") in `registry`, a prom-client `Registry` of
 * the host's own (or prom-client's global `register`). Counters follow the bridge's events; the
 * gauges (outbox, dead letters, conversations by state) are read from the store when the registry
 * is scraped: two indexed queries per scrape, shared by every gauge; NaN (and an `error` event) when
 * the store does not answer. Label values are fixed sets
 * (never a conversation id or an address). Returns a function that unregisters them and stops
 * listening.
 *
 * @example
 * ```ts
 * import { register } from "prom-client";
 * import { registerBridgeMetrics } from "@openchs-bridge/core/prometheus";
 *
 * registerBridgeMetrics(bridge, register); // then serve `await register.metrics()` on your own route
 * ```
 */
export function registerBridgeMetrics(bridge: BridgeMetricsSource, registry: Registry): () => void {
  const { events } = bridge;
  const { store, clock } = bridge.options;
  const registers = [registry];

  const accepted = new Counter({
    name: METRIC_NAMES.messagesAccepted,
    help: "Messages accepted (new, not duplicates), by the side that sent them.",
    labelNames: ["side"] as const,
    registers,
  });
  const deliveries = new Counter({
    name: METRIC_NAMES.deliveries,
    help: "Delivery outcomes of outbox jobs (messages, closes, acks, notices), by target.",
    labelNames: ["target", "outcome"] as const,
    registers,
  });
  const requests = new Counter({
    name: METRIC_NAMES.httpRequests,
    help: "HTTP requests answered, by route template and status.",
    labelNames: ["route", "status"] as const,
    registers,
  });
  const duration = new Histogram({
    name: METRIC_NAMES.httpDuration,
    help: "Time to answer an HTTP request, by route template.",
    labelNames: ["route"] as const,
    registers,
  });
  const authFailures = new Counter({
    name: METRIC_NAMES.authFailures,
    help: "Refused credentials (logins, tokens, signatures, the metrics token), by reason.",
    labelNames: ["reason"] as const,
    registers,
  });
  // Every series of a fixed set exists from the start at 0, so rate() and alerts see the first event.
  for (const side of ["chatbot", "helpline"]) accepted.inc({ side }, 0);
  for (const target of ["helpline", "chatbot"]) {
    for (const outcome of ["sent", "retry", "dead_letter"]) deliveries.inc({ target, outcome }, 0);
  }
  for (const reason of AUTH_FAILURE_REASONS) authFailures.inc({ reason }, 0);

  // One store read per scrape, shared by the gauges' collect() (prom-client runs them together).
  let inflight: Promise<Snapshot | undefined> | undefined;
  const snapshot = (): Promise<Snapshot | undefined> => {
    if (inflight) return inflight;
    const now = clock.now();
    const read = Promise.all([store.outboxStats(now), store.conversationCounts()]).then(
      ([outbox, conversations]) => ({ outbox, conversations, now }),
      (error: unknown) => {
        events.emit("error", { where: "metrics", error: toEventError(error) });
        return undefined;
      },
    );
    inflight = read;
    void read.finally(() => {
      if (inflight === read) inflight = undefined;
    });
    return read;
  };
  const storeGauge = (name: string, help: string, value: (s: Snapshot) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const s = await snapshot();
        // Unknown, not 0: a store outage must not read as "no dead letters".
        this.set(s ? value(s) : Number.NaN);
      },
    });
  storeGauge(METRIC_NAMES.deadLetters, "Dead-lettered jobs, kept for replay.", (s) => s.outbox.deadLetters);
  storeGauge(METRIC_NAMES.outboxPending, "Outbox jobs waiting or in flight.", (s) => s.outbox.pending);
  storeGauge(METRIC_NAMES.outboxOldestAge, "Age of the oldest pending outbox job (0 when none).", (s) =>
    s.outbox.oldestPendingAt === undefined ? 0 : Math.max(0, (s.now - s.outbox.oldestPendingAt) / 1000),
  );
  new Gauge({
    name: METRIC_NAMES.conversations,
    help: "Conversations by state.",
    labelNames: ["state"] as const,
    registers,
    async collect() {
      const s = await snapshot();
      for (const state of CONVERSATION_STATES) this.set({ state }, s ? s.conversations[state] : Number.NaN);
    },
  });

  const listeners = {
    "message.accepted": (e: { direction: "to_helpline" | "to_chatbot" }) =>
      accepted.inc({ side: sideLabel(e.direction) }),
    "delivery.sent": (e: { lane: Parameters<typeof targetLabel>[0] }) =>
      deliveries.inc({ target: targetLabel(e.lane), outcome: "sent" }),
    "delivery.retry": (e: { lane: Parameters<typeof targetLabel>[0] }) =>
      deliveries.inc({ target: targetLabel(e.lane), outcome: "retry" }),
    "delivery.dead_letter": (e: { lane: Parameters<typeof targetLabel>[0] }) =>
      deliveries.inc({ target: targetLabel(e.lane), outcome: "dead_letter" }),
    "http.request": (e: { route: string; status: number; ms: number }) => {
      // The handler names the route by its template or `other`: bounded by construction.
      requests.inc({ route: e.route, status: statusLabel(e.status) });
      duration.observe({ route: e.route }, e.ms / 1000);
    },
    "auth.failure": (e: { reason: string }) => authFailures.inc({ reason: authReasonLabel(e.reason) }),
  } as const;
  for (const [name, listener] of Object.entries(listeners)) {
    events.on(name as keyof typeof listeners, listener as never);
  }

  return () => {
    for (const [name, listener] of Object.entries(listeners)) {
      events.off(name as keyof typeof listeners, listener as never);
    }
    for (const name of Object.values(METRIC_NAMES)) registry.removeSingleMetric(name);
  };
}
