// By package name, kept external at build: one UpstreamError class for `instanceof`, whichever entry threw it.
import { codeForStatus, UpstreamError, type UpstreamErrorInit } from "@openchs-bridge/core";
import { context, propagation } from "@opentelemetry/api";
import ky, { HTTPError, type KyInstance, NetworkError, TimeoutError } from "ky";
import type { z } from "zod";
import type { AuthStrategy } from "./auth-strategy";
import { type RedactedRequest, redactRequest, redactUrl } from "./redact";
import { parseRetryAfter } from "./retry-after";
import { type RetryPolicy, resolveRetryPolicy, toKyRetry } from "./retry-policy";
import { describeSchemaIssues } from "./schema-issues";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** What a service-specific parser could read from an error body. */
export interface ErrorBodyDetails {
  message?: string | undefined;
  field?: string | undefined;
  code?: UpstreamErrorInit["code"] | undefined;
}

export interface UpstreamHttpOptions {
  /** Human name used in error messages, e.g. "OpenCHS helpline". */
  label: string;
  /** Absolute base URL; paths are resolved against it (a trailing slash is added). */
  baseUrl: string;
  /** Per-attempt timeout in milliseconds. Default 15000. */
  timeoutMs?: number | undefined;
  retry?: Partial<RetryPolicy> | false | undefined;
  fetch?: typeof fetch | undefined;
  headers?: Record<string, string> | undefined;
  auth?: AuthStrategy | undefined;
  /** Reads the upstream's own error shape (DRF `detail`, helpline `errors`, ...). */
  describeError?: ((status: number, body: unknown) => ErrorBodyDetails | undefined) | undefined;
  /** Builds the client's own error class, e.g. `OpenChsError`. */
  createError: (init: UpstreamErrorInit) => UpstreamError;
}

