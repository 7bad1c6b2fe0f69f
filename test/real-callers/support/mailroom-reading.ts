import { goClientError, goUnmarshal } from "./go-json";
import type { RawAnswer } from "./http-exchange";

/**
 * What mailroom makes of the ticketer's answers (weni-ai/mailroom services/tickets/generic/):
 * `ok` when mailroom goes on as if the call succeeded, else the error mailroom would log. Each
 * follows the code path named in its comment; none accepts more than mailroom does.
 */
export type MailroomReading = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

const fail = (error: string): MailroomReading => ({ ok: false, error });

/** A status >= 400 as `Client.request` reports it: the `error` string when there is one, else "HTTP n". */
function clientError(answer: RawAnswer): MailroomReading {
  const { code, message } = goClientError(answer.text);
  return fail(code ? `${answer.status} ${code}: ${message}` : `HTTP ${answer.status} (no "error" string)`);
}

/** `service.Open`: 2xx decoded by decodeOpenResponse with a non-empty external_id, or 409 with details.external_id. */
export function readOpen(answer: RawAnswer): MailroomReading {
  if (answer.status === 409) {
    const { details } = goClientError(answer.text);
    const existing =
      details && typeof details === "object" ? (details as { external_id?: unknown }).external_id : undefined;
    if (typeof existing === "string" && existing !== "") return { ok: true, value: { external_id: existing } };
    return clientError(answer);
  }
  if (answer.status >= 400) return clientError(answer);
  if (answer.text.trim() === "") return fail("generic ticketer did not return an external_id");
  const decoded = goUnmarshal(answer.text, { external_id: "string", status: "string", created_at: "time" });
  if (!decoded.ok) return fail(`error unmarshalling open response: ${decoded.error}`);
  if (!decoded.value.external_id) return fail("generic ticketer did not return an external_id");
  return decoded;
}

/** `service.Forward`: 2xx decoded by decodeForwardResponse. */
export function readForward(answer: RawAnswer): MailroomReading {
  if (answer.status >= 400) return clientError(answer);
  if (answer.text.trim() === "") return { ok: true, value: {} };
  const decoded = goUnmarshal(answer.text, { message_external_id: "string", status: "string" });
  return decoded.ok ? decoded : fail(`error unmarshalling forward response: ${decoded.error}`);
}

/** `sendHistoryBatch` and `sendHistoryOneByOne`: 2xx decoded by decodeHistoryResponse. */
export function readHistory(answer: RawAnswer): MailroomReading {
  if (answer.status >= 400) return clientError(answer);
  if (answer.text.length === 0) return { ok: true, value: {} };
  const decoded = goUnmarshal(answer.text, { status: "string", messages_received: "int" });
  return decoded.ok ? decoded : fail(`error unmarshalling history response: ${decoded.error}`);
}

/** `service.Close`: a 409 is "closed already"; else 2xx decoded by decodeCloseResponse. */
export function readClose(answer: RawAnswer): MailroomReading {
  if (answer.status === 409) return { ok: true, value: {} };
  if (answer.status >= 400) return clientError(answer);
  if (answer.text.trim() === "") return { ok: true, value: {} };
  const decoded = goUnmarshal(answer.text, { status: "string" });
  return decoded.ok ? decoded : fail(`error parsing close response: ${decoded.error}`);
}

/** `service.Reopen`: any 2xx, the body unread; anything >= 400 is an error (the ticket stays closed). */
export function readReopen(answer: RawAnswer): MailroomReading {
  return answer.status >= 400 ? clientError(answer) : { ok: true, value: {} };
}
