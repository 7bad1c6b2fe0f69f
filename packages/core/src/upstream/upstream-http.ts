// By package name, kept external at build: one UpstreamError class for `instanceof`, whichever entry threw it.
import { codeForStatus, UpstreamError, type UpstreamErrorInit } from "@openchs-bridge/core";
import { context, propagation } from "@opentelemetry/api";
import type { z } from "zod";
import type { AuthStrategy } from "./auth-strategy";
import { fetchTransport } from "./fetch-transport";
import { type RedactedRequest, redactHeaders, redactUrl } from "./redact";
import { parseRetryAfter } from "./retry-after";
import { type AttemptFailure, type RetryPolicy, resolveRetryPolicy, retryDelay } from "./retry-policy";
import { describeSchemaIssues } from "./schema-issues";
import { sleep } from "./sleep";
import type { HttpMethod, TransportRequest, TransportResponse, UpstreamTransport } from "./transport";
import { assignHeaders, headerValue, toWebHeaders } from "./transport-headers";

export type { HttpMethod };

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
  /**
   * How each attempt is sent. Default: {@link fetchTransport} over the `fetch` option. On Node,
   * `createUndiciTransport()` of `@openchs-bridge/core/node` costs less per call.
   */
  transport?: UpstreamTransport | undefined;
  /** The `fetch` of the default transport (default: the global one); unused when `transport` is given. */
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

/** The longest timer `setTimeout` keeps (2^31 - 1 ms); a longer one would fire at once. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** A call as it is sent: resolved once, sent again as is by a retry or after a re-login. */
interface PreparedCall {
  url: string;
  body: string | Uint8Array<ArrayBuffer> | undefined;
  /** The content type the body implies (`json`, a form, a Blob), unless a header names one. */
  contentType: string | undefined;
}

/** What a call came to after its retries: an answer (any status), or the last attempt's error. */
type CallOutcome = { headers: Record<string, string> } & (
  | { answered: true; response: TransportResponse }
  | { answered: false; error: unknown }
);

/**
 * The one request executor the clients build on: each attempt through the transport (`fetch` by
 * default) under the per-attempt timeout; retries of idempotent calls by the retry policy,
 * `Retry-After` included; the auth strategy with one re-login on 401; every failure mapped to the
 * client's error class with the request redacted; every answer validated by its schema; the active
 * trace propagated as `traceparent`.
 */
