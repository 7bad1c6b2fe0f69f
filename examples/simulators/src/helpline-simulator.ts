import { randomBytes } from "node:crypto";
import type { SendChatResult } from "@openchs-bridge/openchs-client";
import {
  adminError,
  adminFailure,
  type BridgeCallError,
  describeBridgeError,
  optionalString,
  requiredString,
  SimulatorError,
} from "./admin";
import { type BridgeConnection, createBridgeLink } from "./bridge-link";
import { createFaultSwitch, type FaultConfig, type FaultHit, type FaultSwitch } from "./faults";
import { type AnyListener, createEventHub, type SimEvents } from "./sim-events";
import {
  createRequestLog,
  INVALID_JSON,
  isRecord,
  parseJson,
  type RequestRecord,
  type SimRequest,
  type SimResponse,
  startSimServer,
} from "./sim-server";

/** The helpline core API's path, as on a real server. */
export const HELPLINE_API_PATH = "/helpline/api/";

/** The sandbox helpline's default API user (what the bridge logs in with: `HELPLINE_USERNAME`). */
export const DEFAULT_HELPLINE_USER = { username: "bridge", password: "sandbox-helpline-pass" } as const;

/** The default counselors: pseudonyms and extensions, all in the queue. */
export const DEFAULT_COUNSELORS: readonly CounselorInput[] = [
  { name: "Counselor Amina", extension: "101" },
  { name: "Counselor Baraka", extension: "102" },
];

/** The auto-counselor's default script: one line after reading, then one per client message. */
export const DEFAULT_COUNSELOR_LINES: readonly string[] = [
  "Hello, my name is {name}. I am here to help you. Are you safe right now?",
  "Thank you for telling me. Can you tell me where you are?",
  "You did the right thing by reaching out. I will stay with you.",
];

/** A counselor as configured. */
export interface CounselorInput {
  /** The pseudonym the child sees. */
  name: string;
  /** The counselor's extension: `chat_receiver` of the replies. */
  extension: string;
  /** In the hunting queue. Default true. */
  available?: boolean | undefined;
}

/** A counselor of the simulated helpline. */
export interface Counselor {
  name: string;
  extension: string;
  /** In the hunting queue: offered new chats. */
  available: boolean;
  /** Chat sessions assigned to this counselor. */
  chats: string[];
}

/** The auto-counselor (for the demo): reads offered chats and answers from a script. */
export interface AutoCounselorOptions {
  /** The script; `{name}` is the counselor's pseudonym. Default {@link DEFAULT_COUNSELOR_LINES}. */
  lines?: string[] | undefined;
  /** Delay before each reply, in ms. Default 200. */
  replyDelayMs?: number | undefined;
  /** When the script is used up: close the chat with this reason (`true`: `"resolved"`). Default: stay open. */
  closeWhenDone?: boolean | string | undefined;
}

/** Options of {@link startHelplineSimulator}. */
export interface HelplineSimulatorOptions {
  /** Listen address. Default `127.0.0.1`. */
  host?: string | undefined;
  /** Listen port. Default 0 (any free port). */
  port?: number | undefined;
  /** API users (HTTP Basic). Default {@link DEFAULT_HELPLINE_USER}. */
  users?: Array<{ username: string; password: string }> | undefined;
  /** A session ends after this long without use. Default 36000 s (the helpline's 10 h), in ms. */
  sessionIdleMs?: number | undefined;
  /** Default {@link DEFAULT_COUNSELORS}. */
  counselors?: CounselorInput[] | undefined;
  /** Delay between a chat's first message (or a re-notification) and the offer to a counselor, in ms. Default 100. */
  offerDelayMs?: number | undefined;
  /** Delay before the assigned counselor reads a new message, in ms. Default 50. */
  readDelayMs?: number | undefined;
  /**
   * The first n offers of each chat are ignored (nobody picks up), so the bridge's hunt timeout and
   * re-notification happen. Default 0.
   */
  ignoreFirstOffers?: number | undefined;
  /** The counselor who accepts an offer reads the chat at once (a `read` ack to the bridge). Default true. */
  autoRead?: boolean | undefined;
  /** Scripted replies (for the demo). Default off. */
  autoCounselor?: boolean | AutoCounselorOptions | undefined;
  /** The bridge, and the helpline's consumer there (sources `OUTBOX`, `HELPLINE`). Can be set later. */
  bridge?: BridgeConnection | undefined;
  /** Events carry message text (a live transcript). Default false: ids and counts only. */
  includeText?: boolean | undefined;
  /** Time source for session expiry. Default `Date.now`. */
  now?: (() => number) | undefined;
}

/** Which kind of `msg/` message the bridge sent. */
export type HelplineMessageKind = "message" | "renotify" | "close";

