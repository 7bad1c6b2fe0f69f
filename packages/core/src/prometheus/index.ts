/**
 * `@openchs-bridge/core/prometheus`: the bridge's metrics (PROTOCOL.md "Metrics") with prom-client,
 * an optional peer dependency. A separate entry point, so the core's main entry stays runtime-neutral
 * and free of prom-client (which is Node-only).
 *
 * - `prometheusExporter()`: for `createBridge({ metrics: { token, exporter: prometheusExporter() } })`,
 *   which answers `GET {basePath}metrics` (Bearer token) with its own registry and the Node defaults.
 * - `registerBridgeMetrics(bridge, registry)`: for a host that publishes its own registry.
 *
 * @packageDocumentation
 */
export { type PrometheusExporterOptions, prometheusExporter } from "./prometheus-exporter";
export { METRIC_NAMES, registerBridgeMetrics } from "./register-bridge-metrics";
