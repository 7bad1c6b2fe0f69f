import type { BridgeEvents } from "../conversations/events";
import type { Clock } from "../ports/clock";
import type { Store } from "../store/store";

/**
 * What a metrics library reads: the bridge's events (counted as they happen) and its store (the
 * gauges, read when scraped). A `Bridge` is one, so a host passes its bridge as it is.
 */
export interface BridgeMetricsSource {
  events: BridgeEvents;
  options: { store: Store; clock: Clock };
}

/** Renders the metrics for one scrape of `GET {basePath}metrics`. */
export interface MetricsExporter {
  /** The answer's `content-type`, e.g. the Prometheus text format's. */
  contentType: string;
  /** The exposition text; called once per scrape. */
  render(): Promise<string>;
}

/**
 * Builds the exporter of one bridge. The core ships none in its main entry (it stays runtime-neutral
 * and free of any metrics library): `prometheusExporter()` from `@openchs-bridge/core/prometheus` is one.
 */
export type MetricsExporterFactory = (bridge: BridgeMetricsSource) => MetricsExporter;
