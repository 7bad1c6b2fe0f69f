import type { TransportResponse } from "./transport";

/** Copies `from` into `into` with lower-case names, so that a later source replaces an earlier one whatever its case. */
export function assignHeaders(into: Record<string, string>, from: Record<string, string> | undefined): void {
  if (from) for (const name in from) into[name.toLowerCase()] = from[name]!;
}

/** One header of an answer (the first, when it came more than once). */
export function headerValue(response: TransportResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** An answer's headers as a Web `Headers` (what `UpstreamResponse.headers` hands out). */
export function toWebHeaders(raw: TransportResponse["headers"]): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.append(name, value);
  }
  return headers;
}
