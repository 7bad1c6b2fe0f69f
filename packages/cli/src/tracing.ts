import type { Sampler } from "@opentelemetry/sdk-trace";
import { ConfigError } from "./config";

/** The OTLP/HTTP encodings `serve` exports spans in (`OTEL_EXPORTER_OTLP_PROTOCOL`). */
export type OtlpProtocol = "http/protobuf" | "http/json";

/** A registered OpenTelemetry SDK: flushes and stops it (SIGTERM). */
export interface Tracing {
  protocol: OtlpProtocol;
  /** Exports the spans still buffered, then stops the exporter. */
  shutdown(): Promise<void>;
}

type Env = Record<string, string | undefined>;

const set = (value: string | undefined): value is string => value !== undefined && value.trim() !== "";

/**
 * Whether the standard `OTEL_*` variables ask for traces: an OTLP endpoint is set, and neither
 * `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none` turns them off.
 */
export function tracingRequested(env: Env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === "none") return false;
  return set(env.OTEL_EXPORTER_OTLP_ENDPOINT) || set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf`. */
export function otlpProtocol(env: Env): OtlpProtocol {
  const variable = set(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL)
    ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const value = env[variable]?.trim() || "http/protobuf";
  if (value === "http/protobuf" || value === "http/json") return value;
  throw new ConfigError(variable, `${variable} must be http/protobuf or http/json (gRPC is not bundled)`);
}

/**
 * Where spans go, as the OTLP specification says: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given,
 * else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`. Computed here (not left to the exporter, which
 * reads `process.env` only) so a `.env` file works like the environment.
 */
export function tracesUrl(env: Env): string {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() ?? "";
  return `${base.replace(/\/+$/, "")}/v1/traces`;
}

type Sdk = typeof import("@opentelemetry/sdk-trace");

/**
 * `OTEL_TRACES_SAMPLER` (and `OTEL_TRACES_SAMPLER_ARG`, the ratio) as the specification names them;
 * default `parentbased_always_on`. Parent-based: a delivery follows the sampling decision stored
 * with its job, so a trace is kept or dropped whole.
 */
export function samplerFrom(env: Env, sdk: Sdk): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || "parentbased_always_on";
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? "1");
  const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  const roots: Record<string, () => Sampler> = {
    always_on: () => new sdk.AlwaysOnSampler(),
    always_off: () => new sdk.AlwaysOffSampler(),
    traceidratio: () => new sdk.TraceIdRatioBasedSampler(ratio),
  };
  const root = roots[name.replace(/^parentbased_/, "")];
  if (!root) {
    throw new ConfigError(
      "OTEL_TRACES_SAMPLER",
      "OTEL_TRACES_SAMPLER must be always_on, always_off, traceidratio or their parentbased_ forms",
    );
  }
  return name.startsWith("parentbased_") ? new sdk.ParentBasedSampler({ root: root() }) : root();
}

/**
 * Registers the OpenTelemetry SDK when the `OTEL_*` variables ask for it (see `tracingRequested`),
 * else does nothing and loads nothing: the SDK is imported here, dynamically, so a gateway without
 * tracing never pays for it, and the core's `@opentelemetry/api` calls stay no-ops.
 *
 * Registered: a tracer provider exporting in batches over OTLP/HTTP (the official exporters, which
 * read `OTEL_EXPORTER_OTLP_HEADERS` and the timeout themselves), the resource
 * `service.name` (`OTEL_SERVICE_NAME`, default `openchs-bridge`, and `OTEL_RESOURCE_ATTRIBUTES`),
 * async-local context (so a span follows a request through every `await`) and the W3C Trace
 * Context and Baggage propagators (inbound `traceparent` continued, outbound one sent).
 */
export async function startTracing(env: Env = process.env): Promise<Tracing | undefined> {
  if (!tracingRequested(env)) return undefined;
  const protocol = otlpProtocol(env);
  const [api, sdk, { AsyncLocalStorageContextManager }, core, resources, semconv] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/context-async-hooks"),
    import("@opentelemetry/core"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/semantic-conventions"),
  ]);
  const { OTLPTraceExporter } =
    protocol === "http/json"
      ? await import("@opentelemetry/exporter-trace-otlp-http")
      : await import("@opentelemetry/exporter-trace-otlp-proto");

  const resource = resources
    .resourceFromAttributes({ [semconv.ATTR_SERVICE_NAME]: "openchs-bridge" })
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the default.
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new sdk.TracerProvider({
    resource,
    sampler: samplerFrom(env, sdk),
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: tracesUrl(env) }) })],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  api.context.setGlobalContextManager(contextManager);
  api.propagation.setGlobalPropagator(
    new core.CompositePropagator({
      propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()],
    }),
  );
  api.trace.setGlobalTracerProvider(provider);

  return {
    protocol,
    async shutdown() {
      try {
        await provider.shutdown();
      } finally {
        api.trace.disable();
        api.propagation.disable();
        api.context.disable();
      }
    },
  };
}
