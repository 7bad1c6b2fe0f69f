/**
 * How Go's `encoding/json` (and gocommon's `jsonx.Unmarshal`, the same decoder) fills a struct from
 * an answer, for the fields mailroom reads. Enough of its rules to say "mailroom could read this":
 *
 * - the answer must be JSON; `null` leaves the struct empty; anything but an object (or null) fails;
 * - a key matches a field exactly, else case-insensitively; unknown keys are ignored;
 * - `null` for a field leaves its zero value;
 * - `string` takes only a JSON string, `int` only an integral number, `time` (time.Time) only a
 *   string in RFC 3339 (`time.RFC3339` parsing, fractional seconds allowed), `object` only an object.
 */
export type GoField = "string" | "int" | "time" | "object";

export type GoDecoded = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function goUnmarshal(raw: string, fields: Record<string, GoField>): GoDecoded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { ok: false, error: `invalid character in ${JSON.stringify(raw.slice(0, 60))}` };
  }
  if (parsed === null) return { ok: true, value: {} };
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    return { ok: false, error: `json: cannot unmarshal ${jsonKind(parsed)} into Go value of type struct` };
  }
  const object = parsed as Record<string, unknown>;
  const value: Record<string, unknown> = {};
  for (const [field, type] of Object.entries(fields)) {
    const key = field in object ? field : Object.keys(object).find((k) => k.toLowerCase() === field.toLowerCase());
    if (key === undefined || object[key] === null) continue;
    const v = object[key];
    const fits =
      type === "string"
        ? typeof v === "string"
        : type === "int"
          ? typeof v === "number" && Number.isSafeInteger(v)
          : type === "time"
            ? typeof v === "string" && RFC3339.test(v) && !Number.isNaN(Date.parse(v))
            : typeof v === "object" && !Array.isArray(v);
    if (!fits) {
      const what =
        type === "time" && typeof v === "string" ? `a time not in RFC 3339: ${JSON.stringify(v)}` : jsonKind(v);
      return { ok: false, error: `json: cannot unmarshal ${what} into Go struct field .${field} of type ${type}` };
    }
    value[field] = v;
  }
  return { ok: true, value };
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  return typeof v === "number"
    ? "number"
    : typeof v === "string"
      ? "string"
      : typeof v === "boolean"
        ? "bool"
        : "object";
}

/**
 * mailroom's reading of a ticketer answer with status >= 400 (`services/tickets/generic/client.go`
 * `Client.request`): the body is unmarshalled into `ClientError{error, message, details}`, ignoring a
 * failure; the code is the `error` string, or none.
 */
export function goClientError(raw: string): { code: string; message: string; details: unknown } {
  const decoded = goUnmarshal(raw, { error: "string", message: "string" });
  let details: unknown;
  try {
    details = (JSON.parse(raw) as { details?: unknown } | null)?.details;
  } catch {
    details = undefined;
  }
  if (!decoded.ok) return { code: "", message: "", details };
  return { code: (decoded.value.error as string) ?? "", message: (decoded.value.message as string) ?? "", details };
}
