import type { z } from "zod";

/**
 * Summarises a zod error as "expected string at results[0].uuid; …" without quoting the value
 * received, which may be a message text.
 */
export function describeSchemaIssues(error: z.ZodError, max = 3): string {
  const parts = error.issues.slice(0, max).map((issue) => {
    const path = issue.path.length ? formatPath(issue.path) : "(root)";
    return `${issue.message.replace(/, received .*/i, "")} at ${path}`;
  });
  const more = error.issues.length > max ? ` (+${error.issues.length - max} more)` : "";
  return parts.join("; ") + more;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`))
    .join("");
}
