import type { BridgeEventMap } from "@openchs-bridge/core";
import type { GatewayConfig } from "./config";

/** What the delivery thread starts from: the same configuration, and the environment for OTEL_*. */
export interface DeliveryThreadData {
  config: GatewayConfig;
  env: Record<string, string | undefined> | undefined;
  /** The events someone listens to on the main thread: only these are sent over. */
  forward: Array<keyof BridgeEventMap>;
}

/** Main thread → delivery thread. */
export type ToDeliveryThread = { type: "wake" } | { type: "stop"; graceMs: number };

/** Delivery thread → main thread. */
export type FromDeliveryThread =
  | { type: "started" }
  | { type: "start_failed"; reason: string }
  | { type: "event"; name: keyof BridgeEventMap; payload: unknown }
  | { type: "stopped"; failures: string[] };
