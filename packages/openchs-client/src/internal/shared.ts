import { type Clock, ConfigError } from "@openchs-bridge/core";
import type { RetryPolicy } from "@openchs-bridge/core/upstream";
import { z } from "zod";
import { OpenChsError, type OpenChsService } from "../errors";

/** Per-call options of every client method. */
export interface CallOptions {
  /** Aborts the call (and any wait for a shared login); the error then has code `aborted`. */
  signal?: AbortSignal | undefined;
}

/** Transport options shared by both clients. */
export interface TransportOptions {
  /** Per-attempt timeout in milliseconds. Default 15000. */
  timeoutMs?: number | undefined;
  /** Retry policy (see the guide); `false` disables retrying. */
  retry?: Partial<RetryPolicy> | false | undefined;
  /** A `fetch` to use instead of the global one (tests, proxies, instrumentation). */
  fetch?: typeof fetch | undefined;
  /** Time source for credential expiry. Default: the system clock. */
  clock?: Clock | undefined;
  /** Extra headers sent with every call (never put credentials here: use the auth options). */
  headers?: Record<string, string> | undefined;
}

/** An id the upstream may give as a string or a number: always handed out as a string. */
export const idLike = z
  .union([z.string().min(1), z.number()], { error: "expected an id (a non-empty string or a number)" })
  .transform(String);

/** The bridge's conversation ids, and the legacy close route's `\w+` plus `-`: nothing else reaches a path. */
export const SESSION_IN_PATH = /^[A-Za-z0-9_-]{1,100}$/;

/** Checks a path segment before it is put in a URL (so `..` or `/` cannot change the route). */
export function sessionSegment(service: OpenChsService, session: string, what = "session"): string {
  if (typeof session !== "string" || !SESSION_IN_PATH.test(session)) {
    throw new OpenChsError(service, {
      code: "validation",
      field: what,
      message: `${what} must be 1-100 characters of A-Z a-z 0-9 _ - (it is put in the URL path)`,
    });
  }
  return session;
}

/** Throws a construction-time configuration error that names the option and what was expected. */
export function configError(factory: string, message: string): never {
  throw new ConfigError(factory, `${factory}: ${message}`);
}

/** Validates an absolute http(s) base URL at construction time. */
export function parseBaseUrl(factory: string, value: unknown): URL {
  if (typeof value !== "string" || value === "")
    configError(factory, "`baseUrl` is required (an absolute http(s) URL)");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return configError(factory, "`baseUrl` must be an absolute http(s) URL, e.g. https://helpline.example.org/");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    configError(factory, "`baseUrl` must use http or https");
  }
  if (url.username || url.password) {
    configError(factory, "`baseUrl` must not hold credentials: use the `username`/`password` options");
  }
  url.search = "";
  url.hash = "";
  if (!url.pathname.endsWith("/")) url.pathname = `${url.pathname}/`;
  return url;
}

/** An `Idempotency-Key` header value: header values must be ISO-8859-1, so anything else is percent-encoded. */
export function headerSafe(value: string): string {
  return /^[\x21-\x7e]+$/.test(value) ? value : encodeURIComponent(value);
}
