/**
 * In process, what one log line costs: a request line (`withRequestLog` around a handler that
 * answers at once) and an event line (`logBridgeEvents`), written by the gateway's pino logger to
 * /dev/null with one write(2) per line as on a pipe, against the same work with logging off.
 */

import { EventEmitter } from "node:events";
import { closeSync, openSync, writeSync } from "node:fs";
import { createLogger, logBridgeEvents, withRequestLog } from "@openchs-bridge/cli";
import type { BridgeEvents } from "@openchs-bridge/core";

export interface LogLineCost {
  /** µs per request through the handler, without a log line. */
  bareUs: number;
  /** µs per request with its `info` line. */
  requestLineUs: number;
  /** µs per bridge event with its `debug` line. */
  eventLineUs: number;
}

export async function logLineCostUs(iterations: number): Promise<LogLineCost> {
  const fd = openSync("/dev/null", "w");
  try {
    const logger = createLogger({ level: "debug", destination: { write: (line: string) => void writeSync(fd, line) } });
    const response = new Response(null, { status: 201 });
    const bare = async (_request: Request) => response;
    const logged = withRequestLog(bare, logger);
    const request = new Request("http://bench.test/api/chat/", { method: "POST" });
    const time = async (run: () => unknown) => {
      for (let i = 0; i < Math.min(iterations, 10_000); i++) await run();
      const start = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) await run();
      return Number(process.hrtime.bigint() - start) / 1000 / iterations;
    };
    const bareUs = await time(() => bare(request));
    const requestLineUs = await time(() => logged(request));
    const events = new EventEmitter() as unknown as BridgeEvents;
    logBridgeEvents(events, logger, { includeText: false });
    const payload = {
      conversationId: "bench_1",
      messageId: "m1",
      uuid: "2f1c7a1e-0000-4000-8000-000000000001",
      direction: "to_helpline" as const,
      attempts: 1,
    };
    const eventLineUs = await time(() => events.emit("message.sent", payload));
    return { bareUs, requestLineUs: requestLineUs - bareUs, eventLineUs };
  } finally {
    closeSync(fd);
  }
}
