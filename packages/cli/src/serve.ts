import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { toNodeListener } from "@openchs-bridge/core/node";
import { type ComposedGateway, composeGateway } from "./compose";
import { ConfigError, type GatewayConfig } from "./config";
import { type DeliveryThread, startDeliveryThread } from "./delivery-thread";
import { createLogger, type Logger, sinkDestination } from "./logger";
import { type LogSink, withRequestLog } from "./request-log";

export interface RunningGateway extends ComposedGateway {
  server: Server;
  /** e.g. http://127.0.0.1:8080/api/ */
  url: string;
  /** The log the request lines go to (pino; see logger.ts). */
  logger: Logger;
  /** Whether delivery, hunting and housekeeping run in the delivery thread (`BRIDGE_DELIVERY_THREAD`). */
  deliveryThread: boolean;
  /**
   * The graceful stop (SIGTERM): at once `ready` answers 503 and the listener closes (requests in
   * flight are answered); delivery attempts in flight get `graceMs` (default `BRIDGE_SHUTDOWN_S`) to
   * finish, and the ones cut off stay in the outbox, due at once for the next start. Then the store
   * closes. Every step runs even when one fails; the failures are thrown together at the end.
   */
  shutdown(options?: { graceMs?: number }): Promise<void>;
}

/** Starts the gateway on node:http: the composed bridge, its background work, one log line per request. */
export async function startGateway(
  config: GatewayConfig,
  options: {
    /** Where the log lines go, one JSON line per call; default stdout. Ignored when `logger` is given. */
    log?: LogSink;
    /** The logger to use; default one of `BRIDGE_LOG_LEVEL` and `BRIDGE_LOG_TEXT` writing to `log`. */
    logger?: Logger;
    fetch?: typeof fetch;
    /**
     * Called once the gateway is composed, before its background work starts: listen to
     * `bridge.events` here to see what the start itself does (deadlines that passed while the
     * gateway was down fire at once, left-over deliveries resume). With the delivery thread, the
     * events it emits are sent over only for the names that have a listener by the end of this call.
     */
    onComposed?: (gateway: ComposedGateway) => void;
    /** The environment `config` was read from: the delivery thread reads its `OTEL_*` too. */
    env?: Record<string, string | undefined>;
  } = {},
): Promise<RunningGateway> {
  const threaded = usesDeliveryThread(config, options);
  let thread: DeliveryThread | undefined;
  const composed = composeGateway(config, {
    ...(options.fetch ? { fetch: options.fetch } : {}),
    // Accepted work is announced to the delivery thread at once (else it finds it on its next poll).
    ...(threaded ? { onWorkQueued: () => thread?.wake() } : {}),
  });
  options.onComposed?.(composed);
  const logger =
    options.logger ??
    createLogger({
      level: config.BRIDGE_LOG_LEVEL,
      includeText: config.BRIDGE_LOG_TEXT,
      destination: options.log ? sinkDestination(options.log) : undefined,
    });
  // Client addresses are personal data: logged only when the bridge shows text.
  const handler =
    config.BRIDGE_LOG === "json"
      ? withRequestLog(composed.bridge.handler, logger, {
          includeAddress: composed.bridge.options.includeText,
          basePath: config.BRIDGE_BASE_PATH,
        })
      : composed.bridge.handler;
  // Node checks these timeouts every `connectionsCheckingInterval` (30 s by default), which let a
  // slowloris connection live up to 45 s instead of 15: check every second.
  const server = createServer({ connectionsCheckingInterval: 1000 }, toNodeListener(handler));
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;
  try {
    // With the thread, this bridge only answers HTTP: the thread's bridge runs the background work.
    // It loads and starts beside the listener (loading its modules takes a while): accepting does
    // not wait for it; what is accepted meanwhile waits in the outbox for its first round.
    if (threaded) thread = startDeliveryThread({ config, env: options.env, events: composed.bridge.events });
    else await composed.bridge.start();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.PORT, config.HOST, () => resolve());
    });
  } catch (error) {
    // A start that fails (the port is taken, the store refuses) stops what it started, and says so
    // when that fails too, rather than leaving the loops running on an open store.
    const cleanup = await Promise.allSettled([composed.bridge.stop({ graceMs: 0 }), stopThread(thread, 0)]);
    cleanup.push(...(await Promise.allSettled([composed.store.close()])));
    for (const step of cleanup) {
      if (step.status === "rejected")
        logger.error({ event: "start.cleanup_failed", reason: describeFailure(step.reason) }, "start.cleanup_failed");
    }
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const host = config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST;
  let closing: Promise<void> | undefined;
  return {
    ...composed,
    server,
    logger,
    deliveryThread: threaded,
    url: `http://${host}:${port}${config.BRIDGE_BASE_PATH}`,
    shutdown(shutdownOptions = {}) {
      const graceMs = shutdownOptions.graceMs ?? config.BRIDGE_SHUTDOWN_S * 1000;
      closing ??= (async () => {
        // Both begin before the first await: `stopping` (ready 503) and the closed listener hold at once.
        const steps = await Promise.allSettled([
          composed.bridge.stop({ graceMs }),
          closeServer(server, graceMs),
          stopThread(thread, graceMs),
        ]);
        steps.push(...(await Promise.allSettled([composed.store.close()])));
        const failures = steps.flatMap((step) => (step.status === "rejected" ? [step.reason as unknown] : []));
        if (failures.length > 0) throw new AggregateError(failures, "the gateway did not shut down cleanly");
      })();
      return closing;
    },
  };
}

/**
 * Whether the background work runs in the delivery thread (`BRIDGE_DELIVERY_THREAD`): it needs a
 * store a second connection can open (a sqlite file, PostgreSQL; not memory), and the upstreams
 * reached as configured (an injected `fetch`, a test's, cannot cross to another thread).
 */
export function usesDeliveryThread(config: GatewayConfig, options: { fetch?: typeof fetch }): boolean {
  const mode = config.BRIDGE_DELIVERY_THREAD;
  if (mode === "off") return false;
  const shareable = config.BRIDGE_STORE !== "memory" && config.BRIDGE_STORE !== "sqlite::memory:";
  if (mode === "on" && !shareable) {
    throw new ConfigError(
      "BRIDGE_DELIVERY_THREAD",
      "BRIDGE_DELIVERY_THREAD=on needs a store two threads can open: a sqlite file or PostgreSQL, not memory",
    );
  }
  if (!shareable || options.fetch) return false;
  return mode === "on" || availableParallelism() >= 2;
}

async function stopThread(thread: DeliveryThread | undefined, graceMs: number): Promise<void> {
  const failures = (await thread?.stop(graceMs)) ?? [];
  if (failures.length > 0)
    throw new AggregateError(
      failures.map((reason) => new Error(reason)),
      "delivery thread",
    );
}

/** A failure as a log line names it: its class and message (the bridge's own errors hold no secret). */
export function describeFailure(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Stops accepting connections and waits for the requests in flight to be answered; connections
 * still open after `graceMs` (a slow client) are cut.
 */
function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close((error) => {
      clearTimeout(timer);
      // Closed already (a second shutdown path): nothing left to wait for.
      if (error && (error as NodeJS.ErrnoException).code !== "ERR_SERVER_NOT_RUNNING") reject(error);
      else resolve();
    });
    server.closeIdleConnections();
  });
}
