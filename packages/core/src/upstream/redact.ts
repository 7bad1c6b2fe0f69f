import type { RedactedRequest } from "@openchs-bridge/core";

export type { RedactedRequest };

const SECRET_HEADERS = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "session-id",
  "x-api-key",
  "x-webhook-signature",
  "webhook-signature",
]);

const SECRET_PARAMS = /^(token|access_token|api_key|apikey|key|password|secret|session|session_id|sig|signature)$/i;

export const REDACTED = "[REDACTED]";

/** Keeps the scheme of an `Authorization` header (`Token`, `Bearer`, `Basic`) and hides the rest. */
export function redactHeaderValue(name: string, value: string): string {
  if (!SECRET_HEADERS.has(name.toLowerCase())) return value;
  const scheme = /^(\w+)\s+\S/.exec(value)?.[1];
  return scheme && name.toLowerCase().includes("authorization") ? `${scheme} ${REDACTED}` : REDACTED;
}

export function redactHeaders(headers: Headers | Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = headers instanceof Headers ? headers.entries() : Object.entries(headers);
  for (const [name, value] of entries) out[name.toLowerCase()] = redactHeaderValue(name, value);
  return out;
}

/** Drops user:password from the URL and hides credential-like query parameters. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return REDACTED;
  }
  if (parsed.username || parsed.password) {
    parsed.username = "";
    parsed.password = "";
  }
  for (const key of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAMS.test(key)) parsed.searchParams.set(key, REDACTED);
  }
  return parsed.toString();
}

export function redactRequest(request: Request): RedactedRequest {
  return {
    method: request.method,
    url: redactUrl(request.url),
    headers: redactHeaders(request.headers),
  };
}