/** A message stored by the simulated helpline. */
export interface HelplineMessageRecord {
  /** The helpline's id (`messages[0][0]` of the answer). */
  id: string;
  sessionId: string;
  /** The `message_id` as received (with its `#renotify-N` or `#close` suffix). */
  messageId: string;
  kind: HelplineMessageKind;
  /** The bridge's id of the message: `messageId` without a `#renotify-N` suffix. */
  originalMessageId: string;
  /** For a re-notification: its round. */
  round?: number | undefined;
  channel: string;
  from: string;
  /** The text, decoded when it came base64-encoded. */
  text: string;
  encoding: "plain" | "base64";
  mime?: string | undefined;
  timestamp: string;
  media?: { url: string; mime?: string | undefined; filename?: string | undefined; size?: string | undefined };
  receivedAt: number;
  /** How many times this `message_id` arrived in this session: 1, plus each duplicate. */
  received: number;
  readAt?: number | undefined;
  readBy?: string | undefined;
}

/** A chat session of the simulated helpline. */
export interface HelplineChat {
  sessionId: string;
  /** The client's address (the chatbot contact): `chat_sender` of the replies. */
  from: string;
  channel: string;
  /** `hunting` (looking for a counselor), `assigned`, or `closed`. */
  state: "hunting" | "assigned" | "closed";
  /** Extension of the assigned counselor. */
  counselor?: string | undefined;
  /** Offers made so far. */
  offers: number;
  /** Hunts started: 1 for the first message, plus one per re-notification. */
  hunts: number;
  closedBy?: string | undefined;
  closeReason?: string | undefined;
  createdAt: number;
  messages: HelplineMessageRecord[];
  /** Counselor replies sent to the bridge. */
  replies: Array<{ messageId: string; text: string; counselor: string; at: number; duplicate: boolean }>;
  /** The auto-counselor's next script line. */
  scriptIndex: number;
}

/** A `message_id` received again (the helpline stored it once). */
export interface DuplicateRecord {
  sessionId: string;
  messageId: string;
  at: number;
}

/** Every event of the simulated helpline. Session ids of logins (secrets) never appear. */
export interface HelplineEventMap {
  login: { username: string; ok: boolean };
  "sessions.expired": { count: number };
  "message.stored": {
    sessionId: string;
    messageId: string;
    helplineId: string;
    kind: HelplineMessageKind;
    round?: number | undefined;
    encoding: "plain" | "base64";
    text?: string | undefined;
  };
  "message.duplicate": { sessionId: string; messageId: string; received: number };
  "message.rejected": { fields: string[]; reason: string };
  "chat.closed": { sessionId: string; closedBy: string; reason?: string | undefined };
  "hunt.started": { sessionId: string; hunt: number };
  "hunt.offered": { sessionId: string; counselor: string; extension: string; offer: number };
  "hunt.ignored": { sessionId: string; counselor: string; extension: string; offer: number };
  "hunt.no_counselor": { sessionId: string };
  "counselor.assigned": { sessionId: string; counselor: string; extension: string };
  "counselor.read": { sessionId: string; messageId: string; counselor: string; changed?: boolean | undefined };
  "counselor.replied": {
    sessionId: string;
    messageId: string;
    counselor: string;
    duplicate: boolean;
    text?: string | undefined;
  };
  "counselor.closed": { sessionId: string; counselor?: string | undefined; reason?: string | undefined };
  "bridge.error": { action: "read" | "reply" | "close"; sessionId: string; error: BridgeCallError };
  fault: { mode: FaultHit["mode"]; method: string; path: string };
}

/** The simulated helpline's records, for tests and the admin API. */
export interface HelplineState {
  readonly chats: ReadonlyMap<string, HelplineChat>;
  chat(sessionId: string): HelplineChat | undefined;
  /** Stored messages, in arrival order; of one session when given. */
  messages(sessionId?: string): HelplineMessageRecord[];
  /** How many times `messageId` arrived in `sessionId` (0 if never); it is stored at most once. */
  received(sessionId: string, messageId: string): number;
  readonly duplicates: readonly DuplicateRecord[];
  readonly logins: { readonly ok: number; readonly failed: number };
  /** Live API sessions (logins not expired). */
  activeSessions(): number;
  /** The last requests (method, path, status, fault). */
  readonly requests: readonly RequestRecord[];
}

