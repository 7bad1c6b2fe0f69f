import type { AuthenticatedConsumer, ConsumerAuth } from "../auth/consumer-auth";
import { assertAdmin, assertSource, impliedSide } from "../auth/consumer-auth";
import { consolePage } from "../console/page";
import type { ConversationService } from "../conversations/conversation-service";
import type { BridgeEvents } from "../conversations/events";
import { toEventError } from "../conversations/events";
import type { ChatSource } from "../domain/model";
import { BridgeError, ERROR_STATUS, errorBody } from "../errors/bridge-error";
import { type MetricsRouteDeps, metricsResponse } from "../metrics/metrics-route";
import type { AddressRange, ForwardedHeader } from "../net/client-address";
import { resolveClientAddress } from "../net/client-address";
import { StoreUnavailableError } from "../store/errors";
import type { Store } from "../store/store";
import { nameServerSpan, tagConversation, withServerSpan } from "../tracing/server-span";
import {
  type AdminDeps,
  listDeadLetters,
  overview,
  ready,
  recentConversations,
  replayAllDeadLetters,
  replayDeadLetter,
} from "./admin-routes";
import { readBody } from "./read-body";
import { errorResponse, json } from "./responses";
import {
  ackBodySchema,
  chatBodySchema,
  closeBodySchema,
  listQuerySchema,
  SESSION_PATTERN,
  tokenBodySchema,
} from "./schemas";
import { parseWith } from "./validation";
import { closeView, conversationWithMessagesView, messageView, pageView } from "./views";

/** What a host may tell the handler about the connection (Web `Request` has no peer address). */
export interface RequestInfo {
  /**
   * The connection's peer address (the socket's), used to rate-limit failed logins per address.
   * When it is one of `trustedProxies`, the client's address is read from the forwarding header.
   */
  remoteAddress?: string | undefined;
}

/** The bridge's whole HTTP surface: a Web-standard handler any host mounts. */
export type BridgeHandler = (request: Request, info?: RequestInfo) => Promise<Response>;

/** What the gateway needs of the bridge's options. */
export interface GatewayOptions {
  store: Store;
  /** Mount point, with leading and trailing slash. */
  basePath: string;
  maxBodyBytes: number;
  trustedProxies: readonly AddressRange[];
  forwardedHeader: ForwardedHeader;
}

export interface GatewayDeps extends AdminDeps {
  options: GatewayOptions;
  service: ConversationService;
  auth: ConsumerAuth;
  events: BridgeEvents;
  ticketer?: ((request: Request) => Promise<Response>) | undefined;
  openapi?: (() => unknown) | undefined;
  verifySignature?: ((consumer: AuthenticatedConsumer, request: Request, raw: Uint8Array) => Promise<void>) | undefined;
  /** `GET {basePath}metrics`; absent: that route is 404. */
  metrics?: MetricsRouteDeps | undefined;
}

type Route =
  | { name: "health" }
  | { name: "ready" }
  | { name: "openapi" }
  | { name: "metrics" }
  | { name: "token" }
  | { name: "chats" }
  | { name: "chat"; session: string }
  | { name: "close"; session: string }
  | { name: "ack"; session: string }
  | { name: "ticketer"; rest: string }
  | { name: "deadLetters" }
  | { name: "deadLetterReplay"; id: string }
  | { name: "deadLettersReplay" }
  | { name: "overview" }
  | { name: "recentConversations" }
  | { name: "console" };

/** The routes only admin consumers may call. */
const ADMIN_ROUTES = new Set<Route["name"]>([
  "deadLetters",
  "deadLetterReplay",
  "deadLettersReplay",
  "overview",
  "recentConversations",
]);

const ALLOWED: Record<Route["name"], string> = {
  health: "GET",
  ready: "GET",
  openapi: "GET",
  metrics: "GET",
  token: "POST",
  chats: "GET, POST",
  chat: "GET",
  close: "POST",
  ack: "POST",
  ticketer: "POST",
  deadLetters: "GET",
  deadLetterReplay: "POST",
  deadLettersReplay: "POST",
  overview: "GET",
  recentConversations: "GET",
  console: "GET",
};

