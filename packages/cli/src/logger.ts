import type { BridgeEventMap, BridgeEvents, EventError } from "@openchs-bridge/core";
import { type DestinationStream, type Logger, pino } from "pino";

/**
 * The gateway's log: one JSON line per entry, `{"level","time","msg",…}`, written by pino. `level`
 * is the name (`debug`, `info`, `warn`, `error`), `time` ISO 8601 UTC, and no `pid`/`hostname`
 * (the process supervisor knows them). Everything goes to stdout (12-factor: the platform collects
 * one stream; PROTOCOL.md "Logs"); only the command-line errors printed before a logger exists go to
 * stderr.
 */
export type { Logger } from "pino";

/** The levels of `BRIDGE_LOG_LEVEL`, most detailed first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** The least severe level written (default `info`). */
  level?: LogLevel | undefined;
  /**
   * Whether message text, free-text reasons, client addresses and upstream error messages may be
   * logged (`BRIDGE_LOG_TEXT`, the bridge's `events.includeText`). Off: they are left out, and
   * pino's `redact` removes them again should a payload ever carry one.
   */
  includeText?: boolean | undefined;
  /** Where the lines go; default stdout. Each write is one whole line, newline included. */
  destination?: DestinationStream | undefined;
}

/** Paths removed from every line while text is off: the second line of defence (the first is never logging them). */
const PRIVATE_PATHS = [
  "payload.text",
  "payload.address",
  "payload.error.message",
  "remote",
  "password",
  "token",
  "authorization",
  "*.password",
  "*.token",
  "*.authorization",
];

/** The gateway's logger (see the module comment). */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      ...(options.includeText ? {} : { redact: { paths: PRIVATE_PATHS, remove: true } }),
    },
    options.destination ?? { write: (line: string) => process.stdout.write(line) },
  );
}

/** A logger writing to a line sink (each line without its newline): for hosts and tests that collect lines. */
export function sinkDestination(sink: (line: string) => void): DestinationStream {
  return { write: (line: string) => sink(line.endsWith("\n") ? line.slice(0, -1) : line) };
}

/**
 * The level of each logged bridge event. Retries, refused credentials and failed messages are
 * `warn`; dead letters and unexpected failures `error`; what happens to each message (accepted,
 * sent, delivered, read; each job delivered) is `debug`, so that `info` is a line per request and per
 * conversation step.
 * An event not in this table (e.g. `http.request`, which the request line already covers) is not logged.
 */
export const EVENT_LEVELS = {
  "conversation.requested": "info",
  "conversation.hunting": "debug",
  "conversation.connected": "info",
  "conversation.closed": "info",
  "conversation.unavailable_notice": "warn",
  "message.accepted": "debug",
  "message.duplicate": "debug",
  "message.sent": "debug",
  "message.delivered": "debug",
  "message.read": "debug",
  "message.failed": "warn",
  "delivery.retry": "warn",
  "delivery.sent": "debug",
  "delivery.dead_letter": "error",
  "hunt.timeout": "info",
  "retention.purged": "info",
  "tokens.purged": "info",
  "dead_letter.replayed": "info",
  "auth.failure": "warn",
  error: "error",
} as const satisfies Partial<Record<keyof BridgeEventMap, LogLevel>>;

export type LoggedEvent = keyof typeof EVENT_LEVELS;

/**
 * Logs each bridge event of {@link EVENT_LEVELS} whose level is on (when this is called) as `{"event": name, "payload", "msg": name}` at its
 * level. Payloads hold no secret and no text unless text is on (the core's rule); what the core
 * cannot vouch for is an upstream's error message (a helpline or RapidPro error may quote the body
 * it refused), so with text off an error is logged as its `code` and `status` only.
 */
export function logBridgeEvents(events: BridgeEvents, logger: Logger, options: { includeText: boolean }): void {
  for (const [name, level] of Object.entries(EVENT_LEVELS) as Array<[LoggedEvent, LogLevel]>) {
    // No listener for a level that is off (the level is fixed at start): an event nobody listens to is
    // not even sent over from the delivery thread.
    if (!logger.isLevelEnabled(level)) continue;
    const listener = (payload: unknown) => {
      logger[level]({ event: name, payload: options.includeText ? payload : withoutErrorMessage(payload) }, name);
    };
    (events as unknown as { on(name: string, listener: (payload: unknown) => void): void }).on(name, listener);
  }
}

/** The payload with its `error` reduced to `{code, status}`. */
function withoutErrorMessage(payload: unknown): unknown {
  if (!payload || typeof payload !== "object" || !("error" in payload)) return payload;
  const { error, ...rest } = payload as { error: EventError };
  return { ...rest, error: { code: error.code, ...(error.status !== undefined ? { status: error.status } : {}) } };
}
