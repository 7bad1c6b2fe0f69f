/**
 * Helpers of the bench's `metrics` scenario (run.ts): a scraper that reads `GET {base}metrics` like
 * Prometheus while the load runs, and the in-process cost of the metrics hooks per message, with
 * metrics off (the path every gateway without `BRIDGE_METRICS_TOKEN` runs) and on (prom-client
 * counting the events of one message).
 */
import { createBridge, createMemoryStore } from "@openchs-bridge/core";
import { prometheusExporter } from "@openchs-bridge/core/prometheus";
import { createBridgeEvents } from "../packages/core/src/conversations/events";
import { CONSUMER, chatBody, median, nowMs, sleep } from "./lib";

/** Scrapes every `intervalMs` until stopped: each answer must be 200 and name the accepted counter. */
export function startScraper(url: string, token: string, intervalMs: number) {
  const times: number[] = [];
  const failures: string[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t0 = nowMs();
      const response = await fetch(`${url}metrics`, { headers: { authorization: `Bearer ${token}` } });
      const text = await response.text();
      times.push(nowMs() - t0);
      if (response.status !== 200 || !text.includes('openchs_bridge_messages_accepted_total{side="chatbot"}')) {
        failures.push(`scrape answered ${response.status}`);
      }
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { scrapes: times.length, medianMs: times.length > 0 ? median(times) : Number.NaN, failures };
    },
  };
}

const REQUEST_URL = "http://bench.test/api/chat/";

/** The events one message causes that metrics count: its request, its acceptance, its delivery. */
function emitOneMessage(events: ReturnType<typeof createBridgeEvents>): void {
  const t0 = performance.now();
  events.emit("message.accepted", {
    conversationId: "bench",
    messageId: "m",
    uuid: "u",
    direction: "to_helpline",
    duplicate: false,
  });
  // The gateway's hook (handler.ts): a clock read, and the event only when someone listens.
  if (events.listenerCount("http.request") > 0) {
    // With a listener the handler matches the path again to name the route (matchRequest).
    const route = new URL(REQUEST_URL).pathname.endsWith("/chat/") ? "chat" : "other";
    events.emit("http.request", { route, method: "POST", status: 201, ms: performance.now() - t0 });
  }
  events.emit("delivery.sent", { jobId: 1, conversationId: "bench", lane: "helpline", kind: "message", attempts: 1 });
}

/**
 * Microseconds per message of the metrics hooks: `off` with no listener (metrics off), `on` with
 * prom-client's counters registered, `bare` the loop alone; median of 5 runs each.
 */
export function metricsHookCostUs(iterations: number): { bareUs: number; offUs: number; onUs: number } {
  const off = createBridgeEvents();
  const on = createBridgeEvents();
  // The bridge's families in a registry of their own, as `serve` has them (the defaults do not count here).
  prometheusExporter({ defaultMetrics: false })({
    events: on,
    options: { store: createMemoryStore(), clock: { now: Date.now } },
  });
  let sink = 0;
  const time = (fn: () => void) => {
    const t0 = nowMs();
    for (let i = 0; i < iterations; i++) fn();
    return ((nowMs() - t0) * 1000) / iterations;
  };
  const runs = { bareUs: [] as number[], offUs: [] as number[], onUs: [] as number[] };
  for (let round = 0; round < 5; round++) {
    runs.bareUs.push(time(() => (sink += performance.now())));
    runs.offUs.push(time(() => emitOneMessage(off)));
    runs.onUs.push(time(() => emitOneMessage(on)));
  }
  if (sink === 0) throw new Error("unreachable: keeps the bare loop from being optimised away");
  return { bareUs: median(runs.bareUs), offUs: median(runs.offUs), onUs: median(runs.onUs) };
}

/**
 * The whole path of a message in one process, without HTTP sockets or other processes: `POST chat/`
 * through `bridge.handler`, then its delivery (`runDue`) to a target that does nothing, on the
 * memory store; a bridge without metrics against one with them, rendered once per 1,000 messages.
 * CPU microseconds per message (`process.cpuUsage`), rounds alternating (and which goes first), median.
 * The least noisy A/B this machine allows: both variants share the process and the minute.
 */
export async function inProcessMessageCostUs(
  messages: number,
  rounds: number,
): Promise<{ offUs: number; onUs: number; renders: number }> {
  const target = { deliverMessage: async () => {}, notifyClose: async () => {} };
  const make = (metrics: boolean) => {
    const bridge = createBridge({
      store: createMemoryStore(),
      helplines: target,
      chatbot: target,
      consumers: [{ ...CONSUMER, sources: ["WENI"] }],
      ...(metrics ? { metrics: { token: "bench-metrics-token-0123456789", exporter: prometheusExporter() } } : {}),
    });
    return { bridge, metrics, cpuUs: [] as number[] };
  };
  const variants = [make(false), make(true)];
  let renders = 0;
  let sent = 0;
  for (let round = 0; round <= rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const { token } = await v.bridge.tokens.issue(CONSUMER.username);
      const headers = { authorization: `Token ${token}`, "content-type": "application/json" };
      const c0 = process.cpuUsage();
      for (let i = 0; i < messages; i++) {
        const id = `ip-${sent++}`;
        const response = await v.bridge.handler(
          new Request("http://bench.test/api/chat/", { method: "POST", headers, body: chatBody(i % 1000, id) }),
        );
        if (response.status !== 201) throw new Error(`in-process POST chat/ answered ${response.status}`);
        if (i % 100 === 99) await v.bridge.runDue();
        if (v.metrics && i % 1000 === 999) {
          const scrape = await v.bridge.handler(
            new Request("http://bench.test/api/metrics", {
              headers: { authorization: "Bearer bench-metrics-token-0123456789" },
            }),
          );
          await scrape.text();
          renders++;
        }
      }
      await v.bridge.runDue();
      const cpu = process.cpuUsage(c0);
      // Round 0 warms up (JIT, conversations created): not counted.
      if (round > 0) v.cpuUs.push((cpu.user + cpu.system) / messages);
    }
  }
  return { offUs: median(variants[0]!.cpuUs), onUs: median(variants[1]!.cpuUs), renders };
}