/** Matches a path below the base path; trailing slashes as documented, and also without them. */
export function matchRoute(rest: string): Route | undefined {
  const parts = rest.split("/").filter((p, i, all) => p !== "" || i < all.length - 1);
  if (parts.some((p) => p === "")) return undefined;
  const [a, b, c, ...more] = parts;
  if (a === "ticketer")
    return { name: "ticketer", rest: `/${parts.slice(1).join("/")}${rest.endsWith("/") ? "/" : ""}` };
  if (a === "admin") return matchAdminRoute(parts.slice(1));
  if (more.length > 0) return undefined;
  if (a === "health" && b === undefined) return { name: "health" };
  if (a === "ready" && b === undefined) return { name: "ready" };
  if (a === "openapi.json" && b === undefined) return { name: "openapi" };
  if (a === "console" && b === undefined) return { name: "console" };
  if (a === "metrics" && b === undefined) return { name: "metrics" };
  if (a === "token" && b === undefined) return { name: "token" };
  if (a !== "chat") return undefined;
  if (b === undefined) return { name: "chats" };
  if (!SESSION_PATTERN.test(b)) return undefined;
  if (c === undefined) return { name: "chat", session: b };
  if (c === "close") return { name: "close", session: b };
  if (c === "ack") return { name: "ack", session: b };
  return undefined;
}

/** The route of a request's path, when it is below the base path and one of the bridge's. */
function matchRequest(request: Request, base: string): Route | undefined {
  const path = new URL(request.url).pathname;
  const rest = path === base.slice(0, -1) ? "" : path.startsWith(base) ? path.slice(base.length) : undefined;
  return rest === undefined ? undefined : matchRoute(rest);
}

/** `admin/overview`, `admin/conversations`, `admin/dead-letters`, `…/replay`, `…/{id}/replay`. */
function matchAdminRoute(parts: string[]): Route | undefined {
  const [a, b, c, ...more] = parts;
  if (a === "overview" && b === undefined) return { name: "overview" };
  if (a === "conversations" && b === undefined) return { name: "recentConversations" };
  if (a !== "dead-letters" || more.length > 0) return undefined;
  if (b === undefined) return { name: "deadLetters" };
  if (b === "replay" && c === undefined) return { name: "deadLettersReplay" };
  if (c === "replay") return { name: "deadLetterReplay", id: b };
  return undefined;
}

/**
 * A route's template below the base path, e.g. `chat/{session}/close`: what spans and metrics are
 * named by (bounded, no ids). The ticketer's routes as its handler matches them, else `ticketer/*`.
 */
export function routeTemplate(route: Route): string {
  switch (route.name) {
    case "health":
      return "health";
    case "ready":
      return "ready";
    case "openapi":
      return "openapi.json";
    case "metrics":
      return "metrics";
    case "token":
      return "token";
    case "chats":
      return "chat";
    case "chat":
      return "chat/{session}";
    case "close":
      return "chat/{session}/close";
    case "ack":
      return "chat/{session}/ack";
    case "deadLetters":
      return "admin/dead-letters";
    case "deadLetterReplay":
      return "admin/dead-letters/{id}/replay";
    case "deadLettersReplay":
      return "admin/dead-letters/replay";
    case "overview":
      return "admin/overview";
    case "recentConversations":
      return "admin/conversations";
    case "console":
      return "console";
    case "ticketer": {
      const [tickets, id, action, ...more] = route.rest.split("/").filter((p) => p !== "");
      if (tickets !== "tickets" || more.length > 0) return "ticketer/*";
      if (id === undefined) return "ticketer/tickets";
      return action && TICKETER_ACTIONS.has(action) ? `ticketer/tickets/{external_id}/${action}` : "ticketer/*";
    }
  }
}

const TICKETER_ACTIONS = new Set(["messages", "close", "reopen", "history"]);

