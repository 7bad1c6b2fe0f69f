import { Worker } from "node:worker_threads";
import type { BridgeEvents } from "@openchs-bridge/core";
import type { GatewayConfig } from "./config";
import type { DeliveryThreadData, FromDeliveryThread, ToDeliveryThread } from "./delivery-thread-messages";

/** The delivery thread as the main thread sees it. */
export interface DeliveryThread {
  /** Work was queued: the thread looks for due work now (wake-ups of one turn are sent as one). */
  wake(): void;
  /**
   * Stops it (waiting for a thread still starting): deliveries in flight get `graceMs`, the ones
   * cut off stay due at once for the next start; its store connection closes. Resolves with what
   * failed (empty when nothing did).
   */
  stop(graceMs: number): Promise<string[]>;
}

/** After the thread died or failed to start, how long before a new one starts. */
const RESTART_DELAY_MS = 1000;

/**
 * Runs the background work (delivery, hunting deadlines, housekeeping) in a worker thread, on a
 * second bridge over the same store (its own connection: sqlite in WAL mode and PostgreSQL allow
 * it, and the outbox's leases already share work between instances), so that answering HTTP and
 * delivering use both cores instead of taking turns on one. Its events are emitted on `events`
 * here, so logs and metrics see one bridge: those that have a listener on `events` when the thread
 * starts (listen before, as serve's `onComposed` does).
 *
 * Returns at once: the thread loads and starts beside the caller (accepted work waits in the
 * outbox meanwhile). A thread that dies, or fails to start, is reported (`error` event,
 * `where: "delivery.thread"`) and started again a second later; its claims are released by the
 * new one's start.
 */
export function startDeliveryThread(input: {
  config: GatewayConfig;
  env: Record<string, string | undefined> | undefined;
  events: BridgeEvents;
}): DeliveryThread {
  const emit = input.events.emit.bind(input.events) as (name: string, payload: unknown) => boolean;
  const reportFailure = (code: string, message: string) =>
    emit("error", { where: "delivery.thread", error: { code, message } });
  let worker: Worker | undefined;
  let stopped = false;
  /** Between "started" and its exit: a dead thread (waiting to be started again) has nothing to stop. */
  let alive = false;
  let wakePending = false;
  let onStopped: ((failures: string[]) => void) | undefined;
  /** Ends the wait before a restart at once (stop() does: nothing is to be started any more). */
  let skipWait: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      skipWait = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  /** One worker, resolved when its bridge has started, rejected when it could not. */
  const spawn = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let started = false;
      const data: DeliveryThreadData = {
        config: input.config,
        env: input.env,
        forward: input.events.eventNames() as DeliveryThreadData["forward"],
      };
      const self = new Worker(entry(), { workerData: data, execArgv: execArgv() });
      worker = self;
      self.on("message", (message: FromDeliveryThread) => {
        switch (message.type) {
          case "event":
            emit(message.name, message.payload);
            break;
          case "started":
            started = true;
            alive = true;
            resolve();
            break;
          case "start_failed":
            reject(new Error(`the delivery thread did not start: ${message.reason}`));
            break;
          case "stopped":
            onStopped?.(message.failures);
            break;
        }
      });
      self.on("error", (error) => {
        if (!started) reject(error);
        else reportFailure("thread_failed", error.message);
      });
      self.on("exit", (code) => {
        alive = false;
        if (!started) {
          reject(new Error(`the delivery thread exited (code ${code}) before it started`));
          return;
        }
        if (stopped) {
          onStopped?.([]); // settled already when it said "stopped"
          return;
        }
        reportFailure("thread_exited", `the delivery thread exited (code ${code}); starting another`);
        current = pause(RESTART_DELAY_MS).then(startOne);
        // (stop() skips that wait, and startOne starts nothing once stopped.)
      });
    });

  /** Spawns until one starts (or until stopped), reporting each failure. */
  const startOne = async (): Promise<void> => {
    while (!stopped) {
      try {
        await spawn();
        return;
      } catch (error) {
        reportFailure("thread_failed", error instanceof Error ? error.message : String(error));
        if (!stopped) await pause(RESTART_DELAY_MS);
      }
    }
  };

  /** The start in progress (the first, or a restart): stop() waits for it. */
  let current = startOne();

  return {
    wake() {
      if (wakePending || stopped) return;
      wakePending = true;
      queueMicrotask(() => {
        wakePending = false;
        if (alive && !stopped) worker?.postMessage({ type: "wake" } satisfies ToDeliveryThread);
      });
    },
    async stop(graceMs) {
      stopped = true;
      skipWait?.();
      await current;
      const running = worker;
      if (!alive || !running) return [];
      return new Promise<string[]>((resolve) => {
        let settled = false;
        // A thread that does not answer (stuck) is ended once the grace and a margin have passed.
        const timer = setTimeout(() => void running.terminate(), graceMs + 10_000);
        onStopped = (failures) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(failures);
        };
        running.postMessage({ type: "stop", graceMs } satisfies ToDeliveryThread);
      });
    },
  };
}

// From the sources (a checkout, the tests), the thread runs TypeScript through tsx with the
// workspace's source condition, as the main thread does; from the build, the built file.
const fromSources = import.meta.url.endsWith(".ts");

function entry(): URL {
  return new URL(`./delivery-thread-entry.${fromSources ? "ts" : "js"}`, import.meta.url);
}

function execArgv(): string[] | undefined {
  if (!fromSources) return undefined; // the main thread's flags
  return ["--conditions=@openchs-bridge/source", "--import", import.meta.resolve("tsx")];
}