/** The counselor desk: the queue, and what counselors do (programmatic; `/__sim/...` does the same over HTTP). */
export interface CounselorDesk {
  list(): Counselor[];
  get(extension: string): Counselor | undefined;
  /** Adds a counselor (in the queue unless `available: false`). */
  add(counselor: CounselorInput): Counselor;
  /** Puts a counselor in the hunting queue. */
  join(extension: string): void;
  /** Takes a counselor out of the hunting queue (assigned chats stay). */
  leave(extension: string): void;
  /**
   * A counselor reply: `POST chat/` to the bridge with `chat_source: "OUTBOX"`. By the chat's
   * counselor (or `counselor`, an extension; else the first one).
   */
  reply(
    sessionId: string,
    text: string,
    options?: { counselor?: string | undefined; messageId?: string | undefined },
  ): Promise<{ messageId: string; result: SendChatResult }>;
  /** A `read` ack of one message, or of every unread one; returns the message ids acknowledged. */
  read(sessionId: string, messageId?: string, options?: { counselor?: string | undefined }): Promise<string[]>;
  /** The counselor closes the chat: `POST chat/{session}/close/` with `chat_source: "HELPLINE"`. */
  close(sessionId: string, reason?: string): Promise<void>;
}

/** Settings that can be changed while running (`configure`, `POST /__sim/config`). */
export interface HelplineRuntimeConfig {
  offerDelayMs: number;
  readDelayMs: number;
  ignoreFirstOffers: number;
  autoRead: boolean;
  /** The auto-counselor's script, reply delay and closing reason; false when off. */
  autoCounselor: false | { lines: string[]; replyDelayMs: number; closeWhenDone: string | false };
  includeText: boolean;
}

/** A running simulated helpline. */
export interface HelplineSimulator {
  /** The core API root, e.g. `http://127.0.0.1:PORT/helpline/api/` (`HELPLINE_URL`). */
  url: string;
  /** `http://127.0.0.1:PORT`; the admin API is under `/__sim/`. */
  origin: string;
  port: number;
  state: HelplineState;
  counselors: CounselorDesk;
  faults: FaultSwitch;
  events: SimEvents<HelplineEventMap>;
  /** Listens to every event; returns a function that stops. */
  onAny(listener: AnyListener<HelplineEventMap>): () => void;
  /** The next matching event, or a rejection after `timeoutMs` (default 5000). */
  waitFor<K extends keyof HelplineEventMap>(
    type: K,
    predicate?: (payload: HelplineEventMap[K]) => boolean,
    timeoutMs?: number,
  ): Promise<HelplineEventMap[K]>;
  /** Ends every API session now (the bridge must log in again); returns how many. */
  expireSessions(): number;
  /** Sets (or replaces) the bridge the counselors talk to. */
  connectBridge(connection: BridgeConnection): void;
  /** The settings in force. */
  readonly config: Readonly<HelplineRuntimeConfig>;
  /** Changes settings while running. */
  configure(changes: Partial<HelplineSimulatorOptions>): void;
  /** Forgets every chat, message and duplicate (counselors, users and sessions stay). */
  reset(): void;
  /** Stops the server and every timer. */
  close(): Promise<void>;
}

/**
 * Starts a simulated OpenCHS helpline on loopback: the core API (`/helpline/api/`: login by HTTP
 * Basic, Bearer sessions with idle expiry, `POST msg/` with dedupe by `message_id`), hunting with
 * counselors who can ignore offers, counselor actions towards the bridge, an admin API under
 * `/__sim/`, and fault switches.
 */