export function createGatewayHandler(deps: GatewayDeps): BridgeHandler {
  const { options, service, auth } = deps;
  const base = options.basePath;

  return async (request, info = {}) => {
    const started = performance.now();
    const response = await withServerSpan(request, () => handle(request, info));
    // Metrics and logs observe every answer; skipped (no route match, no object) when none listens.
    if (deps.events.listenerCount("http.request") > 0) {
      const route = matchRequest(request, base);
      deps.events.emit("http.request", {
        route: route ? routeTemplate(route) : "other",
        method: request.method,
        status: response.status,
        ms: performance.now() - started,
      });
    }
    return response;
  };

  async function handle(request: Request, info: RequestInfo): Promise<Response> {
    try {
      const route = matchRequest(request, base);
      if (!route) throw new BridgeError("route_not_found", "no such route");
      nameServerSpan(request.method, routeTemplate(route));
      if ("session" in route) tagConversation(route.session);
      const allowed = ALLOWED[route.name];
      if (!allowed.split(", ").includes(request.method) && !(request.method === "HEAD" && allowed.includes("GET"))) {
        return errorResponse(new BridgeError("method_not_allowed", `use ${allowed}`), { allow: allowed });
      }

      switch (route.name) {
        case "health":
          try {
            await options.store.ping();
            return json(200, { status: "ok" });
          } catch {
            return json(
              ERROR_STATUS.store_unavailable,
              { status: "unavailable", ...errorBody("store_unavailable", "the store does not answer") },
              { "retry-after": "5" },
            );
          }
        case "ready":
          return await ready(deps);
        case "console":
          // The page holds no data and needs no token: it signs in with the admin API itself.
          return consolePage(base);
        case "openapi":
          if (!deps.openapi) throw new BridgeError("route_not_found", "no such route");
          return json(200, deps.openapi());
        case "metrics":
          return await metricsResponse(request, deps.metrics);
        case "ticketer": {
          if (!deps.ticketer) throw new BridgeError("route_not_found", "the ticketer (style B) is not enabled");
          const url = new URL(request.url);
          url.pathname = route.rest;
          return await deps.ticketer(new Request(url, request));
        }
        case "token": {
          const body = await readBody(request, { maxBytes: options.maxBodyBytes, allowForm: true });
          const { username, password } = parseWith(tokenBodySchema, body.value);
          const address = resolveClientAddress({
            peer: info.remoteAddress,
            headers: request.headers,
            trustedProxies: options.trustedProxies,
            header: options.forwardedHeader,
          });
          return json(200, await auth.login(username, password, address));
        }
        default:
          break;
      }

      const consumer = await auth.authenticate(request.headers.get("authorization"));
      // Refused before the body is read: a consumer that is not an operator learns nothing more.
      if (ADMIN_ROUTES.has(route.name)) assertAdmin(consumer);
      const isRead = request.method === "GET" || request.method === "HEAD";
      const body = isRead
        ? undefined
        : await readBody(request, { maxBytes: options.maxBodyBytes, allowEmpty: route.name !== "chats" });
      if (consumer.signingSecrets && deps.verifySignature) {
        await deps.verifySignature(consumer, request, body?.raw ?? new Uint8Array(0));
      }

      switch (route.name) {
        case "deadLetters":
          return await listDeadLetters(request, deps);
        case "deadLetterReplay":
          return await replayDeadLetter(route.id, deps);
        case "deadLettersReplay":
          return await replayAllDeadLetters(body!.value, deps);
        case "overview":
          return await overview(options.store, deps);
        case "recentConversations":
          return await recentConversations(request, options.store);
        default:
          break;
      }
      // Conversations are for the two sides: a consumer that speaks for none (an admin without
      // sources) neither reads their text and addresses nor posts to them.
      if (consumer.sources.length === 0) {
        throw new BridgeError("forbidden_source", "this consumer speaks for no chat_source", { field: "chat_source" });
      }

      switch (route.name) {
        case "chats":
          return isRead ? await listChats(request, deps) : await postChat(body!.value, consumer, service);
        case "chat":
          return await getConversation(route.session, deps);
        case "close": {
          const parsed = parseWith(closeBodySchema, body!.value);
          const side = sideFor(consumer, parsed.chat_source);
          const result = await service.close(route.session, side, parsed.reason);
          return json(200, closeView(result));
        }
        case "ack": {
          const parsed = parseWith(ackBodySchema, body!.value);
          const side = sideFor(consumer, parsed.chat_source);
          const result = await service.ack({
            conversationId: route.session,
            messageId: parsed.message_id,
            status: parsed.status,
            by: side,
            counselorName: parsed.sender_name,
            reason: parsed.reason,
          });
          return json(200, result);
        }
      }
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        return errorResponse(
          new BridgeError("store_unavailable", "the store is unavailable; nothing was accepted", { retryAfterS: 5 }),
        );
      }
      if (!(error instanceof BridgeError)) {
        deps.events.emit("error", { where: "handler", error: toEventError(error) });
      }
      return errorResponse(error);
    }
  }
}

