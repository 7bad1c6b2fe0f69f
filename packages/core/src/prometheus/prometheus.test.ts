import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  bridgeHarness,
  CHATBOT_USER,
  clientMessage,
  HELPLINE_USER,
  upstreamFailure,
} from "../../test-support/bridge-harness";
import type { Conversation } from "../domain/model";
import { createMemoryStore } from "../store/memory-store";
import type { NewOutboxJob, Store } from "../store/store";
import { METRIC_NAMES, prometheusExporter, registerBridgeMetrics } from "./index";

const TOKEN = "metrics-token-0123456789abcdef";

/** PROTOCOL.md "Metrics": every family, its type and its label names, exactly. */
const TABLE: Record<string, { type: string; labels: string[] }> = {
  openchs_bridge_messages_accepted_total: { type: "counter", labels: ["side"] },
  openchs_bridge_deliveries_total: { type: "counter", labels: ["outcome", "target"] },
  openchs_bridge_dead_letters: { type: "gauge", labels: [] },
  openchs_bridge_outbox_pending: { type: "gauge", labels: [] },
  openchs_bridge_outbox_oldest_pending_age_seconds: { type: "gauge", labels: [] },
  openchs_bridge_conversations: { type: "gauge", labels: ["state"] },
  openchs_bridge_http_requests_total: { type: "counter", labels: ["route", "status"] },
  openchs_bridge_http_request_duration_seconds: { type: "histogram", labels: ["route"] },
  openchs_bridge_auth_failures_total: { type: "counter", labels: ["reason"] },
};

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict reader of the Prometheus text format (0.0.4): TYPE lines and samples; throws on anything else. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ")) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a Prometheus text line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) {
      labels[pair[1]!] = pair[2]!;
    }
    samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
  }
  return { types, samples };
}

/** The family a sample belongs to (histogram series end in _bucket, _sum, _count). */
function familyOf(name: string, types: Map<string, string>): string {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  if (types.get(base) === "histogram") return base;
  throw new Error(`sample ${name} has no TYPE`);
}

