import type { z } from "zod";
import { BridgeError } from "../errors/bridge-error";

/**
 * Parses with a schema; the first problem becomes a 400 naming the field (`attachments[0].url`).
 * A field that is absent (or `null`) is `missing_field`; a field that is present with the wrong type
 * is `invalid_field` naming the type expected (`chat_message: expected a string`).
 */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = formatPath(issue.path);
  if (issue.path.length === 0 && issue.code === "invalid_type") {
    throw new BridgeError("invalid_json", "expected a JSON object");
  }
  // zod does not report the input by default: look at what the body holds at the issue's path.
  const absent = valueAt(value, issue.path) === undefined;
  const missing = issue.code === "invalid_type" && absent;
  const custom = issue.code === "custom" && issue.input === undefined;
  if (missing || custom) {
    throw new BridgeError("missing_field", `${field} is ${custom ? issue.message : "required"}`, { field });
  }
  throw new BridgeError("invalid_field", `${field}: ${rule(issue)}`, { field });
}

/** The rule an issue breaks, never the value received (it may be message text). */
function rule(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type") return `expected ${withArticle(issue.expected)}`;
  return issue.message.replace(/, received .*/i, "");
}

const ARTICLE: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "a boolean",
  array: "an array",
  object: "an object",
  record: "an object",
};

function withArticle(type: string): string {
  return ARTICLE[type] ?? type;
}

/** The value at a path of the input; `null` counts as absent, as in the schemas. */
function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current ?? undefined;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`))
    .join("");
}
