/**
 * `@openchs-bridge/core/upstream`: the toolkit the upstream clients (`@openchs-bridge/openchs-client`,
 * `@openchs-bridge/rapidpro-adapter`) are built on: one HTTP call with timeouts, retries and
 * `Retry-After` over a transport (`fetch` by default; undici's pooled `request` from
 * `@openchs-bridge/core/node` on Node), an auth strategy hook, error bodies read into
 * `UpstreamError`s, credentials redacted, one in-flight refresh shared by every caller, and the
 * byte helpers of request signing.
 * Not the bridge's own HTTP surface (that is `bridge.handler`). The errors it throws
 * (`UpstreamError`, …) come from `@openchs-bridge/core`.
 *
 * @packageDocumentation
 */
export { fromHex, hmacSha256, toHex, utf8 } from "../signing/bytes";
export { transportTimeout, withAttemptDeadline } from "./attempt-deadline";
export { type AuthStrategy, staticAuth } from "./auth-strategy";
export { describeDrfError, parseJsonBody } from "./drf-errors";
export { fetchTransport } from "./fetch-transport";
export { REDACTED, redactHeaders, redactRequest, redactUrl } from "./redact";
export { parseRetryAfter } from "./retry-after";
export {
  type AttemptFailure,
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  type RetryPolicy,
  resolveRetryPolicy,
  retryDelay,
} from "./retry-policy";
export { describeSchemaIssues } from "./schema-issues";
export { createSingleFlight } from "./single-flight";
export { sleep } from "./sleep";
export type { TransportRequest, TransportResponse, UpstreamTransport } from "./transport";
export {
  createUpstreamHttp,
  type ErrorBodyDetails,
  type HttpMethod,
  type UpstreamHttp,
  type UpstreamHttpOptions,
  type UpstreamRequest,
  type UpstreamResponse,
} from "./upstream-http";