function metricsHarness(options: { store?: Store } = {}) {
  const h = bridgeHarness({ ...options, metrics: { token: TOKEN, exporter: prometheusExporter() } });
  /** `null`: no Authorization header. */
  const scrape = async (authorization: string | null = `Bearer ${TOKEN}`) => {
    const response = await h.bridge.handler(
      new Request("http://bridge.test/api/metrics", { headers: authorization !== null ? { authorization } : {} }),
    );
    return { status: response.status, headers: response.headers, text: await response.text() };
  };
  const parsed = async () => {
    const answer = await scrape();
    expect(answer.status).toBe(200);
    return { ...parseExposition(answer.text), text: answer.text };
  };
  return { ...h, scrape, parsed };
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe("GET {base}metrics", () => {
  it("answers the protocol's families, types and label names exactly, with the process and Node.js defaults", async () => {
    const h = metricsHarness();
    const sent: string[] = [];
    h.bridge.events.on("delivery.sent", (e) => sent.push(`${e.lane} ${e.kind}`));
    const chatbot = await h.login(CHATBOT_USER);
    const helpline = await h.login(HELPLINE_USER);
    await h.call("POST", "chat/", { token: chatbot, body: clientMessage("s1", "hello", { message_id: "c1" }) });
    h.helpline.failNext(upstreamFailure(503)); // one quick retry, then sent
    await h.bridge.runDue();
    await h.call("POST", "chat/", {
      token: helpline,
      body: { chat_session: "s1", chat_message: "hi", chat_source: "OUTBOX", chat_receiver: "101", message_id: "h1" },
    });
    h.chatbot.failNext(upstreamFailure(400)); // never retried: a dead letter
    await h.bridge.runDue();
    await h.call("POST", "token/", { body: { username: "weni", password: "wrong-password" } });

    const { types, samples, text } = await h.parsed();
    for (const [name, family] of Object.entries(TABLE)) {
      expect(types.get(name), name).toBe(family.type);
      const series = samples.filter((s) => familyOf(s.name, types) === name);
      expect(series.length, name).toBeGreaterThan(0);
      for (const s of series) {
        expect(
          Object.keys(s.labels)
            .filter((l) => l !== "le")
            .sort(),
          s.name,
        ).toEqual(family.labels);
      }
    }
    expect(value(samples, METRIC_NAMES.messagesAccepted, { side: "chatbot" })).toBe(1);
    expect(value(samples, METRIC_NAMES.messagesAccepted, { side: "helpline" })).toBe(1);
    // Sent: the child's message, then the failure ack of the dead reply (an ack is a delivery too).
    expect(sent).toEqual(["helpline message", "ack:helpline ack"]);
    expect(value(samples, METRIC_NAMES.deliveries, { target: "helpline", outcome: "sent" })).toBe(2);
    expect(value(samples, METRIC_NAMES.deliveries, { target: "helpline", outcome: "retry" })).toBe(1);
    expect(value(samples, METRIC_NAMES.deliveries, { target: "chatbot", outcome: "dead_letter" })).toBe(1);
    expect(value(samples, METRIC_NAMES.deliveries, { target: "chatbot", outcome: "sent" })).toBe(0);
    expect(value(samples, METRIC_NAMES.deadLetters)).toBe(1);
    expect(value(samples, METRIC_NAMES.authFailures, { reason: "invalid_credentials" })).toBe(1);
    expect(value(samples, METRIC_NAMES.httpRequests, { route: "chat", status: "201" })).toBe(2);
    expect(value(samples, METRIC_NAMES.httpRequests, { route: "token", status: "401" })).toBe(1);
    expect(value(samples, `${METRIC_NAMES.httpDuration}_count`, { route: "token" })).toBe(3);
    // prom-client's defaults: process and runtime.
    expect(types.get("process_cpu_user_seconds_total")).toBe("counter");
    expect(types.get("process_resident_memory_bytes")).toBe("gauge");
    expect(types.get("nodejs_eventloop_lag_seconds")).toBe("gauge");
    // Bounded labels: no conversation id, contact address, text or token anywhere in the answer.
    for (const secret of ["s1", "hello", clientMessage("s1", "").chat_sender, "weni-password-1", chatbot]) {
      expect(text).not.toMatch(new RegExp(`"${secret}"`));
    }
    expect(text).not.toContain(chatbot);
  });

  it("is 404 without the metrics option, 401 without or with a wrong Bearer token, 200 with it", async () => {
    const plain = bridgeHarness();
    const off = await plain.bridge.handler(
      new Request("http://bridge.test/api/metrics", { headers: { authorization: `Bearer ${TOKEN}` } }),
    );
    expect(off.status).toBe(404);
    expect((await off.json()).error.code).toBe("route_not_found");

    const h = metricsHarness();
    for (const authorization of [null, "Bearer wrong-token-0123456789abcdef", `Token ${TOKEN}`, TOKEN]) {
      const refused = await h.scrape(authorization);
      expect(refused.status, String(authorization)).toBe(401);
      expect(JSON.parse(refused.text).error.code).toBe("unauthorized");
      expect(refused.text).not.toContain(TOKEN);
    }
    const ok = await h.scrape();
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples } = parseExposition(ok.text);
    expect(value(samples, METRIC_NAMES.authFailures, { reason: "invalid_metrics_token" })).toBe(4);
    expect(h.events.filter((e) => e.name === "auth.failure")).toHaveLength(4);
    const post = await h.bridge.handler(
      new Request("http://bridge.test/api/metrics", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } }),
    );
    expect(post.status).toBe(405);
  });

  it("names requests by route template, an unknown path `other`, never a conversation id", async () => {
    const h = metricsHarness();
    const chatbot = await h.login(CHATBOT_USER);
    const session = "child-session-7f3a";
    await h.call("POST", "chat/", { token: chatbot, body: clientMessage(session, "text", { message_id: "m1" }) });
    await h.call("GET", `chat/${session}/`, { token: chatbot });
    await h.call("POST", `chat/${session}/close/`, { token: chatbot, body: { chat_source: "WENI" } });
    await h.call("GET", `nope/${session}`, { token: chatbot });
    await h.bridge.handler(new Request(`http://bridge.test/elsewhere/${session}`));
    const { samples, text } = await h.parsed();
    expect(text).not.toContain(session);
    const routes = new Set(samples.filter((s) => s.name === METRIC_NAMES.httpRequests).map((s) => s.labels.route));
    expect(routes).toEqual(new Set(["token", "chat", "chat/{session}", "chat/{session}/close", "other"]));
    expect(value(samples, METRIC_NAMES.httpRequests, { route: "other", status: "404" })).toBe(2);
  });

  it("reads the gauges from the store at each scrape, in one read shared by the gauges", async () => {
    const store = createMemoryStore();
    let reads = 0;
    const counted: Store = {
      ...store,
      outboxStats: (now) => {
        reads++;
        return store.outboxStats(now);
      },
    };
    const h = metricsHarness({ store: counted });
    const conversation = (id: string, state: Conversation["state"]): Conversation => ({
      id,
      state,
      origin: "webhook",
      helpline: "default",
      contact: "c",
      huntCount: 0,
      createdAt: "2026-01-01T00:00:00.000Z",
      updatedAt: "2026-01-01T00:00:00.000Z",
      version: 1,
    });
    const job = (conversationId: string, createdAt: string): NewOutboxJob => ({
      conversationId,
      lane: "helpline",
      kind: "close",
      payload: {},
      attempts: 0,
      nextAttemptAt: h.clock.now() + 3_600_000,
      createdAt,
    });
    await store.transaction(async (tx) => {
      for (const [id, state] of [
        ["a", "requested"],
        ["b", "hunting"],
        ["c", "hunting"],
        ["d", "connected"],
        ["e", "closed"],
      ] as const) {
        await tx.insertConversation(conversation(id, state));
      }
      await tx.enqueueJob(job("a", "2025-12-31T23:50:00.000Z")); // 10 minutes before the clock
      await tx.enqueueJob(job("b", "2025-12-31T23:59:00.000Z"));
      const dead = await tx.enqueueJob(job("c", "2025-12-31T23:00:00.000Z"));
      await tx.deadLetterJob(dead.id, { attempts: 3, deadAt: h.clock.now(), lastError: { code: "x", status: 400 } });
    });
    const { samples } = await h.parsed();
    expect(reads).toBe(1);
    expect(value(samples, METRIC_NAMES.outboxPending)).toBe(2);
    expect(value(samples, METRIC_NAMES.deadLetters)).toBe(1);
    expect(value(samples, METRIC_NAMES.outboxOldestAge)).toBe(600);
    for (const [state, n] of Object.entries({ requested: 1, hunting: 2, connected: 1, closed: 1 })) {
      expect(value(samples, METRIC_NAMES.conversations, { state }), state).toBe(n);
    }

    // Read again at the next scrape: the clock moved, the queue emptied.
    h.clock.advance(60_000);
    const pending = await store.pendingJobs();
    await store.transaction(async (tx) => {
      for (const job of pending) await tx.deleteJob(job.id);
    });
    const again = await h.parsed();
    expect(reads).toBe(2);
    expect(value(again.samples, METRIC_NAMES.outboxPending)).toBe(0);
    expect(value(again.samples, METRIC_NAMES.outboxOldestAge)).toBe(0);
  });

  it("answers the store's gauges NaN (unknown, not 0) when the store fails, and still the counters", async () => {
    const store = createMemoryStore();
    let failing = false;
    const flaky: Store = {
      ...store,
      conversationCounts: () => (failing ? Promise.reject(new Error("store down")) : store.conversationCounts()),
    };
    const h = metricsHarness({ store: flaky });
    failing = true;
    const { samples, types } = await h.parsed();
    expect(types.get(METRIC_NAMES.outboxPending)).toBe("gauge");
    expect(value(samples, METRIC_NAMES.outboxPending)).toBeNaN();
    expect(value(samples, METRIC_NAMES.deadLetters)).toBeNaN();
    expect(value(samples, METRIC_NAMES.conversations, { state: "closed" })).toBeNaN();
    expect(value(samples, METRIC_NAMES.messagesAccepted, { side: "chatbot" })).toBe(0);
    expect(h.events).toContainEqual({ name: "error", payload: expect.objectContaining({ where: "metrics" }) });
  });
});

