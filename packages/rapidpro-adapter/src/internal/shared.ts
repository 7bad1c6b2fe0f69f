import { ConfigError } from "@openchs-bridge/core";
import type { RetryPolicy } from "@openchs-bridge/core/upstream";

/** Per-call options of the clients' methods. */
export interface CallOptions {
  /** Aborts the call, including a wait for `Retry-After`; the error then has code `aborted`. */
  signal?: AbortSignal | undefined;
}

/** Transport options shared by the clients of this package. */
export interface TransportOptions {
  /** Per-attempt timeout in milliseconds. Default 15000. */
  timeoutMs?: number | undefined;
  /** Retry policy (backoff, limit, `maxRetryAfterMs`); `false` disables retrying. */
  retry?: Partial<RetryPolicy> | false | undefined;
  /** A `fetch` to use instead of the global one (tests, proxies, instrumentation). */
  fetch?: typeof fetch | undefined;
}

/** Throws a construction-time configuration error naming the option and what was expected. */
export function configError(factory: string, message: string): never {
  throw new ConfigError(factory, `${factory}: ${message}`);
}

/** Validates an absolute http(s) URL option at construction time; returns it with a trailing slash. */
export function parseUrlOption(factory: string, name: string, value: unknown, example: string): URL {
  if (typeof value !== "string" || value === "") configError(factory, `\`${name}\` is required (e.g. ${example})`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return configError(factory, `\`${name}\` must be an absolute http(s) URL, e.g. ${example}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") configError(factory, `\`${name}\` must use http or https`);
  if (url.username || url.password) {
    configError(factory, `\`${name}\` must not hold credentials: use the token option`);
  }
  url.hash = "";
  if (!url.pathname.endsWith("/")) url.pathname = `${url.pathname}/`;
  return url;
}

/** Whether a value is a non-empty string. */
export function isFilled(value: unknown): value is string {
  return typeof value === "string" && value.trim() !== "";
}

/** An `Idempotency-Key` header value: header values must be visible ASCII, anything else is percent-encoded. */
export function headerSafe(value: string): string {
  return /^[\x21-\x7e]+$/.test(value) ? value : encodeURIComponent(value);
}

/** Renders `{name}`-style placeholders; unknown placeholders are left as they are. */
export function renderTemplate(template: string, values: Record<string, string | undefined>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const value = values[key];
    return value === undefined ? (key in values ? "" : whole) : value;
  });
}
