import { type Attachment, type ConversationState, type MessageStatus, systemClock } from "@openchs-bridge/core";
import { createUpstreamHttp, type UpstreamHttp } from "@openchs-bridge/core/upstream";
import { asLoginError, describeGatewayError, OpenChsError } from "../errors";
import { createCachedCredentialAuth } from "../internal/cached-credential";
import {
  type CallOptions,
  configError,
  headerSafe,
  parseBaseUrl,
  sessionSegment,
  type TransportOptions,
} from "../internal/shared";
import {
  ackAnswerSchema,
  closeAnswerSchema,
  conversationAnswerSchema,
  listAnswerSchema,
  sendAnswerSchema,
  tokenAnswerSchema,
} from "./schemas";

const FACTORY = "createBridgeApiClient";
// The service name errors carry: kept from before the rename, so code that checks it keeps working.
const SERVICE = "openchs-gateway";

/** Options of {@link createBridgeApiClient}. Give `username` and `password`, or a fixed `token`. */
export interface BridgeApiClientOptions extends TransportOptions {
  /** The bridge's (or legacy gateway's) origin and any path it is mounted under, e.g. `https://bridge.example.org`. */
  baseUrl: string;
  /** The API's base path under `baseUrl`: `/api/` (default) or the pre-2025 `/open/api/`. */
  prefix?: "/api/" | "/open/api/" | (string & {}) | undefined;
  /** Logs in at `token/` and sends `Authorization: Token <token>`. */
  username?: string | undefined;
  /** With `username`. */
  password?: string | undefined;
  /** A fixed token (the legacy gateway's never expire): sent as is; a 401 is an `auth` error. */
  token?: string | undefined;
  /** Renew a token this long before its `expires_in` runs out. Default: 10% of its lifetime, at most 60 s. */
  refreshMarginMs?: number | undefined;
}

/** Credentials for `token/`. */
export interface GatewayCredentials {
  username: string;
  password: string;
}

/** A token from `token/`. The legacy gateway gives no expiry: its tokens live until revoked. */
export interface GatewayToken {
  token: string;
  /** Seconds the token is valid for, from the bridge. */
  expires_in?: number | undefined;
  /** ISO time the token expires, from the bridge. */
  expires_at?: string | undefined;
}

