import type { z } from "zod";
import { BridgeError } from "../errors/bridge-error";

/** Parses with a schema; the first problem becomes a 400 naming the field (`attachments[0].url`). */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = formatPath(issue.path);
  if (issue.path.length === 0 && issue.code === "invalid_type") {
    throw new BridgeError("invalid_json", "expected a JSON object");
  }
  const missing = issue.code === "invalid_type" && (issue.input === undefined || issue.input === null);
  const custom = issue.code === "custom" && issue.input === undefined;
  if (missing || custom) {
    throw new BridgeError("missing_field", `${field} is ${custom ? issue.message : "required"}`, { field });
  }
  // The message names the rule, never the value received (it may be message text).
  const rule = issue.message.replace(/, received .*/i, "");
  throw new BridgeError("invalid_field", `${field}: ${rule}`, { field });
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`))
    .join("");
}
