/**
 * One line of a live transcript per simulator event: `+1.234s helpline  message.stored  session=… text="…"`.
 * Payloads hold ids, counts and (with `includeText`) message text; never a token, password or login session.
 */
export function formatEvent(
  startMs: number,
  source: string,
  type: string,
  payload: unknown,
  nowMs = Date.now(),
): string {
  const elapsed = `+${((nowMs - startMs) / 1000).toFixed(3)}s`;
  const fields =
    typeof payload === "object" && payload !== null
      ? Object.entries(payload as Record<string, unknown>)
          .filter(([, value]) => value !== undefined)
          .map(([key, value]) => `${key}=${render(value)}`)
          .join(" ")
      : render(payload);
  return `${elapsed.padStart(10)} ${source.padEnd(8)} ${type.padEnd(20)} ${fields}`;
}

function render(value: unknown): string {
  if (typeof value === "string") return /^[\w.:@#/-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}
