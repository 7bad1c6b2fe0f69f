import { collectDefaultMetrics, Registry } from "prom-client";
import type { MetricsExporterFactory } from "../metrics/exporter";
import { registerBridgeMetrics } from "./register-bridge-metrics";

/** Options of {@link prometheusExporter}. */
export interface PrometheusExporterOptions {
  /** The registry to publish in. Default: a new one of this bridge's own. */
  registry?: Registry | undefined;
  /**
   * Also publish prom-client's process and Node.js runtime metrics (CPU, memory, event loop lag, GC).
   * Default true with the exporter's own registry, false with a registry passed in (which may have
   * them already: registering them twice throws).
   */
  defaultMetrics?: boolean | undefined;
}

/**
 * The Prometheus exporter of `createBridge({ metrics: { token, exporter: prometheusExporter() } })`:
 * `GET {basePath}metrics` answers the registry in the Prometheus text format.
 */
export function prometheusExporter(options: PrometheusExporterOptions = {}): MetricsExporterFactory {
  return (bridge) => {
    const registry = options.registry ?? new Registry();
    if (options.defaultMetrics ?? options.registry === undefined) collectDefaultMetrics({ register: registry });
    registerBridgeMetrics(bridge, registry);
    return { contentType: registry.contentType, render: () => registry.metrics() };
  };
}
