import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { composeGateway } from "./compose";
import { ConfigError, type GatewayConfig, loadConfig } from "./config";
import { startDeliveryThread } from "./delivery-thread";
import { type RunningGateway, startGateway, usesDeliveryThread } from "./serve";

const CONSUMER = { username: "weni", password: "weni-password", sources: ["WENI"] };

function environment(store: string, helpline: string, thread: string): Record<string, string> {
  return {
    PORT: "0",
    BRIDGE_STORE: store,
    BRIDGE_CONSUMERS: JSON.stringify([CONSUMER]),
    BRIDGE_LOG: "off",
    BRIDGE_DELIVERY_THREAD: thread,
    HELPLINE_URL: `${helpline}helpline/api/`,
    HELPLINE_USERNAME: "bridge",
    HELPLINE_PASSWORD: "helpline-password",
    RAPIDPRO_URL: `${helpline}api/v2/`,
    RAPIDPRO_TOKEN: "rapidpro-token",
    RAPIDPRO_CLOSE_FLOW: "00000000-0000-4000-8000-000000000000",
  };
}

/** A helpline on loopback answering like OpenCHS (login, then `msg/` → 201); it records each message_id. */
async function startHelpline(): Promise<{ server: Server; url: string; received: string[] }> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      if (req.url === "/helpline/api/") {
        res.end(JSON.stringify({ ss: [["session-1", "1", "bridge", "99", "1"]] }));
      } else if (req.url === "/helpline/api/msg/") {
        received.push((JSON.parse(body) as { message_id: string }).message_id);
        res.statusCode = 201;
        res.end("{}");
      } else {
        res.statusCode = 404;
        res.end("{}");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, received };
}

const until = async (check: () => boolean, what: string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe("usesDeliveryThread", () => {
  const config = (store: string, thread: string): GatewayConfig =>
    loadConfig(environment(store, "http://127.0.0.1:9/", thread));

  it("runs the background work in a thread for a store a second connection can open, unless told off", () => {
    expect(usesDeliveryThread(config("sqlite:/tmp/x.db", "on"), {})).toBe(true);
    expect(usesDeliveryThread(config("postgres://u@127.0.0.1/db", "on"), {})).toBe(true);
    expect(usesDeliveryThread(config("sqlite:/tmp/x.db", "off"), {})).toBe(false);
    expect(usesDeliveryThread(config("memory", "auto"), {})).toBe(false);
    expect(usesDeliveryThread(config("sqlite::memory:", "auto"), {})).toBe(false);
    // A test's fetch cannot cross to another thread: the work stays where the fetch is.
    expect(usesDeliveryThread(config("sqlite:/tmp/x.db", "on"), { fetch })).toBe(false);
  });

  it("refuses on with a store only this thread can see, naming the variable", () => {
    expect(() => usesDeliveryThread(config("memory", "on"), {})).toThrow(ConfigError);
    expect(() => usesDeliveryThread(config("memory", "on"), {})).toThrow(/BRIDGE_DELIVERY_THREAD=on needs/);
    expect(() => loadConfig(environment("memory", "http://127.0.0.1:9/", "sometimes"))).toThrow(
      "BRIDGE_DELIVERY_THREAD must be auto, on or off",
    );
  });
});

describe("the delivery thread", () => {
  let dir: string;
  let helpline: Awaited<ReturnType<typeof startHelpline>>;
  let gateway: RunningGateway | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "delivery-thread-"));
    helpline = await startHelpline();
  });

  afterEach(async () => {
    await gateway?.shutdown();
    gateway = undefined;
    await new Promise((resolve) => helpline.server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const send = async (url: string, token: string, id: string) => {
    const answer = await fetch(`${url}chat/`, {
      method: "POST",
      headers: { authorization: `Token ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        chat_session: "session-thread",
        chat_message: "I need help",
        chat_sender: "c0ffee00-0000-4000-8000-000000000001",
        chat_source: "WENI",
        message_id: id,
      }),
    });
    expect(answer.status).toBe(201);
  };

  it("delivers what the main thread accepted, in order, and its events reach the main thread's bridge", async () => {
    const config = loadConfig(environment(`sqlite:${join(dir, "bridge.db")}`, helpline.url, "on"));
    const events: Array<{ name: string; jobId?: number }> = [];
    gateway = await startGateway(config, {
      onComposed({ bridge }) {
        bridge.events.on("delivery.sent", (e) => events.push({ name: "delivery.sent", jobId: e.jobId }));
        bridge.events.on("message.sent", () => events.push({ name: "message.sent" }));
      },
    });
    expect(gateway.deliveryThread).toBe(true);
    const login = await fetch(`${gateway.url}token/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: CONSUMER.username, password: CONSUMER.password }),
    });
    const { token } = (await login.json()) as { token: string };
    const ids = Array.from({ length: 20 }, (_, i) => `thread-${i}`);
    for (const id of ids) await send(gateway.url, token, id);
    await until(() => helpline.received.length >= ids.length, "20 deliveries");
    expect(helpline.received).toEqual(ids);
    // Emitted by the thread's bridge, re-emitted here: what logs and metrics listen to.
    await until(() => events.filter((e) => e.name === "message.sent").length === ids.length, "20 message.sent");
    expect(events.filter((e) => e.name === "delivery.sent")).toHaveLength(ids.length);
    const outbox = await gateway.bridge.readiness();
    expect(outbox).toMatchObject({ status: "ready" });
  });

  it("stops the thread on shutdown; the next start delivers what it had not", async () => {
    // The helpline is down at first: the message waits in the outbox.
    const down = "http://127.0.0.1:9/";
    const file = `sqlite:${join(dir, "bridge.db")}`;
    gateway = await startGateway(loadConfig(environment(file, down, "on")));
    const login = await fetch(`${gateway.url}token/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: CONSUMER.username, password: CONSUMER.password }),
    });
    const { token } = (await login.json()) as { token: string };
    await send(gateway.url, token, "waiting-1");
    await gateway.shutdown({ graceMs: 0 });
    gateway = await startGateway(loadConfig(environment(file, helpline.url, "on")));
    // The job the first thread could not deliver is the new thread's, once its retry is due.
    await until(() => helpline.received.includes("waiting-1"), "the waiting message", 20_000);
    expect(helpline.received).toEqual(["waiting-1"]);
  });
});

describe("a delivery thread that cannot start", () => {
  it("is reported and tried again every second, until stopped", async () => {
    // The thread opens its own store: a directory that cannot be made (a file is in the way).
    const blocker = join(mkdtempSync(join(tmpdir(), "delivery-thread-")), "a-file");
    writeFileSync(blocker, "");
    const config = loadConfig(environment(`sqlite:${blocker}/bridge.db`, "http://127.0.0.1:9/", "on"));
    // The main thread's side: a bridge's events (on the memory store; nothing else of it is used).
    const { bridge, store } = composeGateway(loadConfig(environment("memory", "http://127.0.0.1:9/", "off")));
    const events = bridge.events;
    const failures: Array<{ where: string; code: string }> = [];
    events.on("error", (e) => failures.push({ where: e.where, code: e.error.code }));
    const thread = startDeliveryThread({ config, env: undefined, events });
    await until(() => failures.length >= 2, "two failed starts");
    expect(failures.slice(0, 2)).toEqual([
      { where: "delivery.thread", code: "thread_failed" },
      { where: "delivery.thread", code: "thread_failed" },
    ]);
    await expect(thread.stop(0)).resolves.toEqual([]);
    const after = failures.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(failures.length).toBe(after);
    await store.close();
    rmSync(dirname(blocker), { recursive: true, force: true });
  }, 20_000);
});