/** The body of `POST chat/`, as PROTOCOL.md documents it (legacy names kept). */
export interface GatewayChatBody {
  /** The conversation id: 1–100 characters of `[A-Za-z0-9_-]`. */
  chat_session: string;
  /** The text; required unless `attachments` are given. */
  chat_message?: string | undefined;
  /** For `WENI`: the RapidPro contact UUID replies go back to. */
  chat_sender?: string | undefined;
  /** `WENI`: a helpline or routing key; `OUTBOX`: the counselor's extension. */
  chat_receiver?: string | undefined;
  chat_source: "WENI" | "OUTBOX";
  /**
   * Any short string. `WENI`: the conversation's channel (default `WENI`), which the bridge gives the
   * helpline; `OUTBOX`: the helpline's echo of it.
   */
  chat_channel?: string | undefined;
  /** The sender's id for this message: the idempotency key. With it, the call is retried safely. */
  message_id?: string | undefined;
  /** Pseudonym of the client (`WENI`) or the counselor (`OUTBOX`). */
  sender_name?: string | undefined;
  attachments?: readonly Attachment[] | undefined;
  location?: string | undefined;
  risk?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/**
 * The answer to `POST chat/`. From the bridge: `accepted` once stored durably (delivery is
 * reported later by acks). From the legacy gateway: `success`, which it answers even when
 * forwarding failed, so it proves nothing about delivery.
 */
export interface SendChatResult {
  status: "accepted" | "success";
  /** True when the answer came from the legacy gateway. */
  legacy: boolean;
  /** The server's id of the stored message (the legacy gateway may omit it). */
  uuid: string | undefined;
  /** True when the bridge had this `message_id` already and nothing was delivered twice. */
  duplicate: boolean;
  conversation_id?: string | undefined;
  message_id?: string | undefined;
  conversation_state?: ConversationState | undefined;
}

/** Query of `GET chat/`. */
export interface ListChatsQuery {
  /** Only this conversation's messages. */
  session?: string | undefined;
  /** Page size (bridge: 1–500). */
  limit?: number | undefined;
  /** `next_cursor` of the previous page. */
  cursor?: string | number | undefined;
}

/** An attachment as the gateway lists it. */
export interface GatewayAttachment {
  url: string;
  content_type?: string | null | undefined;
  [field: string]: unknown;
}

/** Why a message's delivery last failed (never message text or secrets). */
export interface GatewayDeliveryError {
  code: string;
  message?: string | null | undefined;
  [field: string]: unknown;
}

/**
 * One chat message as `GET chat/` lists it: the legacy model's fields; the bridge adds
 * `message_id`, `direction`, the delivery `status` and times. Ids are strings. Unknown fields are kept.
 */
export interface GatewayChatRecord {
  id?: string | null | undefined;
  uuid?: string | null | undefined;
  chat_session?: string | null | undefined;
  chat_message?: string | null | undefined;
  chat_sender?: string | null | undefined;
  chat_receiver?: string | null | undefined;
  chat_source?: string | null | undefined;
  chat_channel?: string | null | undefined;
  message_id?: string | null | undefined;
  /** Bridge: `to_helpline` or `to_chatbot`. */
  direction?: string | null | undefined;
  /** Bridge: `accepted`, `sent`, `delivered`, `read` or `failed`. */
  status?: string | null | undefined;
  sender_name?: string | null | undefined;
  attachments?: GatewayAttachment[] | null | undefined;
  last_error?: GatewayDeliveryError | null | undefined;
  created_at?: string | null | undefined;
  updated_at?: string | null | undefined;
  [field: string]: unknown;
}

/** A page of `GET chat/`. The legacy gateway answers everything at once: `next_cursor` is then null. */
export interface ChatPage {
  results: GatewayChatRecord[];
  /** Pass it as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

/** Body of `POST chat/{session}/close/`. */
export interface CloseChatBody {
  /** Who closes: the chatbot (`WENI`) or the helpline (`HELPLINE`). */
  chat_source: "WENI" | "HELPLINE";
  reason?: string | undefined;
}

/** The answer to a close. The legacy gateway's is not documented, so every field is optional. */
export interface CloseChatResult {
  conversation_id?: string | null | undefined;
  /** Bridge: `closed`. */
  state?: string | null | undefined;
  /** Bridge: `chatbot`, `helpline` or `system`. */
  closed_by?: string | null | undefined;
  reason?: string | null | undefined;
  /** Bridge: false when it was closed already (closing twice is a no-op). */
  changed?: boolean | null | undefined;
  status?: string | null | undefined;
  [field: string]: unknown;
}

/** Body of `POST chat/{session}/ack/`. */
export interface AckBody {
  /** The `message_id` of the message acknowledged. */
  message_id: string;
  status: "delivered" | "read" | "failed";
  chat_source: "WENI" | "HELPLINE" | "OUTBOX";
  /** On a helpline `read`: the counselor's pseudonym. */
  sender_name?: string | undefined;
  /** On `failed`: a short reason code. */
  reason?: string | undefined;
}

/** The answer to an ack (bridge). */
export interface AckResult {
  conversation_id?: string | null | undefined;
  message_id?: string | null | undefined;
  /** The message's status after the ack. */
  status?: string | null | undefined;
  /** False when the ack changed nothing (a repeat, or a status that would move back). */
  changed?: boolean | null | undefined;
  [field: string]: unknown;
}

/** A message of `GET chat/{session}/`, with its delivery status. */
export interface GatewayConversationMessage extends GatewayChatRecord {
  message_id: string;
  status: MessageStatus;
}

/** `GET chat/{session}/` (bridge): state, counselor pseudonym, and messages with their delivery status. */
export interface GatewayConversation {
  conversation_id: string;
  state: ConversationState;
  /** `webhook` (style A) or `ticketer` (style B). */
  origin?: string | null | undefined;
  /** The routing key of the helpline that serves it. */
  helpline?: string | null | undefined;
  /** The chatbot contact replies go to. */
  chat_sender?: string | null | undefined;
  /** The counselor's pseudonym, once a counselor read or replied. */
  counselor_name?: string | null | undefined;
  closed_by?: string | null | undefined;
  close_reason?: string | null | undefined;
  closed_at?: string | null | undefined;
  /** Hunting re-notifications so far. */
  hunt_count?: number | null | undefined;
  created_at?: string | null | undefined;
  updated_at?: string | null | undefined;
  messages: GatewayConversationMessage[];
  [field: string]: unknown;
}

/**
 * A typed client of the bridge's own HTTP API, the "gateway API" its consumers call (`token/`,
 * `chat/`, close, ack), which the legacy Django gateway (`openchlsystem/api-gateway`) also serves.
 * Not a client of an upstream: the bridge itself reaches the helpline through
 * `createOpenChsHelplineClient`. The helpline's side and the simulators use it to call the bridge.
 */
export interface BridgeApiClient {
  /** The API base, `baseUrl` + `prefix`, ending in `/`. */
  readonly apiUrl: string;
  /**
   * `POST token/`: a fresh token for the configured credentials (or the ones given). Does not
   * change the token the client itself uses.
   */
  token(credentials?: GatewayCredentials, options?: CallOptions): Promise<GatewayToken>;
  /** `GET chat/`: a page of chat messages, newest first on the bridge. */
  listChats(query?: ListChatsQuery, options?: CallOptions): Promise<ChatPage>;
  /**
   * `POST chat/`. With `message_id`, it is also sent as `Idempotency-Key` and the call is retried on
   * network errors, timeouts, 408, 429 and 5xx (the bridge dedupes by it); without, it is sent once.
   */
  sendChat(body: GatewayChatBody, options?: CallOptions): Promise<SendChatResult>;
  /** `POST chat/{session}/close/`. Sent once (the legacy gateway starts a flow on every close). */
  closeChat(session: string, body: CloseChatBody, options?: CallOptions): Promise<CloseChatResult>;
  /** `POST chat/{session}/ack/` (bridge only). Retried: an ack only moves a status forward. */
  ack(session: string, body: AckBody, options?: CallOptions): Promise<AckResult>;
  /** `GET chat/{session}/` (bridge only). */
  getConversation(session: string, options?: CallOptions): Promise<GatewayConversation>;
}

/**
 * Creates a client of the bridge's API (or of the legacy gateway's, which it replaces). With
 * `username`/`password` it logs in at `token/` once (one login shared by concurrent calls), caches the
 * token, renews it ahead of `expires_in` when the server gives one, and logs in again once on a 401.
 *
 * @example
 * ```ts
 * const bridgeApi = createBridgeApiClient({ baseUrl: "https://bridge.example.org", username, password });
 * await bridgeApi.sendChat({ chat_session: "abc123", chat_source: "WENI", chat_sender: contactUuid,
 *   chat_message: "hello", message_id: "msg-1" });
 * ```
 */
export function createBridgeApiClient(options: BridgeApiClientOptions): BridgeApiClient {
  const apiUrl = resolveApiUrl(options);
  const hasCredentials = options.username !== undefined || options.password !== undefined;
  if (options.token !== undefined && hasCredentials) {
    configError(FACTORY, "give either `token` or `username` and `password`, not both");
  }
  if (options.token !== undefined && (typeof options.token !== "string" || options.token === "")) {
    configError(FACTORY, "`token` must be a non-empty string");
  }
  if (options.token === undefined && !(isFilled(options.username) && isFilled(options.password))) {
    configError(FACTORY, "`username` and `password` (non-empty strings) or a `token` are required");
  }
  const clock = options.clock ?? systemClock;
  const createError = (init: ConstructorParameters<typeof OpenChsError>[1]) => new OpenChsError(SERVICE, init);
  const transport = {
    baseUrl: apiUrl,
    timeoutMs: options.timeoutMs,
    retry: options.retry,
    fetch: options.fetch,
    createError,
  };

  const loginHttp = createUpstreamHttp({
    ...transport,
    label: "OpenCHS gateway login",
    headers: options.headers,
    describeError: asLoginError(describeGatewayError),
  });

  async function requestToken(credentials: GatewayCredentials, signal?: AbortSignal): Promise<GatewayToken> {
    const { data } = await loginHttp.request({
      method: "POST",
      path: "token/",
      json: { username: credentials.username, password: credentials.password },
      schema: tokenAnswerSchema,
      anonymous: true,
      // Logging in twice is harmless (DRF returns the same token; the bridge issues another).
      idempotent: true,
      signal,
    });
    return {
      token: data.token,
      ...(data.expires_in != null ? { expires_in: data.expires_in } : {}),
      ...(data.expires_at != null ? { expires_at: data.expires_at } : {}),
    };
  }

  const configured: GatewayCredentials | undefined =
    options.token === undefined ? { username: options.username!, password: options.password! } : undefined;

  const auth = configured
    ? createCachedCredentialAuth({
        clock,
        header: (token) => ({ authorization: `Token ${token}` }),
        refreshMarginMs: options.refreshMarginMs,
        maxDefaultMarginMs: 60_000,
        abortError: () => createError({ code: "aborted", message: "OpenCHS gateway login wait was aborted" }),
        login: async () => {
          const startedAt = clock.now();
          const issued = await requestToken(configured);
          return { value: issued.token, expiresAt: expiryOf(issued, startedAt) };
        },
      })
    : undefined;

  const http: UpstreamHttp = createUpstreamHttp({
    ...transport,
    label: "OpenCHS gateway",
    headers: {
      ...options.headers,
      ...(options.token !== undefined ? { authorization: `Token ${options.token}` } : {}),
    },
    auth,
    describeError: describeGatewayError,
  });

  return {
    apiUrl,
    async token(credentials, callOptions) {
      const use = credentials ?? configured;
      if (!use) configError("BridgeApiClient.token", "no `username`/`password` configured or given");
      return requestToken(use, callOptions?.signal);
    },

    async listChats(query = {}, callOptions) {
      const { data } = await http.request({
        method: "GET",
        path: "chat/",
        searchParams: { session: query.session, limit: query.limit, cursor: query.cursor },
        schema: listAnswerSchema,
        signal: callOptions?.signal,
      });
      if (Array.isArray(data)) return { results: data, next_cursor: null };
      return { results: data.results, next_cursor: data.next_cursor == null ? null : String(data.next_cursor) };
    },

    async sendChat(body, callOptions) {
      const key = body.message_id;
      const { data } = await http.request({
        method: "POST",
        path: "chat/",
        json: body,
        headers: key !== undefined && key !== "" ? { "Idempotency-Key": headerSafe(key) } : undefined,
        schema: sendAnswerSchema,
        signal: callOptions?.signal,
      });
      if (data.status === "success") {
        return { status: "success", legacy: true, uuid: data.uuid ?? undefined, duplicate: false };
      }
      return {
        status: "accepted",
        legacy: false,
        uuid: data.uuid,
        duplicate: data.duplicate ?? false,
        conversation_id: data.conversation_id,
        message_id: data.message_id,
        conversation_state: data.conversation_state,
      };
    },

    async closeChat(session, body, callOptions) {
      const { data } = await http.request({
        method: "POST",
        path: `chat/${sessionSegment(SERVICE, session)}/close/`,
        json: body,
        schema: closeAnswerSchema,
        signal: callOptions?.signal,
      });
      return data ?? {};
    },

    async ack(session, body, callOptions) {
      const { data } = await http.request({
        method: "POST",
        path: `chat/${sessionSegment(SERVICE, session)}/ack/`,
        json: body,
        schema: ackAnswerSchema,
        idempotent: true,
        signal: callOptions?.signal,
      });
      return data ?? {};
    },

    async getConversation(session, callOptions) {
      const { data } = await http.request({
        method: "GET",
        path: `chat/${sessionSegment(SERVICE, session)}/`,
        schema: conversationAnswerSchema,
        signal: callOptions?.signal,
      });
      return data;
    },
  };
}

/**
 * @deprecated Renamed {@link createBridgeApiClient}: it is a client of the bridge's own API, not of an
 * OpenCHS upstream. This alias will be removed in a future major version.
 */
export const createOpenChsGatewayClient: (options: BridgeApiClientOptions) => BridgeApiClient = createBridgeApiClient;
/** @deprecated Renamed {@link BridgeApiClient}. */
export type OpenChsGatewayClient = BridgeApiClient;
/** @deprecated Renamed {@link BridgeApiClientOptions}. */
export type OpenChsGatewayClientOptions = BridgeApiClientOptions;

function resolveApiUrl(options: BridgeApiClientOptions): string {
  const base = parseBaseUrl(FACTORY, options.baseUrl);
  const prefix = options.prefix ?? "/api/";
  const segments = typeof prefix === "string" ? prefix.split("/").filter(Boolean) : [];
  if (
    typeof prefix !== "string" ||
    !/^\/?([A-Za-z0-9._~-]+\/)*[A-Za-z0-9._~-]*\/?$/.test(prefix) ||
    segments.some((segment) => segment === "." || segment === "..")
  ) {
    configError(FACTORY, "`prefix` must be a path such as /api/ or /open/api/");
  }
  const trimmed = prefix.replace(/^\/+/, "").replace(/\/+$/, "");
  return new URL(trimmed === "" ? "" : `${trimmed}/`, base).toString();
}

/** When a token stops working: from `expires_in` (counted from when the login was sent), else `expires_at`. */
function expiryOf(token: GatewayToken, startedAt: number): number | undefined {
  if (token.expires_in !== undefined) return startedAt + token.expires_in * 1000;
  if (token.expires_at !== undefined) {
    const at = Date.parse(token.expires_at);
    return Number.isNaN(at) ? undefined : at;
  }
  return undefined;
}

function isFilled(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}