async function postChat(value: unknown, consumer: AuthenticatedConsumer, service: ConversationService) {
  const body = parseWith(chatBodySchema, value);
  assertSource(consumer, body.chat_source);
  tagConversation(body.chat_session);
  const result =
    body.chat_source === "WENI"
      ? await service.acceptClientMessage({
          conversationId: body.chat_session,
          messageId: body.message_id,
          text: body.chat_message,
          attachments: body.attachments,
          senderName: body.sender_name,
          contact: body.chat_sender,
          receiver: body.chat_receiver,
          channel: body.chat_channel,
          location: body.location,
          risk: body.risk,
          metadata: body.metadata,
          origin: "webhook",
        })
      : await service.acceptCounselorMessage({
          conversationId: body.chat_session,
          messageId: body.message_id,
          text: body.chat_message,
          attachments: body.attachments,
          counselorName: body.sender_name,
          counselorExtension: body.chat_receiver,
          channel: body.chat_channel,
        });
  const { duplicate, ...answer } = result;
  return duplicate ? json(200, { ...answer, duplicate: true }) : json(201, answer);
}

/** close/ and ack/ speak for a side: the body's `chat_source`, or the only side the consumer speaks for. */
function sideFor(consumer: AuthenticatedConsumer, source: ChatSource | undefined): "chatbot" | "helpline" {
  if (source === undefined) {
    const side = impliedSide(consumer);
    if (!side) throw new BridgeError("missing_field", "chat_source is required", { field: "chat_source" });
    return side;
  }
  const side = source === "WENI" ? "chatbot" : "helpline";
  const allowed =
    side === "chatbot"
      ? consumer.sources.includes("WENI")
      : consumer.sources.includes("OUTBOX") || consumer.sources.includes("HELPLINE");
  if (!allowed) {
    throw new BridgeError("forbidden_source", `this consumer may not speak for chat_source ${source}`, {
      field: "chat_source",
    });
  }
  return side;
}

async function listChats(request: Request, deps: GatewayDeps): Promise<Response> {
  const query = parseWith(listQuerySchema, Object.fromEntries(new URL(request.url).searchParams));
  const page = await storeCall(() =>
    deps.options.store.listMessages({ conversationId: query.session, before: query.cursor, limit: query.limit ?? 50 }),
  );
  return json(200, pageView(page.messages.map(messageView), page.nextCursor));
}

async function getConversation(session: string, deps: GatewayDeps): Promise<Response> {
  const conversation = await storeCall(() => deps.options.store.getConversation(session));
  if (!conversation) throw new BridgeError("conversation_not_found", "no conversation with that chat_session");
  const messages = await storeCall(() => deps.options.store.conversationMessages(session));
  return json(200, conversationWithMessagesView(conversation, messages));
}

async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof BridgeError) throw error;
    throw new BridgeError("store_unavailable", "the store is unavailable", { retryAfterS: 5 });
  }
}