export async function startHelplineSimulator(options: HelplineSimulatorOptions = {}): Promise<HelplineSimulator> {
  const now = options.now ?? Date.now;
  const users = options.users ?? [DEFAULT_HELPLINE_USER];
  const sessionIdleMs = options.sessionIdleMs ?? 36_000_000;
  const config: HelplineRuntimeConfig = {
    offerDelayMs: 100,
    readDelayMs: 50,
    ignoreFirstOffers: 0,
    autoRead: true,
    autoCounselor: false,
    includeText: false,
  };
  applyConfig(config, options);

  const hub = createEventHub<HelplineEventMap>("helpline simulator");
  const emit = hub.emit;
  const faults = createFaultSwitch();
  const requestLog = createRequestLog();
  const bridge = createBridgeLink("helpline simulator", options.bridge);

  const sessions = new Map<string, { username: string; userId: string; lastUsedAt: number }>();
  const chats = new Map<string, HelplineChat>();
  const byKey = new Map<string, HelplineMessageRecord>();
  const duplicates: DuplicateRecord[] = [];
  const logins = { ok: 0, failed: 0 };
  const counselors = new Map<string, Counselor>();
  for (const c of options.counselors ?? DEFAULT_COUNSELORS) addCounselor(c);
  let nextMessageId = 1;
  let nextReply = 1;
  let offerCursor = 0;
  const timers = new Set<NodeJS.Timeout>();
  /** Bridge calls of one chat run one after the other (a read before the reply that follows it). */
  const lanes = new Map<string, Promise<unknown>>();
  let closed = false;

  function addCounselor(input: CounselorInput): Counselor {
    if (typeof input?.name !== "string" || input.name === "" || typeof input.extension !== "string") {
      throw new TypeError("helpline simulator: a counselor needs a `name` and an `extension` (strings)");
    }
    if (counselors.has(input.extension)) {
      throw new TypeError(`helpline simulator: extension ${input.extension} is taken`);
    }
    const counselor = { name: input.name, extension: input.extension, available: input.available ?? true, chats: [] };
    counselors.set(counselor.extension, counselor);
    return counselor;
  }

  function later(ms: number, fn: () => void | Promise<void>): void {
    if (closed) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      // Failures of background counselor work are reported as events; never an unhandled rejection.
      if (!closed) void Promise.resolve().then(fn).catch(noop);
    }, ms);
    timers.add(timer);
  }

  function inLane<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    const previous = lanes.get(sessionId) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.catch(() => undefined);
    lanes.set(sessionId, settled);
    void settled.then(() => {
      if (lanes.get(sessionId) === settled) lanes.delete(sessionId);
    });
    return next;
  }

  function text<T extends object>(payload: T, value: string): T & { text?: string } {
    return config.includeText ? { ...payload, text: value } : payload;
  }

  // --- the core API ---------------------------------------------------------------------------

  function errors(status: number, message: string, field = "", table = ""): SimResponse {
    return { status, json: { errors: [["error", message, String(status), table, "", field, ""]] } };
  }

  function authenticate(req: SimRequest): { session: string; created: boolean } | SimResponse {
    const header = req.headers.authorization ?? "";
    if (/^basic /i.test(header)) {
      const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      const username = colon < 0 ? decoded : decoded.slice(0, colon);
      const password = colon < 0 ? "" : decoded.slice(colon + 1);
      const userIndex = users.findIndex((u) => u.username === username && u.password === password);
      if (userIndex < 0) {
        logins.failed++;
        emit("login", { username, ok: false });
        return errors(412, "invalid login", "", "auth");
      }
      const session = randomBytes(16).toString("hex");
      sessions.set(session, { username, userId: String(userIndex + 1), lastUsedAt: now() });
      logins.ok++;
      emit("login", { username, ok: true });
      return { session, created: true };
    }
    const bearer = /^bearer (.+)$/i.exec(header)?.[1]?.trim();
    const sessionHeader = req.headers["session-id"];
    const session = bearer ?? (typeof sessionHeader === "string" ? sessionHeader : undefined);
    if (!session) return errors(401, "not logged in");
    const entry = sessions.get(session);
    if (!entry) return errors(401, "not logged in");
    if (now() - entry.lastUsedAt > sessionIdleMs) {
      sessions.delete(session);
      return errors(401, "session expired");
    }
    entry.lastUsedAt = now();
    return { session, created: false };
  }

  function sessionAnswer(session: string): Record<string, unknown> {
    const entry = sessions.get(session)!;
    return { ss: [[session, entry.userId, entry.username, "2", `${90 + Number(entry.userId)}`]], auth: [] };
  }

  function handleApi(req: SimRequest): SimResponse {
    const auth = authenticate(req);
    if (!("session" in auth)) return auth;
    const route = req.path.slice(HELPLINE_API_PATH.length).replace(/\/+$/, "");
    if (route === "") return { status: 200, json: sessionAnswer(auth.session) };
    if (route === "msg") {
      if (req.method !== "POST") return errors(404, "not found");
      const answer = messageIn(req);
      if (auth.created && isRecord(answer.json)) answer.json = { ...answer.json, ...sessionAnswer(auth.session) };
      return answer;
    }
    return errors(404, "not found");
  }

  function messageIn(req: SimRequest): SimResponse {
    const body = parseJson(req.body);
    if (body === INVALID_JSON || !isRecord(body)) {
      emit("message.rejected", { fields: [], reason: "invalid JSON" });
      return errors(412, "invalid data: a JSON object is expected", "", "messages");
    }
    const missing = ["channel", "message_id", "session_id", "message"].filter((field) => !filled(body[field]));
    if (missing.length > 0) {
      emit("message.rejected", { fields: missing, reason: "mandatory field missing" });
      return {
        status: 412,
        json: { errors: missing.map((field) => ["error", `${field} is mandatory`, "412", "messages", "", field, ""]) },
      };
    }
    const sessionId = String(body.session_id);
    const messageId = String(body.message_id);
    const mime = typeof body.mime === "string" && body.mime !== "" ? body.mime : undefined;
    let content = String(body.message);
    if (mime) {
      const decoded = decodeBase64Utf8(content);
      if (decoded === undefined) {
        emit("message.rejected", { fields: ["message"], reason: "message is not base64 of UTF-8 text" });
        return errors(412, "message must be base64-encoded (mime given)", "message", "messages");
      }
      content = decoded;
    }

    const key = `${sessionId}\u0000${messageId}`;
    const existing = byKey.get(key);
    if (existing) {
      existing.received++;
      duplicates.push({ sessionId, messageId, at: now() });
      emit("message.duplicate", { sessionId, messageId, received: existing.received });
      return { status: 201, json: { messages: [messageRow(existing)] } };
    }

    const renotify = /^(.*)#renotify-(\d+)$/.exec(messageId);
    const kind: HelplineMessageKind = messageId === `${sessionId}#close` ? "close" : renotify ? "renotify" : "message";
    const from = filled(body.from) ? String(body.from) : "";
    const record: HelplineMessageRecord = {
      id: String(nextMessageId++),
      sessionId,
      messageId,
      kind,
      originalMessageId: renotify ? renotify[1]! : messageId,
      ...(renotify ? { round: Number(renotify[2]) } : {}),
      channel: String(body.channel),
      from,
      text: content,
      encoding: mime ? "base64" : "plain",
      ...(mime ? { mime } : {}),
      timestamp: filled(body.timestamp) ? String(body.timestamp) : String(Math.floor(now() / 1000)),
      ...(filled(body.media_url)
        ? {
            media: {
              url: String(body.media_url),
              mime: filledString(body.media_mime),
              filename: filledString(body.media_filename),
              size: filledString(body.media_size),
            },
          }
        : {}),
      receivedAt: now(),
      received: 1,
    };
    byKey.set(key, record);

    let chat = chats.get(sessionId);
    const isNew = !chat;
    if (!chat) {
      chat = {
        sessionId,
        from: kind === "close" ? "" : from,
        channel: record.channel,
        state: "hunting",
        offers: 0,
        hunts: 0,
        createdAt: now(),
        messages: [],
        replies: [],
        scriptIndex: 0,
      };
      chats.set(sessionId, chat);
    }
    if (!chat.from && from && kind !== "close") chat.from = from;
    chat.messages.push(record);
    emit(
      "message.stored",
      text(
        { sessionId, messageId, helplineId: record.id, kind, round: record.round, encoding: record.encoding },
        content,
      ),
    );
    afterMessage(chat, record, isNew);
    return { status: 201, json: { messages: [messageRow(record)] } };
  }

  function messageRow(record: HelplineMessageRecord): string[] {
    return [record.id, record.sessionId, record.messageId, record.channel, record.from, record.timestamp];
  }

  // --- hunting and counselors -----------------------------------------------------------------

  function afterMessage(chat: HelplineChat, record: HelplineMessageRecord, isNew: boolean): void {
    if (record.kind === "close") {
      if (chat.state === "closed") return;
      chat.state = "closed";
      chat.closedBy = /closed by (\w+)/.exec(record.text)?.[1] ?? "bridge";
      const reason = /closed by \w+: (.+?)\]?$/.exec(record.text)?.[1];
      if (reason) chat.closeReason = reason;
      emit("chat.closed", { sessionId: chat.sessionId, closedBy: chat.closedBy, reason });
      return;
    }
    if (chat.state === "closed") return;
    if (chat.state === "hunting") {
      // A new chat, or the bridge re-notifying: hunt (again). Further messages wait for the counselor.
      if (isNew || record.kind === "renotify") startHunt(chat);
      return;
    }
    // Assigned: the counselor reads it, and the auto-counselor answers a client message.
    if (config.autoRead) later(config.readDelayMs, () => readUnread(chat).then(noop, noop));
    if (config.autoCounselor && record.kind === "message") {
      later(config.autoCounselor.replyDelayMs, () => autoReply(chat));
    }
  }

  function startHunt(chat: HelplineChat): void {
    chat.hunts++;
    emit("hunt.started", { sessionId: chat.sessionId, hunt: chat.hunts });
    later(config.offerDelayMs, () => offer(chat));
  }

  function offer(chat: HelplineChat): void {
    if (chat.state !== "hunting") return;
    const queue = [...counselors.values()].filter((c) => c.available);
    if (queue.length === 0) {
      emit("hunt.no_counselor", { sessionId: chat.sessionId });
      return;
    }
    const counselor = queue[offerCursor++ % queue.length]!;
    chat.offers++;
    const who = { sessionId: chat.sessionId, counselor: counselor.name, extension: counselor.extension };
    emit("hunt.offered", { ...who, offer: chat.offers });
    if (chat.offers <= config.ignoreFirstOffers) {
      emit("hunt.ignored", { ...who, offer: chat.offers });
      return;
    }
    assign(chat, counselor);
    if (config.autoRead) void readUnread(chat).then(noop, noop);
    if (config.autoCounselor) later(config.autoCounselor.replyDelayMs, () => autoReply(chat));
  }

  function assign(chat: HelplineChat, counselor: Counselor): void {
    if (chat.counselor === counselor.extension) return;
    chat.state = "assigned";
    chat.counselor = counselor.extension;
    if (!counselor.chats.includes(chat.sessionId)) counselor.chats.push(chat.sessionId);
    emit("counselor.assigned", {
      sessionId: chat.sessionId,
      counselor: counselor.name,
      extension: counselor.extension,
    });
  }

  function counselorOf(chat: HelplineChat | undefined, extension?: string): Counselor {
    const wanted = extension ?? chat?.counselor;
    const counselor = wanted ? counselors.get(wanted) : [...counselors.values()][0];
    if (!counselor) throw new SimulatorError("unknown_counselor", `no counselor with extension ${wanted ?? "(any)"}`);
    return counselor;
  }

  function requireChat(sessionId: string): HelplineChat {
    const chat = chats.get(sessionId);
    if (!chat) throw new SimulatorError("unknown_session", `no chat session ${sessionId} at the helpline`);
    return chat;
  }

  /** Acknowledges `read` for the given message ids (bridge ids), one after the other. */
  function ackRead(chat: HelplineChat, ids: string[], counselor: Counselor): Promise<string[]> {
    return inLane(chat.sessionId, async () => {
      const done: string[] = [];
      for (const messageId of ids) {
        const records = chat.messages.filter((m) => m.originalMessageId === messageId && m.kind !== "close");
        if (records.length > 0 && records.every((m) => m.readAt !== undefined)) continue;
        try {
          const answer = await bridge.client().ack(chat.sessionId, {
            message_id: messageId,
            status: "read",
            chat_source: "HELPLINE",
            sender_name: counselor.name,
          });
          for (const m of records) {
            m.readAt = now();
            m.readBy = counselor.name;
          }
          done.push(messageId);
          emit("counselor.read", {
            sessionId: chat.sessionId,
            messageId,
            counselor: counselor.name,
            changed: answer.changed ?? undefined,
          });
        } catch (error) {
          emit("bridge.error", { action: "read", sessionId: chat.sessionId, error: describeBridgeError(error) });
          throw error;
        }
      }
      return done;
    });
  }

  function unreadIds(chat: HelplineChat): string[] {
    const ids: string[] = [];
    for (const m of chat.messages) {
      if (m.kind !== "close" && m.readAt === undefined && !ids.includes(m.originalMessageId)) {
        ids.push(m.originalMessageId);
      }
    }
    return ids;
  }

  async function readUnread(chat: HelplineChat, extension?: string): Promise<string[]> {
    return ackRead(chat, unreadIds(chat), counselorOf(chat, extension));
  }

  async function reply(
    sessionId: string,
    message: string,
    replyOptions: { counselor?: string | undefined; messageId?: string | undefined } = {},
  ): Promise<{ messageId: string; result: SendChatResult }> {
    const chat = requireChat(sessionId);
    const counselor = counselorOf(chat, replyOptions.counselor);
    const messageId = replyOptions.messageId ?? `hl-${Date.now().toString(36)}-${nextReply++}`;
    return inLane(sessionId, async () => {
      let result: SendChatResult;
      try {
        result = await bridge.client().sendChat({
          chat_session: sessionId,
          chat_message: message,
          chat_sender: chat.from,
          chat_receiver: counselor.extension,
          chat_channel: "WENI",
          chat_source: "OUTBOX",
          message_id: messageId,
          sender_name: counselor.name,
        });
      } catch (error) {
        emit("bridge.error", { action: "reply", sessionId, error: describeBridgeError(error) });
        throw error;
      }
      if (chat.state === "hunting") assign(chat, counselor);
      chat.replies.push({
        messageId,
        text: message,
        counselor: counselor.name,
        at: now(),
        duplicate: result.duplicate,
      });
      emit(
        "counselor.replied",
        text({ sessionId, messageId, counselor: counselor.name, duplicate: result.duplicate }, message),
      );
      return { messageId, result };
    });
  }

  async function closeChat(sessionId: string, reason?: string): Promise<void> {
    const chat = chats.get(sessionId);
    const counselor = chat?.counselor ? counselors.get(chat.counselor) : undefined;
    await inLane(sessionId, async () => {
      try {
        await bridge.client().closeChat(sessionId, { chat_source: "HELPLINE", ...(reason ? { reason } : {}) });
      } catch (error) {
        emit("bridge.error", { action: "close", sessionId, error: describeBridgeError(error) });
        throw error;
      }
    });
    if (chat && chat.state !== "closed") {
      chat.state = "closed";
      chat.closedBy = "helpline";
      if (reason) chat.closeReason = reason;
    }
    emit("counselor.closed", { sessionId, counselor: counselor?.name, reason });
  }

  async function autoReply(chat: HelplineChat): Promise<void> {
    const auto = config.autoCounselor;
    if (!auto || chat.state === "closed") return;
    const line = auto.lines[chat.scriptIndex];
    if (line === undefined) return;
    chat.scriptIndex++;
    const counselor = counselorOf(chat);
    try {
      await reply(chat.sessionId, line.replaceAll("{name}", counselor.name));
      if (chat.scriptIndex >= auto.lines.length && auto.closeWhenDone) {
        await closeChat(chat.sessionId, auto.closeWhenDone);
      }
    } catch {
      // Reported as a bridge.error event.
    }
  }

  const desk: CounselorDesk = {
    list: () => [...counselors.values()].map((c) => ({ ...c, chats: [...c.chats] })),
    get: (extension) => counselors.get(extension),
    add: (input) => addCounselor(input),
    join(extension) {
      counselorOf(undefined, extension).available = true;
    },
    leave(extension) {
      counselorOf(undefined, extension).available = false;
    },
    reply,
    async read(sessionId, messageId, readOptions = {}) {
      const chat = requireChat(sessionId);
      const counselor = counselorOf(chat, readOptions.counselor);
      if (chat.state === "hunting") assign(chat, counselor);
      return ackRead(chat, messageId === undefined ? unreadIds(chat) : [messageId], counselor);
    },
    close: closeChat,
  };

  // --- the admin API --------------------------------------------------------------------------

  async function handleAdmin(req: SimRequest): Promise<SimResponse> {
    const route = req.path.slice("/__sim/".length).replace(/\/+$/, "");
    const body = parseJson(req.body);
    const input = isRecord(body) ? body : {};
    if (body === INVALID_JSON) return adminError(400, "invalid_json", "the body is not JSON");
    try {
      switch (`${req.method} ${route}`) {
        case "GET state":
          return { status: 200, json: snapshot() };
        case "GET requests":
          return { status: 200, json: { requests: requestLog.records } };
        case "GET faults":
          return { status: 200, json: { faults: faults.current, injected: faults.injected } };
        case "POST faults":
          return { status: 200, json: { faults: faults.set(body as FaultConfig) } };
        case "DELETE faults":
          faults.clear();
          return { status: 200, json: { faults: faults.current } };
        case "POST expire-sessions":
          return { status: 200, json: { expired: expireSessions() } };
        case "POST reply":
          return {
            status: 200,
            json: await desk.reply(requiredString(input, "session"), requiredString(input, "text"), pick(input)),
          };
        case "POST read":
          return {
            status: 200,
            json: {
              read: await desk.read(requiredString(input, "session"), optionalString(input, "message_id"), pick(input)),
            },
          };
        case "POST close":
          await desk.close(requiredString(input, "session"), optionalString(input, "reason"));
          return { status: 200, json: { closed: requiredString(input, "session") } };
        case "GET counselors":
          return { status: 200, json: { counselors: desk.list() } };
        case "POST counselors":
          return { status: 201, json: { counselor: desk.add(input as unknown as CounselorInput) } };
        case "POST queue": {
          const extension = requiredString(input, "extension");
          if (input.available === false) desk.leave(extension);
          else desk.join(extension);
          return { status: 200, json: { counselors: desk.list() } };
        }
        case "POST config":
          simulator.configure(input as Partial<HelplineSimulatorOptions>);
          return { status: 200, json: { config } };
        case "POST bridge":
          simulator.connectBridge(input as unknown as BridgeConnection);
          return { status: 200, json: { bridge: bridge.url } };
        case "POST reset":
          simulator.reset();
          return { status: 200, json: { reset: true } };
        default:
          return adminError(404, "not_found", `no admin route ${req.method} /__sim/${route}`);
      }
    } catch (error) {
      return adminFailure(error);
    }
  }

  function snapshot() {
    return {
      url: simulator.url,
      bridge: bridge.url ?? null,
      config,
      logins,
      activeSessions: countActiveSessions(),
      counselors: desk.list(),
      chats: [...chats.values()],
      duplicates,
      faults: faults.current,
      injected: faults.injected,
    };
  }

  function countActiveSessions(): number {
    let count = 0;
    for (const entry of sessions.values()) if (now() - entry.lastUsedAt <= sessionIdleMs) count++;
    return count;
  }

  function expireSessions(): number {
    const count = sessions.size;
    sessions.clear();
    emit("sessions.expired", { count });
    return count;
  }

  // --- the server -----------------------------------------------------------------------------

  const server = await startSimServer({
    host: options.host ?? "127.0.0.1",
    port: options.port ?? 0,
    faults,
    faultResponse: (hit) =>
      hit.mode === "429"
        ? { ...errors(429, "too many requests"), headers: { "retry-after": String(hit.retryAfterS) } }
        : errors(hit.status, "simulated server error"),
    handle: (req) => {
      if (req.path.startsWith("/__sim/")) return handleAdmin(req);
      if (req.path.startsWith(HELPLINE_API_PATH) || `${req.path}/` === HELPLINE_API_PATH) return handleApi(req);
      return errors(404, "not found");
    },
    onRequest: (record) => {
      requestLog.add(record);
      if (record.fault) emit("fault", { mode: record.fault, method: record.method, path: record.path });
    },
  });

  const state: HelplineState = {
    chats,
    chat: (sessionId) => chats.get(sessionId),
    messages: (sessionId) =>
      sessionId === undefined ? [...byKey.values()] : [...(chats.get(sessionId)?.messages ?? [])],
    received: (sessionId, messageId) => byKey.get(`${sessionId}\u0000${messageId}`)?.received ?? 0,
    duplicates,
    logins,
    activeSessions: countActiveSessions,
    requests: requestLog.records,
  };

  const simulator: HelplineSimulator = {
    url: `${server.origin}${HELPLINE_API_PATH}`,
    origin: server.origin,
    port: server.port,
    state,
    counselors: desk,
    faults,
    events: hub.events,
    onAny: hub.onAny,
    waitFor: (type, predicate, timeoutMs) => hub.waitFor(type, predicate, timeoutMs),
    expireSessions,
    connectBridge: (connection) => bridge.connect(connection),
    get config() {
      return config;
    },
    configure(changes) {
      applyConfig(config, changes);
    },
    reset() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      chats.clear();
      byKey.clear();
      duplicates.length = 0;
      for (const c of counselors.values()) c.chats = [];
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await server.close();
    },
  };
  return simulator;
}

