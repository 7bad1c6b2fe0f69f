import { EventEmitter } from "node:events";
import type { BridgeEvents } from "@openchs-bridge/core";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config";
import { createLogger, EVENT_LEVELS, LOG_LEVELS, type LogLevel, logBridgeEvents, sinkDestination } from "./logger";
import { withRequestLog } from "./request-log";

/** The bridge's emitter is eventemitter3; node's has the same on/emit. */
const createBridgeEvents = () => new EventEmitter() as unknown as BridgeEvents;

function collect(level: LogLevel, includeText = false) {
  const lines: string[] = [];
  const logger = createLogger({ level, includeText, destination: sinkDestination((l) => lines.push(l)) });
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const retry = {
  jobId: 7,
  conversationId: "c-1",
  lane: "helpline" as const,
  kind: "message" as const,
  quick: false,
  attempt: 2,
  nextAttemptAt: 0,
  error: { code: "validation", status: 422, message: "invalid message 'SENTINEL-TEXT hello'" },
};

describe("createLogger", () => {
  it("writes one JSON line with the level name, an ISO time and msg, and no pid or hostname", () => {
    const { logger, lines, parsed } = collect("info");
    logger.info({ event: "listening", url: "http://127.0.0.1:1/api/" }, "listening");
    expect(lines).toHaveLength(1);
    const [line] = parsed();
    expect(Object.keys(line!).sort()).toEqual(["event", "level", "msg", "time", "url"]);
    expect(line).toMatchObject({ level: "info", msg: "listening", event: "listening" });
    expect(new Date(line!.time as string).toISOString()).toBe(line!.time);
  });

  it("writes only the lines at or above its level", () => {
    for (const [level, expected] of [
      ["debug", ["debug", "info", "warn", "error"]],
      ["info", ["info", "warn", "error"]],
      ["warn", ["warn", "error"]],
      ["error", ["error"]],
    ] as const) {
      const { logger, parsed } = collect(level);
      logger.debug("d");
      logger.info("i");
      logger.warn("w");
      logger.error("e");
      expect(parsed().map((l) => l.level)).toEqual(expected);
    }
  });

  it("removes text, addresses and credentials that reach it while text is off, and keeps them when on", () => {
    const line = { payload: { text: "SENTINEL-TEXT", address: "10.0.0.9", conversationId: "c-1" }, password: "pw" };
    const off = collect("debug");
    off.logger.info(line, "x");
    expect(off.lines[0]).not.toMatch(/SENTINEL|10\.0\.0\.9|"pw"/);
    expect(off.parsed()[0]).toMatchObject({ payload: { conversationId: "c-1" } });
    const on = collect("debug", true);
    on.logger.info(line, "x");
    expect(on.parsed()[0]).toMatchObject({ payload: { text: "SENTINEL-TEXT", address: "10.0.0.9" } });
  });
});

describe("logBridgeEvents", () => {
  it("logs each event at the level of the table, with event, payload and msg", () => {
    const events = createBridgeEvents();
    const { logger, parsed } = collect("debug");
    logBridgeEvents(events, logger, { includeText: false });
    events.emit("delivery.retry", retry);
    events.emit("delivery.dead_letter", { ...retry, attempts: 3 });
    events.emit("auth.failure", { reason: "invalid_credentials", consumer: "chatbot" });
    events.emit("error", { where: "housekeeping", error: { code: "ERR_SQLITE_ERROR", message: "locked" } });
    events.emit("message.accepted", {
      conversationId: "c-1",
      messageId: "m-1",
      uuid: "u-1",
      direction: "to_helpline",
      duplicate: false,
    });
    events.emit("conversation.closed", { conversationId: "c-1", closedBy: "system", reason: "no_counselor" });
    expect(parsed().map((l) => [l.event, l.level, l.msg === l.event])).toEqual([
      ["delivery.retry", "warn", true],
      ["delivery.dead_letter", "error", true],
      ["auth.failure", "warn", true],
      ["error", "error", true],
      ["message.accepted", "debug", true],
      ["conversation.closed", "info", true],
    ]);
    expect(parsed()[5]).toMatchObject({ payload: { conversationId: "c-1", reason: "no_counselor" } });
  });

  it("keeps the table's levels to the four of BRIDGE_LOG_LEVEL, with retries, refusals and failures above info", () => {
    expect(new Set(Object.values(EVENT_LEVELS))).toEqual(new Set(["debug", "info", "warn", "error"]));
    expect([EVENT_LEVELS["delivery.retry"], EVENT_LEVELS["auth.failure"]]).toEqual(["warn", "warn"]);
    expect([EVENT_LEVELS["delivery.dead_letter"], EVENT_LEVELS.error]).toEqual(["error", "error"]);
  });

  it("logs an upstream error as its code and status only while text is off (its message may quote the body)", () => {
    const events = createBridgeEvents();
    const off = collect("debug");
    logBridgeEvents(events, off.logger, { includeText: false });
    const on = collect("debug", true);
    logBridgeEvents(events, on.logger, { includeText: true });
    events.emit("delivery.retry", retry);
    expect(off.parsed()[0]!.payload).toMatchObject({ error: { code: "validation", status: 422 } });
    expect(off.lines[0]).not.toContain("SENTINEL");
    expect(on.lines[0]).toContain("SENTINEL-TEXT hello");
  });

  it("below its level an event costs no line", () => {
    const events = createBridgeEvents();
    const { logger, lines } = collect("warn");
    logBridgeEvents(events, logger, { includeText: false });
    events.emit("conversation.closed", { conversationId: "c-1", closedBy: "system" });
    events.emit("tokens.purged", { count: 2 });
    expect(lines).toEqual([]);
    // Not even a listener: the delivery thread sends over only the events listened to.
    expect(events.listenerCount("conversation.closed")).toBe(0);
    expect(events.listenerCount("delivery.retry")).toBe(1);
  });
});

describe("withRequestLog", () => {
  const ok = async (_request: Request, _info?: { remoteAddress?: string | undefined }) =>
    new Response("{}", { status: 200 });

  it("logs a request at info with method, path, status and ms, never the query", async () => {
    const { logger, parsed } = collect("info");
    await withRequestLog(ok, logger)(new Request("http://h/api/chat/s-1/?token=SECRET"));
    const [line] = parsed();
    expect(Object.keys(line!).sort()).toEqual(["level", "method", "ms", "msg", "path", "status", "time"]);
    expect(line).toMatchObject({ level: "info", msg: "request", method: "GET", path: "/api/chat/s-1/", status: 200 });
  });

  it("logs the probes under the base path at debug, so that scrapes do not flood info", async () => {
    const info = collect("info");
    const debug = collect("debug");
    for (const { logger } of [info, debug]) {
      const handler = withRequestLog(ok, logger, { basePath: "/bridge/" });
      for (const path of ["health", "ready", "metrics", "chat/"]) await handler(new Request(`http://h/bridge/${path}`));
    }
    expect(info.parsed().map((l) => l.path)).toEqual(["/bridge/chat/"]);
    expect(debug.parsed().map((l) => [l.path, l.level])).toEqual([
      ["/bridge/health", "debug"],
      ["/bridge/ready", "debug"],
      ["/bridge/metrics", "debug"],
      ["/bridge/chat/", "info"],
    ]);
  });

  it("adds the client address only when asked to and text is on", async () => {
    const off = collect("info");
    await withRequestLog(ok, off.logger, { includeAddress: true })(new Request("http://h/api/chat/"), {
      remoteAddress: "10.1.2.3",
    });
    expect(off.lines[0]).not.toContain("10.1.2.3");
    const on = collect("info", true);
    await withRequestLog(ok, on.logger, { includeAddress: true })(new Request("http://h/api/chat/"), {
      remoteAddress: "10.1.2.3",
    });
    expect(on.parsed()[0]).toMatchObject({ remote: "10.1.2.3" });
  });
});

describe("BRIDGE_LOG_LEVEL and BRIDGE_LOG_TEXT", () => {
  const env = {
    BRIDGE_CONSUMERS: JSON.stringify([{ username: "weni", password: "weni-password", sources: ["WENI"] }]),
    HELPLINE_URL: "http://127.0.0.1:9001/helpline/api/",
    HELPLINE_USERNAME: "bridge",
    HELPLINE_PASSWORD: "helpline-api-secret",
    RAPIDPRO_URL: "http://127.0.0.1:9002/api/v2/",
    RAPIDPRO_TOKEN: "rapidpro-api-token",
    RAPIDPRO_CLOSE_FLOW: "5a5c3c4e-0000-4000-8000-000000000001",
  };

  it("default to info and text off, and take each level", () => {
    expect(loadConfig(env)).toMatchObject({ BRIDGE_LOG_LEVEL: "info", BRIDGE_LOG_TEXT: false });
    for (const level of LOG_LEVELS)
      expect(loadConfig({ ...env, BRIDGE_LOG_LEVEL: level }).BRIDGE_LOG_LEVEL).toBe(level);
    expect(loadConfig({ ...env, BRIDGE_LOG_TEXT: "true" }).BRIDGE_LOG_TEXT).toBe(true);
  });

  it("refuse an unknown level or switch as configuration errors naming the variable", () => {
    let error: unknown;
    try {
      loadConfig({ ...env, BRIDGE_LOG_LEVEL: "verbose", BRIDGE_LOG_TEXT: "yes" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      { variable: "BRIDGE_LOG_LEVEL", message: "BRIDGE_LOG_LEVEL must be debug, info, warn or error" },
      { variable: "BRIDGE_LOG_TEXT", message: "BRIDGE_LOG_TEXT must be true or false" },
    ]);
  });
});
