/**
 * The delivery thread (see delivery-thread.ts): a second bridge on the same store, with its own
 * connection, that runs the background work (delivery, hunting deadlines, housekeeping) while the
 * main thread only answers HTTP. Its events go to the main thread, where the logs and metrics
 * listen; the main thread's `wake` messages tell it that work was queued.
 */
import { parentPort, workerData } from "node:worker_threads";
import { composeGateway } from "./compose";
import type { DeliveryThreadData, FromDeliveryThread, ToDeliveryThread } from "./delivery-thread-messages";
import { startTracing } from "./tracing";

const port = parentPort!;
const post = (message: FromDeliveryThread) => port.postMessage(message);
const { config, env, forward } = workerData as DeliveryThreadData;

// Spans of deliveries join the message's trace (its context is stored with the job).
const tracing = env ? await startTracing(env) : undefined;
// Its own store connection (composeGateway opens one): sqlite's write lock is shared by the two.
const { bridge, store } = composeGateway(config);
// Only what the main thread listens to: each event sent over is a copy made and read (structuredClone).
for (const name of forward) {
  bridge.events.on(name, (payload: unknown) => post({ type: "event", name, payload }));
}

// A second "stop" (it cannot come from serve, but costs nothing to ignore) does not stop twice.
let stopping = false;
port.on("message", (message: ToDeliveryThread) => {
  if (message.type === "wake") bridge.wake();
  else if (message.type === "stop" && !stopping) {
    stopping = true;
    void stop(message.graceMs);
  }
});

try {
  await bridge.start();
  post({ type: "started" });
} catch (error) {
  await store.close().catch(() => {});
  post({ type: "start_failed", reason: describe(error) });
  port.close();
}

/** Deliveries in flight get `graceMs`; then the store and the tracer close; every failure is reported. */
async function stop(graceMs: number): Promise<void> {
  const failures: string[] = [];
  await bridge.stop({ graceMs }).catch((error: unknown) => failures.push(describe(error)));
  await store.close().catch((error: unknown) => failures.push(describe(error)));
  await tracing?.shutdown().catch((error: unknown) => failures.push(describe(error)));
  post({ type: "stopped", failures });
  port.close();
}

/** Its class and message: the bridge's own errors hold no secret (as serve's log lines show them). */
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