export interface UpstreamRequest<S extends z.ZodType | undefined = undefined> {
  method: HttpMethod;
  /** Relative to the base URL, e.g. `msg/`; trailing slashes are kept as given. */
  path: string;
  json?: unknown;
  body?: BodyInit;
  searchParams?: Record<string, string | number | boolean | undefined> | URLSearchParams | undefined;
  headers?: Record<string, string> | undefined;
  /** Validates the JSON answer; a mismatch is an `invalid_response` error naming what was expected. */
  schema?: S;
  /**
   * Whether sending the call twice is safe. Defaults to true for GET/PUT/DELETE, and for POST only
   * when an `Idempotency-Key` header is present. A non-idempotent call is never retried.
   */
  idempotent?: boolean | undefined;
  /** Skip the auth strategy (for the login call itself). */
  anonymous?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

export interface UpstreamResponse<T> {
  status: number;
  headers: Headers;
  data: T;
}

export interface UpstreamHttp {
  readonly baseUrl: string;
  request<S extends z.ZodType | undefined = undefined>(
    request: UpstreamRequest<S>,
  ): Promise<UpstreamResponse<S extends z.ZodType ? z.output<S> : unknown>>;
}

/**
 * The one request executor both clients build on: ky for transport, per-attempt timeout and
 * retries; the auth strategy with one re-login on 401; every failure mapped to the client's error
 * class with the request redacted; every answer validated by its schema.
 */
export function createUpstreamHttp(options: UpstreamHttpOptions): UpstreamHttp {
  const baseUrl = options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`;
  const policy = resolveRetryPolicy(options.retry);
  const client: KyInstance = ky.create({
    baseUrl,
    timeout: options.timeoutMs ?? 15_000,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    headers: { accept: "application/json", ...options.headers },
  });

  const fail = (init: UpstreamErrorInit) => options.createError(init);

  async function send(request: UpstreamRequest<z.ZodType | undefined>, authHeaders: Record<string, string>) {
    // The active trace (the delivery span's, for outbox work) as W3C `traceparent`/`tracestate`,
    // through the host's propagator: nothing is added while no OpenTelemetry SDK is registered.
    const traceHeaders: Record<string, string> = {};
    propagation.inject(context.active(), traceHeaders);
    const headers = { ...traceHeaders, ...authHeaders, ...request.headers };
    const idempotent =
      request.idempotent ??
      ((request.method !== "POST" && request.method !== "PATCH") ||
        Object.keys(headers).some((h) => h.toLowerCase() === "idempotency-key"));
    return client(request.path, {
      method: request.method,
      headers,
      retry: toKyRetry(policy, idempotent),
      ...(request.json !== undefined ? { json: request.json } : {}),
      ...(request.body !== undefined ? { body: request.body } : {}),
      ...(request.searchParams ? { searchParams: cleanParams(request.searchParams) } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
    });
  }

  function mapError(error: unknown, request: UpstreamRequest<z.ZodType | undefined>): UpstreamError {
    const where = `${options.label} ${request.method} ${request.path}`;
    if (error instanceof HTTPError) {
      const status = error.response.status;
      const details = options.describeError?.(status, error.data);
      const code = details?.code ?? codeForStatus(status);
      const reason = details?.message ? `: ${truncate(details.message)}` : "";
      const field = details?.field;
      return fail({
        code,
        status,
        cause: undefined,
        request: redactRequest(error.request),
        field,
        retryAfterMs: parseRetryAfter(error.response.headers.get("retry-after")),
        message: `${where} failed with ${status} (${code})${reason}${field ? ` [field: ${field}]` : ""}`,
      });
    }
    const redacted = safeRequest(error, baseUrl, request);
    if (error instanceof TimeoutError) {
      return fail({ code: "timeout", request: redacted, message: `${where} timed out` });
    }
    if (isAbort(error, request.signal)) {
      return fail({ code: "aborted", request: redacted, cause: error, message: `${where} was aborted` });
    }
    if (error instanceof NetworkError || error instanceof TypeError) {
      const reason = error.cause instanceof Error ? `: ${truncate(error.cause.message)}` : "";
      return fail({
        code: "network",
        request: redacted,
        cause: error.cause,
        message: `${where} failed to connect${reason}`,
      });
    }
    if (error instanceof UpstreamError) return error;
    return fail({ code: "network", request: redacted, cause: error, message: `${where} failed` });
  }

  async function readBody(response: Response, request: UpstreamRequest<z.ZodType | undefined>) {
    const text = await response.text();
    if (text === "") return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw fail({
        code: "invalid_response",
        status: response.status,
        request: { method: request.method, url: redactUrl(response.url || baseUrl + request.path), headers: {} },
        message: `${options.label} ${request.method} ${request.path} answered ${response.status} with a body that is not JSON`,
      });
    }
  }

  return {
    baseUrl,
    async request(request) {
      const auth = request.anonymous ? undefined : options.auth;
      let sent = (await auth?.headers(request.signal)) ?? {};
      let response: Response;
      try {
        response = await send(request, sent);
      } catch (error) {
        if (!(auth && error instanceof HTTPError && error.response.status === 401)) throw mapError(error, request);
        // The session may have expired: drop it (if still current), log in again once, retry once.
        await auth.invalidate(sent);
        sent = await auth.headers(request.signal);
        try {
          response = await send(request, sent);
        } catch (second) {
          throw mapError(second, request);
        }
      }
      const data = await readBody(response, request);
      if (!request.schema) return { status: response.status, headers: response.headers, data } as never;
      const parsed = request.schema.safeParse(data);
      if (!parsed.success) {
        throw fail({
          code: "invalid_response",
          status: response.status,
          request: { method: request.method, url: redactUrl(response.url || baseUrl + request.path), headers: {} },
          message: `${options.label} ${request.method} ${request.path} answered ${response.status} with an unexpected shape: ${describeSchemaIssues(parsed.error)}`,
        });
      }
      return { status: response.status, headers: response.headers, data: parsed.data } as never;
    },
  };
}

function cleanParams(params: NonNullable<UpstreamRequest["searchParams"]>): URLSearchParams {
  if (params instanceof URLSearchParams) return params;
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) out.set(key, String(value));
  return out;
}

function truncate(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function isAbort(error: unknown, signal: AbortSignal | undefined): boolean {
  return (signal?.aborted ?? false) || (error instanceof Error && error.name === "AbortError");
}

function safeRequest(
  error: unknown,
  baseUrl: string,
  request: UpstreamRequest<z.ZodType | undefined>,
): RedactedRequest {
  const kyRequest = (error as { request?: unknown } | null)?.request;
  if (kyRequest instanceof Request) return redactRequest(kyRequest);
  return { method: request.method, url: redactUrl(new URL(request.path, baseUrl).toString()), headers: {} };
}