describe("registerBridgeMetrics", () => {
  it("publishes the same families in an embedding host's own registry, beside its metrics, and unregisters", async () => {
    const h = bridgeHarness();
    const registry = new Registry();
    const own = new Counter({ name: "host_jobs_total", help: "the host's own", registers: [registry] });
    own.inc();
    const unregister = registerBridgeMetrics(h.bridge, registry);
    const chatbot = await h.login(CHATBOT_USER);
    await h.call("POST", "chat/", { token: chatbot, body: clientMessage("s1", "hello", { message_id: "c1" }) });

    const { types, samples } = parseExposition(await registry.metrics());
    expect(value(samples, "host_jobs_total")).toBe(1);
    for (const [name, family] of Object.entries(TABLE)) expect(types.get(name), name).toBe(family.type);
    expect(value(samples, METRIC_NAMES.messagesAccepted, { side: "chatbot" })).toBe(1);
    expect(value(samples, METRIC_NAMES.conversations, { state: "requested" })).toBe(1);
    // The host's registry gets no process defaults it did not ask for.
    expect(types.has("process_cpu_user_seconds_total")).toBe(false);

    unregister();
    await h.call("POST", "chat/", { token: chatbot, body: clientMessage("s2", "again", { message_id: "c2" }) });
    const after = parseExposition(await registry.metrics());
    expect([...after.types.keys()]).toEqual(["host_jobs_total"]);
    expect(h.bridge.events.listenerCount("message.accepted")).toBe(1); // the harness's own recorder
  });

  it("refuses a metrics token shorter than 16 characters", () => {
    expect(() => bridgeHarness({ metrics: { token: "short", exporter: prometheusExporter() } })).toThrow(
      /metrics\.token/,
    );
  });
});
