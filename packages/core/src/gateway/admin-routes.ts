import type { BridgeDeadLetters } from "../conversations/dead-letters";
import type { Readiness } from "../conversations/readiness";
import { BridgeError } from "../errors/bridge-error";
import type { Store } from "../store/store";
import { json } from "./responses";
import { deadLetterQuerySchema, recentConversationsQuerySchema, replayAllBodySchema } from "./schemas";
import { parseWith } from "./validation";
import { conversationSummaryView, deadLetterView, overviewView, pageView } from "./views";

/** What the console's read routes need of the store. */
type ConsoleStore = Pick<Store, "conversationCounts" | "recentConversations">;

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

/** `GET admin/overview`: conversations by state and the outbox figures, for the console. */
export async function overview(store: ConsoleStore, deps: AdminDeps): Promise<Response> {
  const [conversations, readiness] = await Promise.all([storeCall(() => store.conversationCounts()), deps.readiness()]);
  const { outbox_pending, oldest_pending_age_s, dead_letters } = readiness;
  if (outbox_pending === null || oldest_pending_age_s === null || dead_letters === null) {
    throw new BridgeError("store_unavailable", "the store is unavailable", { retryAfterS: 5 });
  }
  return json(200, overviewView(conversations, { outbox_pending, oldest_pending_age_s, dead_letters }));
}

/** `GET admin/conversations[?limit=]`: the most recently updated conversations (default 20), with messages by status. */
export async function recentConversations(request: Request, store: ConsoleStore): Promise<Response> {
  const query = parseWith(recentConversationsQuerySchema, Object.fromEntries(new URL(request.url).searchParams));
  const recent = await storeCall(() => store.recentConversations(query.limit ?? 20));
  return json(200, { results: recent.map(conversationSummaryView) });
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