export function createUpstreamHttp(options: UpstreamHttpOptions): UpstreamHttp {
  const baseUrl = options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`;
  const policy = resolveRetryPolicy(options.retry);
  const timeoutMs = options.timeoutMs ?? 15_000;
  if (!(timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
    throw new RangeError(`${options.label}: timeoutMs must be a number of ms in (0, ${MAX_TIMEOUT_MS}]`);
  }
  const transport = options.transport ?? fetchTransport(options.fetch);
  const fixedHeaders: Record<string, string> = { accept: "application/json" };
  assignHeaders(fixedHeaders, options.headers);

  const fail = (init: UpstreamErrorInit) => options.createError(init);

  async function prepare(request: UpstreamRequest<z.ZodType | undefined>): Promise<PreparedCall> {
    const url = new URL(request.path, baseUrl);
    if (request.searchParams) {
      for (const [key, value] of cleanParams(request.searchParams)) url.searchParams.append(key, value);
    }
    if (request.json !== undefined) {
      return { url: url.href, body: JSON.stringify(request.json), contentType: "application/json" };
    }
    const body = request.body;
    if (body === undefined || body === null) return { url: url.href, body: undefined, contentType: undefined };
    if (typeof body === "string") return { url: url.href, body, contentType: undefined };
    // Bytes, a form, a Blob, a stream…: read once into bytes, so that a retry can send it again.
    const read = new Response(body);
    return {
      url: url.href,
      body: new Uint8Array(await read.arrayBuffer()),
      contentType: read.headers.get("content-type") ?? undefined,
    };
  }

  /** Sends the call, retrying an idempotent one by the policy; never throws. */
  async function send(
    request: UpstreamRequest<z.ZodType | undefined>,
    call: PreparedCall,
    authHeaders: Record<string, string>,
  ): Promise<CallOutcome> {
    // The active trace (the delivery span's, for outbox work) as W3C `traceparent`/`tracestate`,
    // through the host's propagator: nothing is added while no OpenTelemetry SDK is registered.
    const traceHeaders: Record<string, string> = {};
    propagation.inject(context.active(), traceHeaders);
    const headers = { ...fixedHeaders };
    assignHeaders(headers, traceHeaders);
    assignHeaders(headers, authHeaders);
    assignHeaders(headers, request.headers);
    if (call.contentType !== undefined) headers["content-type"] ??= call.contentType;
    const idempotent =
      request.idempotent ?? ((request.method !== "POST" && request.method !== "PATCH") || "idempotency-key" in headers);
    const attempt: TransportRequest = {
      method: request.method,
      url: call.url,
      headers,
      body: call.body,
      signal: request.signal,
      timeoutMs,
    };
    for (let retry = 1; ; retry++) {
      let failure: AttemptFailure;
      let outcome: CallOutcome;
      try {
        request.signal?.throwIfAborted();
        const response = await transport.send(attempt);
        outcome = { headers, answered: true, response };
        if (response.status >= 200 && response.status < 300) return outcome;
        const retryAfterMs = parseRetryAfter(headerValue(response, "retry-after"));
        failure = { kind: "status", status: response.status, retryAfterMs };
      } catch (error) {
        outcome = { headers, answered: false, error };
        if (isAbort(error, request.signal)) return outcome;
        failure = isTimeout(error) ? { kind: "timeout" } : { kind: "network" };
      }
      // A call that is not idempotent is sent once: a lost answer must not store it twice.
      const wait = idempotent ? retryDelay(policy, retry, failure) : undefined;
      if (wait === undefined) return outcome;
      try {
        await sleep(wait, request.signal);
      } catch (error) {
        return { headers, answered: false, error };
      }
    }
  }

  function mapError(outcome: CallOutcome, request: UpstreamRequest<z.ZodType | undefined>, url: string): UpstreamError {
    const where = `${options.label} ${request.method} ${request.path}`;
    const redacted: RedactedRequest = {
      method: request.method,
      url: redactUrl(url),
      headers: redactHeaders(outcome.headers),
    };
    if (outcome.answered) {
      const { status } = outcome.response;
      const details = options.describeError?.(status, errorData(outcome.response));
      const code = details?.code ?? codeForStatus(status);
      const reason = details?.message ? `: ${truncate(details.message)}` : "";
      const field = details?.field;
      return fail({
        code,
        status,
        cause: undefined,
        request: redacted,
        field,
        retryAfterMs: parseRetryAfter(headerValue(outcome.response, "retry-after")),
        message: `${where} failed with ${status} (${code})${reason}${field ? ` [field: ${field}]` : ""}`,
      });
    }
    const { error } = outcome;
    if (error instanceof UpstreamError) return error;
    if (isAbort(error, request.signal)) {
      return fail({ code: "aborted", request: redacted, cause: error, message: `${where} was aborted` });
    }
    if (isTimeout(error)) {
      return fail({ code: "timeout", request: redacted, message: `${where} timed out` });
    }
    // fetch wraps the reason (refused, reset, DNS) in a TypeError's cause; other transports throw it.
    const cause = error instanceof TypeError ? error.cause : error;
    const reason = cause instanceof Error ? `: ${truncate(cause.message)}` : "";
    return fail({ code: "network", request: redacted, cause, message: `${where} failed to connect${reason}` });
  }

  function readBody(response: TransportResponse, request: UpstreamRequest<z.ZodType | undefined>, url: string) {
    if (response.body === "") return undefined;
    try {
      return JSON.parse(response.body) as unknown;
    } catch {
      throw fail({
        code: "invalid_response",
        status: response.status,
        request: { method: request.method, url: redactUrl(url), headers: {} },
        message: `${options.label} ${request.method} ${request.path} answered ${response.status} with a body that is not JSON`,
      });
    }
  }

  return {
    baseUrl,
    async request(request) {
      const call = await prepare(request);
      const auth = request.anonymous ? undefined : options.auth;
      let sent = (await auth?.headers(request.signal)) ?? {};
      let outcome = await send(request, call, sent);
      if (auth && outcome.answered && outcome.response.status === 401) {
        // The session may have expired: drop it (if still current), log in again once, retry once.
        await auth.invalidate(sent);
        sent = await auth.headers(request.signal);
        outcome = await send(request, call, sent);
      }
      if (!outcome.answered || outcome.response.status < 200 || outcome.response.status >= 300) {
        throw mapError(outcome, request, call.url);
      }
      const { response } = outcome;
      const data = readBody(response, request, call.url);
      let parsed: unknown = data;
      if (request.schema) {
        const result = request.schema.safeParse(data);
        if (!result.success) {
          throw fail({
            code: "invalid_response",
            status: response.status,
            request: { method: request.method, url: redactUrl(call.url), headers: {} },
            message: `${options.label} ${request.method} ${request.path} answered ${response.status} with an unexpected shape: ${describeSchemaIssues(result.error)}`,
          });
        }
        parsed = result.data;
      }
      return answer(response, parsed) as never;
    },
  };
}

/** The answer handed out; its `Headers` are built only if someone reads them. */
function answer(response: TransportResponse, data: unknown): UpstreamResponse<unknown> {
  let headers: Headers | undefined;
  return {
    status: response.status,
    get headers() {
      headers ??= toWebHeaders(response.headers);
      return headers;
    },
    data,
  };
}

/** An error answer's body for `describeError`: parsed when it says it is JSON, else the text; undefined when empty. */
function errorData(response: TransportResponse): unknown {
  if (response.body === "") return undefined;
  const type = (headerValue(response, "content-type") ?? "").split(";", 1)[0]!.trim().toLowerCase();
  if (!/\/(?:.*[.+-])?json$/.test(type)) return response.body;
  try {
    return JSON.parse(response.body) as unknown;
  } catch {
    return response.body;
  }
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

/** The transport's deadline passed (see `transportTimeout`). */
function isTimeout(error: unknown): boolean {
  return (error instanceof Error || error instanceof DOMException) && error.name === "TimeoutError";
}
