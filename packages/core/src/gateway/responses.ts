import { BridgeError } from "../errors/bridge-error";

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

/** The documented error answer; any non-`BridgeError` becomes a 500 that says nothing of its cause. */
export function errorResponse(error: unknown, extraHeaders: Record<string, string> = {}): Response {
  const e =
    error instanceof BridgeError ? error : new BridgeError("internal_error", "internal error; nothing was accepted");
  const headers: Record<string, string> = { ...extraHeaders };
  if (e.retryAfterS !== undefined) headers["retry-after"] = String(e.retryAfterS);
  if (e.status === 401) headers["www-authenticate"] = 'Token realm="openchs-bridge"';
  return json(e.status, e.toBody(), headers);
}
