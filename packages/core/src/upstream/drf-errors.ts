import type { ErrorBodyDetails } from "./upstream-http";

/**
 * Reads Django REST framework's error bodies, which both the OpenCHS gateway and RapidPro answer
 * with: `{"detail": "…"}`, `{"non_field_errors": ["…"]}`, and field errors `{"contacts": ["…"]}`,
 * nested ones included (`{"urns": {"0": ["Invalid URN"]}}` gives field `urns[0]`,
 * `{"attachments": [{}, {"url": ["…"]}]}` gives `attachments[1].url`). Returns undefined for a body
 * of another shape. Accepts the body as text too: the executor hands over non-JSON content types as strings,
 * and a PHP or proxy server may send JSON as `text/html`.
 */
export function describeDrfError(body: unknown): ErrorBodyDetails | undefined {
  const data = parseJsonBody(body);
  if (!isRecord(data)) return undefined;
  if (typeof data.detail === "string" && data.detail !== "") return { message: data.detail };
  const nonField = firstString(data.non_field_errors);
  if (nonField !== undefined) return { message: nonField };
  for (const [key, value] of Object.entries(data)) {
    const found = fieldError(value, key, 0);
    if (found) return found;
  }
  return undefined;
}

/** A JSON body, parsed when it came as text; undefined when it is not JSON. */
export function parseJsonBody(body: unknown): unknown {
  if (typeof body !== "string") return body;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

function fieldError(value: unknown, path: string, depth: number): ErrorBodyDetails | undefined {
  if (depth > 4) return undefined;
  if (typeof value === "string" && value !== "") return { message: value, field: path };
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      if (typeof item === "string" && item !== "") return { message: item, field: path };
      const nested = fieldError(item, isRecord(item) ? `${path}[${i}]` : path, depth + 1);
      if (nested) return nested;
    }
    return undefined;
  }
  if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) {
      const next = key === "non_field_errors" ? path : /^\d+$/.test(key) ? `${path}[${key}]` : `${path}.${key}`;
      const nested = fieldError(item, next, depth + 1);
      if (nested) return nested;
    }
  }
  return undefined;
}

function firstString(value: unknown): string | undefined {
  if (typeof value === "string" && value !== "") return value;
  if (Array.isArray(value)) return value.find((v): v is string => typeof v === "string" && v !== "");
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
