import * as sdk from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./config";
import { otlpProtocol, samplerFrom, startTracing, tracesUrl, tracingRequested } from "./tracing";

describe("tracing from the OTEL_* variables", () => {
  it("is on only when an OTLP endpoint is set, and not turned off", () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "  " })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" })).toBe(
      false,
    );
  });

  it("loads nothing and registers nothing without them", async () => {
    expect(await startTracing({})).toBeUndefined();
  });

  it("sends spans to <endpoint>/v1/traces, or to the traces endpoint as given", () => {
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" })).toBe("http://c:4318/v1/traces");
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/otlp" })).toBe("http://c:4318/otlp/v1/traces");
    expect(
      tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t/x" }),
    ).toBe("http://t/x");
  });

  it("exports http/protobuf by default, http/json on request, and refuses gRPC naming the variable", () => {
    expect(otlpProtocol({})).toBe("http/protobuf");
    expect(otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })).toBe("http/json");
    expect(
      otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf" }),
    ).toBe("http/protobuf");
    expect(() => otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(
      expect.objectContaining({ name: "ConfigError", variable: "OTEL_EXPORTER_OTLP_PROTOCOL" }),
    );
    expect(() => otlpProtocol({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc" })).toThrow(ConfigError);
  });

  it("samples parent-based by default, and as OTEL_TRACES_SAMPLER says", () => {
    expect(samplerFrom({}, sdk).toString()).toMatch(/ParentBased\{root=AlwaysOnSampler/);
    expect(
      samplerFrom({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25" }, sdk).toString(),
    ).toMatch(/ParentBased\{root=TraceIdRatioBased\{0\.25\}/);
    expect(samplerFrom({ OTEL_TRACES_SAMPLER: "always_off" }, sdk).toString()).toBe("AlwaysOffSampler");
    expect(() => samplerFrom({ OTEL_TRACES_SAMPLER: "jaeger_remote" }, sdk)).toThrow(
      expect.objectContaining({ variable: "OTEL_TRACES_SAMPLER" }),
    );
  });
});