function applyConfig(config: HelplineRuntimeConfig, changes: Partial<HelplineSimulatorOptions>): void {
  const ms = (key: "offerDelayMs" | "readDelayMs") => {
    const value = changes[key];
    if (value === undefined) return;
    if (typeof value !== "number" || !(value >= 0)) throw new TypeError(`helpline simulator: ${key} must be ≥ 0`);
    config[key] = value;
  };
  ms("offerDelayMs");
  ms("readDelayMs");
  if (changes.ignoreFirstOffers !== undefined) {
    const n = changes.ignoreFirstOffers;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
      throw new TypeError("helpline simulator: ignoreFirstOffers must be a whole number ≥ 0");
    }
    config.ignoreFirstOffers = n;
  }
  if (changes.autoRead !== undefined) config.autoRead = changes.autoRead === true;
  if (changes.includeText !== undefined) config.includeText = changes.includeText === true;
  if (changes.autoCounselor !== undefined) {
    const auto = changes.autoCounselor;
    if (!auto) config.autoCounselor = false;
    else {
      const o: AutoCounselorOptions = auto === true ? {} : auto;
      const lines = o.lines ?? [...DEFAULT_COUNSELOR_LINES];
      if (!Array.isArray(lines) || lines.some((l) => typeof l !== "string" || l === "")) {
        throw new TypeError("helpline simulator: autoCounselor.lines must be non-empty strings");
      }
      config.autoCounselor = {
        lines,
        replyDelayMs: o.replyDelayMs ?? 200,
        closeWhenDone: o.closeWhenDone === true ? "resolved" : o.closeWhenDone ? o.closeWhenDone : false,
      };
    }
  }
}

function filled(value: unknown): boolean {
  return (typeof value === "string" && value !== "") || (typeof value === "number" && Number.isFinite(value));
}

function filledString(value: unknown): string | undefined {
  return filled(value) ? String(value) : undefined;
}

/** Strict base64 → UTF-8 text; undefined when it is not base64 or not UTF-8. */
function decodeBase64Utf8(value: string): string | undefined {
  const compact = value.replace(/\s+/g, "");
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(compact, "base64"));
  } catch {
    return undefined;
  }
}

function pick(input: Record<string, unknown>): { counselor?: string; messageId?: string } {
  const counselor = optionalString(input, "counselor");
  const messageId = optionalString(input, "message_id");
  return { ...(counselor ? { counselor } : {}), ...(messageId ? { messageId } : {}) };
}

function noop(): void {}
