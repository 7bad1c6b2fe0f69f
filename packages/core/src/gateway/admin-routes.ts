import type { BridgeDeadLetters } from "../conversations/dead-letters";
import type { Readiness } from "../conversations/readiness";
import { BridgeError } from "../errors/bridge-error";
import { json } from "./responses";
import { deadLetterQuerySchema, replayAllBodySchema } from "./schemas";
import { parseWith } from "./validation";
import { deadLetterView, pageView } from "./views";

/**
 * The operator's routes (PROTOCOL.md "Operating it"): `admin/dead-letters` for admin consumers, and
 * `ready` for anyone. Answers carry ids, kinds, counts and error codes only: never message text,
 * tokens or contact addresses.
 */
export interface AdminDeps {
  deadLetters: BridgeDeadLetters;
  readiness: () => Promise<Readiness>;
}

/** `GET admin/dead-letters[?conversation_id=&limit=&cursor=]`: newest first, paged by `cursor`. */
export async function listDeadLetters(request: Request, deps: AdminDeps): Promise<Response> {
  const query = parseWith(deadLetterQuerySchema, Object.fromEntries(new URL(request.url).searchParams));
  const page = await storeCall(() =>
    deps.deadLetters.list({ conversationId: query.conversation_id, limit: query.limit, cursor: query.cursor }),
  );
  return json(200, pageView(page.deadLetters.map(deadLetterView), page.nextCursor));
}

/** `POST admin/dead-letters/{id}/replay`: 202 queued; 404 unknown; 409 not dead (replayed already). */
export async function replayDeadLetter(idSegment: string, deps: AdminDeps): Promise<Response> {
  // Ids are the store's positive integers; anything else names no dead letter.
  const id = /^[1-9]\d{0,15}$/.test(idSegment) ? Number(idSegment) : Number.NaN;
  const status = await deps.deadLetters.replay(id);
  return json(202, { id, status });
}

/** `POST admin/dead-letters/replay` `{"conversation_id"?}`: every dead letter (of one conversation). */
export async function replayAllDeadLetters(body: unknown, deps: AdminDeps): Promise<Response> {
  const parsed = parseWith(replayAllBodySchema, body);
  const replayed = await deps.deadLetters.replayAll({ conversationId: parsed.conversation_id });
  return json(202, { replayed });
}

/** `GET ready`: 200 when the store answers and the bridge is not stopping, else 503; the outbox figures. */
export async function ready(deps: AdminDeps): Promise<Response> {
  const readiness = await deps.readiness();
  if (readiness.status === "ready") return json(200, readiness);
  return json(503, readiness, readiness.status === "unavailable" ? { "retry-after": "5" } : {});
}

async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof BridgeError) throw error;
    throw new BridgeError("store_unavailable", "the store is unavailable", { retryAfterS: 5 });
  }
}
