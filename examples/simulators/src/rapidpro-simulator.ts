import { randomUUID } from "node:crypto";
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

/** Which RapidPro is simulated: nyaruka 7.x, Weni's fork of it, or nyaruka ≥ 8.2 (with `messages` POST). */
export type RapidProFlavour = "v7" | "weni" | "nyaruka";

/** The API v2 path. */
export const RAPIDPRO_API_PATH = "/api/v2/";

/** The sandbox RapidPro's default API token (`RAPIDPRO_TOKEN`). */
export const DEFAULT_RAPIDPRO_TOKEN = "sandbox-rapidpro-token-0123456789abcdef";

/** A URN as RapidPro reads one: `scheme:path`. */
const VALID_URN = /^[a-z]+:\S+$/;
/** RapidPro refuses a phone number without its country code. */
const TEL_URN = /^tel:\+\d{3,15}$/;

/** The flow the bridge starts when the helpline closes or hunting is given up (`RAPIDPRO_CLOSE_FLOW`). */
export const DEFAULT_CLOSE_FLOW = {
  uuid: "5f1a0e0b-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
  name: "Helpline closed: back to the bot",
};

/** Options of {@link startRapidProSimulator}. */
export interface RapidProSimulatorOptions {
  /** Default `weni`. */
  flavour?: RapidProFlavour | undefined;
  /** The API token expected in `Authorization: Token …`. Default {@link DEFAULT_RAPIDPRO_TOKEN}. */
  token?: string | undefined;
  /** The bridge, and the chatbot's consumer there (source `WENI`). Can be set later. */
  bridge?: BridgeConnection | undefined;
  /** Listen address. Default `127.0.0.1`. */
  host?: string | undefined;
  /** Listen port. Default 0 (any free port). */
  port?: number | undefined;
  /** The workspace's flows; a flow start of another flow is refused (400). Default: {@link DEFAULT_CLOSE_FLOW}. */
  flows?: Array<{ uuid: string; name: string }> | undefined;
  /**
   * A broadcast or flow start to an unknown contact creates it (default true). With false it is
   * refused with 400 `No such object`, as the real server does.
   */
  autoCreateContacts?: boolean | undefined;
  /** When set, `POST /acks` requires `Authorization: Token|Bearer <ackToken>` (`CHATBOT_ACK_TOKEN`). */
  ackToken?: string | undefined;
  /** At most `limit` API requests per `windowMs` (a fixed window); over it, 429 with `Retry-After`. Default: none. */
  rateLimit?: { limit: number; windowMs: number } | undefined;
  /** Events carry message text (a live transcript). Default false. */
  includeText?: boolean | undefined;
  /** Time source (rate-limit windows, timestamps). Default `Date.now`. */
  now?: (() => number) | undefined;
}

/** A RapidPro contact. */
export interface RapidProContact {
  uuid: string;
  name: string | null;
  urns: string[];
  createdAt: number;
}

/** Something delivered to a contact, in order. */
export type ContactDelivery =
  | {
      kind: "text";
      at: number;
      via: "broadcasts" | "messages";
      /** The broadcast's or message's id. */
      id: number;
      text: string;
      /** The translations object when the text came as one. */
      translations?: Record<string, string> | undefined;
      attachments?: string[] | undefined;
      ticket?: string | undefined;
    }
  | { kind: "flow_start"; at: number; id: number; flow: string; params: Record<string, unknown> }
  | { kind: "ack"; at: number; conversationId: string; messageId: string; status: string };

/** A broadcast as recorded. */
export interface BroadcastRecord {
  id: number;
  uuid: string;
  contacts: string[];
  urns: string[];
  groups: string[];
  text: string;
  translations?: Record<string, string> | undefined;
  ticket?: string | undefined;
  createdAt: number;
}

/** A `messages` POST as recorded (nyaruka flavour). */
export interface SentMessageRecord {
  id: number;
  uuid: string;
  contact: string;
  text: string;
  attachments: string[];
  createdAt: number;
}

/** A flow start as recorded. */
export interface FlowStartRecord {
  id: number;
  uuid: string;
  flow: string;
  contacts: string[];
  urns: string[];
  groups: string[];
  params: Record<string, unknown>;
  restartParticipants: boolean;
  excludeActive: boolean;
  createdAt: number;
}

/** An ack the bridge posted to `/acks`. */
export interface AckRecord {
  at: number;
  conversationId: string;
  messageId: string;
  status: string;
  /** The body as received. */
  body: Record<string, unknown>;
}

/** A conversation the simulated flow escalated. */
export interface ChildSession {
  session: string;
  contact: string;
  name: string;
  state: "open" | "left" | "handed_back";
  /** Messages the child sent to the bridge. */
  sent: Array<{ messageId: string; text: string; at: number; duplicate: boolean }>;
}

/** Every event of the simulated RapidPro. Tokens never appear; text only with `includeText`. */
export interface RapidProEventMap {
  /** `contacts`: every contact reached, those named and those of the URNs. */
  "broadcast.received": { id: number; contacts: string[]; text?: string | undefined };
  "message.received": { id: number; contact: string; text?: string | undefined };
  /** `contacts`: every contact reached, those named and those of the URNs. */
  "flow_start.received": { id: number; flow: string; contacts: string[]; params: Record<string, unknown> };
  "ack.received": { conversationId: string; messageId: string; status: string };
  "request.rejected": { path: string; status: number; reason: string };
  rate_limited: { path: string; retryAfterS: number };
  "child.escalated": {
    session: string;
    contact: string;
    messageId: string;
    duplicate: boolean;
    text?: string | undefined;
  };
  "child.said": { session: string; contact: string; messageId: string; duplicate: boolean; text?: string | undefined };
  "child.left": { session: string; contact: string; reason?: string | undefined };
  /** A flow start reached a contact with an open escalation: the bot has the child again. */
  "child.handed_back": { session: string; contact: string; flow: string; params: Record<string, unknown> };
  "bridge.error": { action: "escalate" | "say" | "leave"; session: string; error: BridgeCallError };
  fault: { mode: FaultHit["mode"]; method: string; path: string };
}

/** The simulated RapidPro's records. */
export interface RapidProState {
  readonly contacts: ReadonlyMap<string, RapidProContact>;
  readonly broadcasts: readonly BroadcastRecord[];
  readonly messages: readonly SentMessageRecord[];
  readonly flowStarts: readonly FlowStartRecord[];
  readonly acks: readonly AckRecord[];
  readonly sessions: ReadonlyMap<string, ChildSession>;
  /** Everything delivered to a contact (texts, flow starts, acks of its conversations), in order. */
  deliveries(contact: string): ContactDelivery[];
  /** The texts a contact received, in order. */
  texts(contact: string): string[];
  /** The last requests (method, path, status, fault). */
  readonly requests: readonly RequestRecord[];
}

/** Input of {@link RapidProSimulator.escalate}. */
export interface EscalateInput {
  /** The child's contact UUID. Default: a new contact. */
  contact?: string | undefined;
  /** The child's pseudonym. Default `Child <n>`. */
  name?: string | undefined;
  text: string;
  /** The conversation id (`chat_session`). Default: a new one of `[A-Za-z0-9_]`. */
  session?: string | undefined;
  /** Default: a new UUID-based id (also the `Idempotency-Key`). Pass the same one again to simulate a mailroom retry. */
  messageId?: string | undefined;
  /** `chat_receiver`: a helpline routing key. */
  receiver?: string | undefined;
  location?: string | undefined;
  risk?: string | undefined;
}

/** The result of an escalation or a follow-up message. */
export interface ChildMessageResult {
  session: string;
  contact: string;
  messageId: string;
  /** The bridge's answer. */
  result: SendChatResult;
}

/** A running simulated RapidPro / Weni. */
export interface RapidProSimulator {
  /** The API root, e.g. `http://127.0.0.1:PORT/api/v2/` (`RAPIDPRO_URL`). */
  url: string;
  /** `http://127.0.0.1:PORT/acks` (`CHATBOT_ACK_URL`). */
  ackUrl: string;
  /** `http://127.0.0.1:PORT`; the admin API is under `/__sim/`. */
  origin: string;
  port: number;
  flavour: RapidProFlavour;
  token: string;
  /** The close flow's UUID (`RAPIDPRO_CLOSE_FLOW`): the first configured flow. */
  closeFlow: string;
  state: RapidProState;
  faults: FaultSwitch;
  events: SimEvents<RapidProEventMap>;
  onAny(listener: AnyListener<RapidProEventMap>): () => void;
  waitFor<K extends keyof RapidProEventMap>(
    type: K,
    predicate?: (payload: RapidProEventMap[K]) => boolean,
    timeoutMs?: number,
  ): Promise<RapidProEventMap[K]>;
  /**
   * The flow escalates a child: logs in at the bridge's `token/` (cached; again on a 401) and posts
   * `chat/` with `chat_source: "WENI"` and an `Idempotency-Key`.
   */
  escalate(input: EscalateInput): Promise<ChildMessageResult>;
  /** A follow-up message of the child in an escalated conversation. */
  childSays(session: string, text: string, options?: { messageId?: string | undefined }): Promise<ChildMessageResult>;
  /** The child leaves: `POST chat/{session}/close/` with `chat_source: "WENI"`. */
  childLeaves(session: string, reason?: string): Promise<void>;
  /** Sets (or replaces) the bridge the flow talks to. */
  connectBridge(connection: BridgeConnection): void;
  /** Sets or removes the rate limit (and starts a new window). */
  setRateLimit(limit: { limit: number; windowMs: number } | undefined): void;
  /** Forgets every record (contacts, broadcasts, starts, acks, sessions). */
  reset(): void;
  close(): Promise<void>;
}

/**
 * Starts a simulated RapidPro (or Weni) on loopback: API v2 (`broadcasts.json`, `messages.json`
 * on the nyaruka flavour, `flow_starts.json`, `contacts.json`, `flows.json`, the `v2.json` root)
 * with token auth and an optional rate limit, an ack endpoint for the bridge, a flow that
 * escalates children to the bridge, an admin API under `/__sim/`, and fault switches.
 */
export async function startRapidProSimulator(options: RapidProSimulatorOptions = {}): Promise<RapidProSimulator> {
  const flavour = options.flavour ?? "weni";
  if (!["v7", "weni", "nyaruka"].includes(flavour)) {
    throw new TypeError('rapidpro simulator: flavour must be "v7", "weni" or "nyaruka"');
  }
  const token = options.token ?? DEFAULT_RAPIDPRO_TOKEN;
  if (typeof token !== "string" || token === "") throw new TypeError("rapidpro simulator: token must be non-empty");
  const now = options.now ?? Date.now;
  const flows = options.flows ?? [DEFAULT_CLOSE_FLOW];
  if (flows.length === 0) throw new TypeError("rapidpro simulator: flows must name at least the close flow");
  const autoCreate = options.autoCreateContacts ?? true;
  let includeText = options.includeText ?? false;
  let rateLimit = checkRateLimit(options.rateLimit);
  let window = { start: now(), count: 0 };

  const hub = createEventHub<RapidProEventMap>("rapidpro simulator");
  const emit = hub.emit;
  const faults = createFaultSwitch();
  const requestLog = createRequestLog();
  const bridge = createBridgeLink("rapidpro simulator", options.bridge);

  const contacts = new Map<string, RapidProContact>();
  const broadcasts: BroadcastRecord[] = [];
  const messages: SentMessageRecord[] = [];
  const flowStarts: FlowStartRecord[] = [];
  const acks: AckRecord[] = [];
  const sessions = new Map<string, ChildSession>();
  const deliveries = new Map<string, ContactDelivery[]>();
  let nextId = 1;
  let nextChild = 1;
  let nextSession = 1;

  const iso = (ms: number) => new Date(ms).toISOString();
  const detail = (status: number, message: string, headers?: Record<string, string>): SimResponse =>
    refusal({ status, json: { detail: message }, ...(headers ? { headers } : {}) });
  const fieldErrors = (errors: Record<string, string[]>): SimResponse => refusal({ status: 400, json: errors });

  function deliver(contact: string, delivery: ContactDelivery): void {
    const list = deliveries.get(contact) ?? [];
    list.push(delivery);
    deliveries.set(contact, list);
  }

  function ensureContact(uuid: string, name?: string | null, urn?: string): RapidProContact {
    let contact = contacts.get(uuid);
    if (!contact) {
      const n = nextChild++;
      contact = {
        uuid,
        name: name ?? null,
        urns: [urn ?? `whatsapp:25470000${String(n).padStart(4, "0")}`],
        createdAt: now(),
      };
      contacts.set(uuid, contact);
    }
    return contact;
  }

  function contactJson(contact: RapidProContact) {
    const base = {
      uuid: contact.uuid,
      name: contact.name,
      language: null,
      urns: contact.urns,
      groups: [],
      fields: {},
      created_on: iso(contact.createdAt),
      modified_on: iso(contact.createdAt),
      last_seen_on: null,
    };
    return flavour === "nyaruka"
      ? { ...base, status: "active", flow: null }
      : { ...base, blocked: false, stopped: false };
  }

  const ref = (uuid: string) => ({ uuid, name: contacts.get(uuid)?.name ?? null });
  const page = (results: unknown[]) => ({ next: null, previous: null, results });

  // --- API v2 ---------------------------------------------------------------------------------

  function rootListing(): Record<string, string> {
    const names: string[] = [
      "archives",
      "boundaries",
      "broadcasts",
      "campaigns",
      "campaign_events",
      "channels",
      "channel_events",
      "classifiers",
      "contacts",
      "contact_actions",
      "definitions",
      "fields",
      "flow_starts",
      "flows",
      "globals",
      "groups",
      "labels",
      "messages",
      "message_actions",
      "resthooks",
      "resthook_events",
      "resthook_subscribers",
      "runs",
      "templates",
      "ticketers",
      "tickets",
      "ticket_actions",
      "topics",
      "users",
      "workspace",
    ];
    // What tells the flavours apart in the real roots: Weni adds `products` (and more); newer
    // nyaruka dropped `boundaries`, `channel_events`, `definitions`, `templates`, `ticketers` and added `media`.
    const dropped = ["boundaries", "channel_events", "definitions", "templates", "ticketers"];
    const byFlavour: Record<RapidProFlavour, string[]> = {
      v7: names,
      weni: [...names, "contacts_lean", "contact_templates", "products"].sort(),
      nyaruka: [...names.filter((n) => !dropped.includes(n)), "media"].sort(),
    };
    return Object.fromEntries(byFlavour[flavour].map((name) => [name, `${simulator.url}${name}`]));
  }

  function authorized(req: SimRequest): boolean {
    const header = req.headers.authorization ?? "";
    const match = /^token (.+)$/i.exec(header);
    return match?.[1]?.trim() === token;
  }

  function handleApi(req: SimRequest): SimResponse {
    const isRoot = req.path === "/api/v2.json" || req.path === "/api/v2" || req.path === RAPIDPRO_API_PATH;
    // The nyaruka root is public; v7 and Weni want a login there too.
    const open = isRoot && flavour === "nyaruka";
    if (!open && !authorized(req)) {
      const reason = req.headers.authorization ? "Invalid token" : "Authentication credentials were not provided.";
      emit("request.rejected", { path: req.path, status: 403, reason });
      return detail(403, reason);
    }
    const limited = throttle(req.path);
    if (limited) return limited;
    if (isRoot) return req.method === "GET" ? { status: 200, json: rootListing() } : detail(405, "Method not allowed.");

    const name = /^\/api\/v2\/([a-z_]+)\.json$/.exec(req.path)?.[1];
    if (!name || !(name in rootListing())) return detail(404, "Not found.");
    const method = req.method;
    const notAllowed = () => detail(405, `Method "${method}" not allowed.`);
    switch (name) {
      case "broadcasts":
        return method === "POST" ? postBroadcast(req) : method === "GET" ? listBroadcasts() : notAllowed();
      case "messages":
        if (method === "GET") return { status: 200, json: page(messages.map(messageJson).reverse()) };
        return method === "POST" && flavour === "nyaruka" ? postMessage(req) : notAllowed();
      case "flow_starts":
        return method === "POST"
          ? postFlowStart(req)
          : method === "GET"
            ? { status: 200, json: page(flowStarts.map(flowStartJson).reverse()) }
            : notAllowed();
      case "contacts":
        return method === "GET" ? listContacts(req) : method === "POST" ? upsertContact(req) : notAllowed();
      case "flows":
        return method === "GET"
          ? { status: 200, json: page(flows.map((f) => ({ uuid: f.uuid, name: f.name, type: "message" }))) }
          : notAllowed();
      default:
        return method === "GET" ? { status: 200, json: page([]) } : notAllowed();
    }
  }

  function throttle(path: string): SimResponse | undefined {
    if (!rateLimit) return undefined;
    const t = now();
    if (t - window.start >= rateLimit.windowMs) window = { start: t, count: 0 };
    if (window.count >= rateLimit.limit) {
      const retryAfterS = Math.max(1, Math.ceil((window.start + rateLimit.windowMs - t) / 1000));
      emit("rate_limited", { path, retryAfterS });
      return detail(429, `Request was throttled. Expected available in ${retryAfterS} seconds.`, {
        "retry-after": String(retryAfterS),
      });
    }
    window.count++;
    return undefined;
  }

  function body(req: SimRequest): Record<string, unknown> | SimResponse {
    const parsed = parseJson(req.body);
    if (parsed === INVALID_JSON) return detail(400, "JSON parse error");
    if (!isRecord(parsed)) return fieldErrors({ non_field_errors: ["Invalid data. Expected a dictionary."] });
    return parsed;
  }

  /**
   * Reads `contacts`, `urns`, `groups`: arrays of strings, at most `max` each. `recipients` are the
   * contacts reached: those named, then those of the URNs, a URN no contact has making a new contact
   * (as RapidPro does for broadcasts and flow starts, whatever `autoCreateContacts` says).
   */
  function targets(
    input: Record<string, unknown>,
    max: number,
  ): { contacts: string[]; urns: string[]; groups: string[]; recipients: string[] } | SimResponse {
    const out: Record<string, string[]> = {};
    for (const key of ["contacts", "urns", "groups"]) {
      const value = input[key] ?? [];
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v === "")) {
        return fieldErrors({ [key]: ["Expected a list of items."] });
      }
      if (value.length > max) return fieldErrors({ [key]: [`Ensure this field has no more than ${max} elements.`] });
      out[key] = value as string[];
    }
    const contactList = out.contacts!;
    const unknown = contactList.find((uuid) => !contacts.has(uuid));
    if (unknown !== undefined) {
      if (!autoCreate) return fieldErrors({ contacts: [`No such object: ${unknown}`] });
      for (const uuid of contactList) ensureContact(uuid);
    }
    const urnList = out.urns!;
    const invalid = urnList.findIndex((urn) => !VALID_URN.test(urn) || (urn.startsWith("tel:") && !TEL_URN.test(urn)));
    if (invalid >= 0) {
      // RapidPro's answer names the URN; the simulator keeps addresses out of its answers.
      return refusal({
        status: 400,
        json: { urns: { [String(invalid)]: ["Invalid URN. Ensure phone numbers contain country codes."] } },
      });
    }
    const byUrn = urnList.map(
      (urn) =>
        [...contacts.values()].find((c) => c.urns.includes(urn))?.uuid ?? ensureContact(randomUUID(), null, urn).uuid,
    );
    const recipients = [...new Set([...contactList, ...byUrn])];
    return { contacts: contactList, urns: urnList, groups: out.groups!, recipients };
  }

  function readText(
    value: unknown,
    limit: number | undefined,
  ): { text: string; translations?: Record<string, string> } | SimResponse | undefined {
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value === "string") {
      if (limit !== undefined && value.length > limit) {
        return fieldErrors({ text: [`Ensure this field has no more than ${limit} characters.`] });
      }
      return { text: value };
    }
    if (isRecord(value) && Object.values(value).every((v) => typeof v === "string")) {
      const translations = value as Record<string, string>;
      const first = translations.eng ?? Object.values(translations)[0];
      if (first === undefined) return fieldErrors({ text: ["This field may not be empty."] });
      if (limit !== undefined && Object.values(translations).some((v) => v.length > limit)) {
        return fieldErrors({ text: [`Ensure this field has no more than ${limit} characters.`] });
      }
      return { text: first, translations };
    }
    return fieldErrors({ text: ["Not a valid string."] });
  }

  function postBroadcast(req: SimRequest): SimResponse {
    const input = body(req);
    if (isResponse(input)) return input;
    const text = readText(input.text, flavour === "nyaruka" ? 10_000 : 640);
    if (text === undefined) return fieldErrors({ text: ["This field is required."] });
    if (isResponse(text)) return text;
    // Weni's fork takes up to 1000 recipients of each kind in a broadcast; nyaruka 100.
    const to = targets(input, flavour === "weni" ? 1000 : 100);
    if (isResponse(to)) return to;
    if (to.contacts.length + to.urns.length + to.groups.length === 0) {
      return fieldErrors({ non_field_errors: ["Must provide either urns, contacts or groups."] });
    }
    const ticket = flavour !== "nyaruka" && typeof input.ticket === "string" ? input.ticket : undefined;
    const record: BroadcastRecord = {
      id: nextId++,
      uuid: randomUUID(),
      contacts: to.contacts,
      urns: to.urns,
      groups: to.groups,
      text: text.text,
      ...(text.translations ? { translations: text.translations } : {}),
      ...(ticket ? { ticket } : {}),
      createdAt: now(),
    };
    broadcasts.push(record);
    for (const contact of to.recipients) {
      deliver(contact, {
        kind: "text",
        at: record.createdAt,
        via: "broadcasts",
        id: record.id,
        text: record.text,
        ...(record.translations ? { translations: record.translations } : {}),
        ...(ticket ? { ticket } : {}),
      });
    }
    emit("broadcast.received", withText({ id: record.id, contacts: to.recipients }, record.text));
    return { status: 201, json: broadcastJson(record) };
  }

  function broadcastJson(record: BroadcastRecord) {
    const base = {
      id: record.id,
      urns: record.urns,
      contacts: record.contacts.map(ref),
      groups: record.groups.map((uuid) => ({ uuid, name: null })),
      created_on: iso(record.createdAt),
    };
    return flavour === "nyaruka"
      ? {
          uuid: record.uuid,
          ...base,
          text: record.translations ?? { eng: record.text },
          attachments: {},
          base_language: "eng",
          status: "queued",
        }
      : { ...base, text: record.text, ...(record.ticket ? { ticket: record.ticket } : {}) };
  }

  function listBroadcasts(): SimResponse {
    return { status: 200, json: page(broadcasts.map(broadcastJson).reverse()) };
  }

  function postMessage(req: SimRequest): SimResponse {
    const input = body(req);
    if (isResponse(input)) return input;
    if (typeof input.contact !== "string" || input.contact === "") {
      return fieldErrors({ contact: ["This field is required."] });
    }
    if (!contacts.has(input.contact)) {
      if (!autoCreate) return fieldErrors({ contact: [`No such object: ${input.contact}`] });
      ensureContact(input.contact);
    }
    const attachments = input.attachments ?? [];
    if (!Array.isArray(attachments) || attachments.some((a) => typeof a !== "string")) {
      return fieldErrors({ attachments: ["Expected a list of items."] });
    }
    const text = readText(input.text, 10_000);
    if (isResponse(text)) return text;
    if (text === undefined && attachments.length === 0) {
      return fieldErrors({ non_field_errors: ["Must provide either text or attachments."] });
    }
    const record: SentMessageRecord = {
      id: nextId++,
      uuid: randomUUID(),
      contact: input.contact,
      text: text?.text ?? "",
      attachments: attachments as string[],
      createdAt: now(),
    };
    messages.push(record);
    deliver(record.contact, {
      kind: "text",
      at: record.createdAt,
      via: "messages",
      id: record.id,
      text: record.text,
      ...(record.attachments.length ? { attachments: record.attachments } : {}),
    });
    emit("message.received", withText({ id: record.id, contact: record.contact }, record.text));
    return { status: 201, json: messageJson(record) };
  }

  function messageJson(record: SentMessageRecord) {
    const contact = contacts.get(record.contact);
    return {
      id: record.id,
      uuid: record.uuid,
      contact: ref(record.contact),
      urn: contact?.urns[0] ?? null,
      channel: null,
      direction: "out",
      type: "text",
      status: "queued",
      visibility: "visible",
      text: record.text,
      // Sent as media UUIDs or `<content-type>:<url>`; listed as objects.
      attachments: record.attachments.map((a) => {
        const typed = /^([^:/]+\/[^:]+):(.+)$/.exec(a);
        return typed
          ? { content_type: typed[1], url: typed[2] }
          : { content_type: "application/octet-stream", url: `${simulator.origin}/media/${a}` };
      }),
      created_on: iso(record.createdAt),
      modified_on: iso(record.createdAt),
    };
  }

  function postFlowStart(req: SimRequest): SimResponse {
    const input = body(req);
    if (isResponse(input)) return input;
    if (typeof input.flow !== "string" || input.flow === "") return fieldErrors({ flow: ["This field is required."] });
    const flow = flows.find((f) => f.uuid === input.flow);
    if (!flow) return fieldErrors({ flow: [`No such object: ${input.flow}`] });
    const to = targets(input, 100);
    if (isResponse(to)) return to;
    if (to.contacts.length + to.urns.length + to.groups.length === 0) {
      return fieldErrors({ non_field_errors: ["Must specify at least one group, contact or URN"] });
    }
    const params = input.params ?? input.extra ?? {};
    if (!isRecord(params)) return fieldErrors({ params: ["Must be a valid JSON object"] });
    if (JSON.stringify(params).length > 10_000)
      return fieldErrors({ params: ["Must be no more than 10000 characters"] });
    const record: FlowStartRecord = {
      id: nextId++,
      uuid: randomUUID(),
      flow: flow.uuid,
      contacts: to.contacts,
      urns: to.urns,
      groups: to.groups,
      params,
      restartParticipants: input.restart_participants !== false,
      excludeActive: input.exclude_active === true,
      createdAt: now(),
    };
    flowStarts.push(record);
    emit("flow_start.received", { id: record.id, flow: flow.uuid, contacts: to.recipients, params });
    for (const contact of to.recipients) {
      deliver(contact, { kind: "flow_start", at: record.createdAt, id: record.id, flow: flow.uuid, params });
      // The helpline-unavailable notice starts a flow too, but the child stays with the helpline.
      if (params.reason === "helpline_unavailable") continue;
      for (const session of sessions.values()) {
        if (session.contact === contact && session.state === "open") {
          session.state = "handed_back";
          emit("child.handed_back", { session: session.session, contact, flow: flow.uuid, params });
        }
      }
    }
    return { status: 201, json: flowStartJson(record) };
  }

  function flowStartJson(record: FlowStartRecord) {
    const flow = flows.find((f) => f.uuid === record.flow);
    return {
      id: record.id,
      uuid: record.uuid,
      flow: { uuid: record.flow, name: flow?.name ?? null },
      status: "pending",
      groups: record.groups.map((uuid) => ({ uuid, name: null })),
      contacts: record.contacts.map(ref),
      restart_participants: record.restartParticipants,
      exclude_active: record.excludeActive,
      params: record.params,
      ...(flavour === "nyaruka" ? {} : { extra: record.params }),
      created_on: iso(record.createdAt),
      modified_on: iso(record.createdAt),
    };
  }

  function listContacts(req: SimRequest): SimResponse {
    const uuid = req.url.searchParams.get("uuid");
    const urn = req.url.searchParams.get("urn");
    let list = [...contacts.values()];
    if (uuid) list = list.filter((c) => c.uuid === uuid);
    if (urn) list = list.filter((c) => c.urns.includes(urn));
    return { status: 200, json: page(list.reverse().map(contactJson)) };
  }

  /** `POST contacts.json` (create), `?uuid=` (update; 404 when unknown) or `?urn=` (update, or create with it). */
  function upsertContact(req: SimRequest): SimResponse {
    const input = body(req);
    if (isResponse(input)) return input;
    const uuid = req.url.searchParams.get("uuid");
    const urn = req.url.searchParams.get("urn");
    if (input.name !== undefined && input.name !== null && typeof input.name !== "string") {
      return fieldErrors({ name: ["Not a valid string."] });
    }
    const urns = input.urns ?? [];
    if (!Array.isArray(urns) || urns.some((u) => typeof u !== "string" || !/^[a-z]+:.+$/.test(u))) {
      return fieldErrors({ urns: ["Invalid URN."] });
    }
    let contact = uuid
      ? contacts.get(uuid)
      : urn
        ? [...contacts.values()].find((c) => c.urns.includes(urn))
        : undefined;
    if (uuid && !contact) return detail(404, "Not found.");
    const created = !contact;
    if (!contact) contact = ensureContact(randomUUID(), null, urn ?? (urns[0] as string | undefined));
    if (typeof input.name === "string") contact.name = input.name;
    if (urns.length > 0) contact.urns = [...(urns as string[])];
    return { status: created ? 201 : 200, json: contactJson(contact) };
  }

  // --- the ack endpoint -----------------------------------------------------------------------

  function handleAck(req: SimRequest): SimResponse {
    if (req.method !== "POST") return detail(405, `Method "${req.method}" not allowed.`);
    if (options.ackToken !== undefined) {
      const header = (req.headers.authorization ?? "").replace(/^(token|bearer) /i, "").trim();
      if (header !== options.ackToken) {
        emit("request.rejected", { path: req.path, status: 401, reason: "ack without the ack token" });
        return detail(401, "Invalid token");
      }
    }
    const input = body(req);
    if (isResponse(input)) return input;
    const conversationId = stringOf(input.conversation_id);
    const messageId = stringOf(input.message_id);
    const status = stringOf(input.status);
    if (!conversationId || !messageId || !status) {
      emit("request.rejected", {
        path: req.path,
        status: 400,
        reason: "ack without conversation_id/message_id/status",
      });
      return fieldErrors({ non_field_errors: ["conversation_id, message_id and status are required"] });
    }
    const record: AckRecord = { at: now(), conversationId, messageId, status, body: input };
    acks.push(record);
    const contact = sessions.get(conversationId)?.contact;
    if (contact) deliver(contact, { kind: "ack", at: record.at, conversationId, messageId, status });
    emit("ack.received", { conversationId, messageId, status });
    return { status: 200, json: { status: "ok" } };
  }

  // --- the flow: escalations and the child's messages -----------------------------------------

  function withText<T extends object>(payload: T, value: string): T & { text?: string } {
    return includeText ? { ...payload, text: value } : payload;
  }

  async function send(
    session: ChildSession,
    text: string,
    messageId: string,
    extra: Partial<Record<"chat_receiver" | "location" | "risk", string>>,
    action: "escalate" | "say",
  ): Promise<ChildMessageResult> {
    let result: SendChatResult;
    try {
      result = await bridge.client().sendChat({
        chat_session: session.session,
        chat_message: text,
        chat_sender: session.contact,
        chat_source: "WENI",
        chat_channel: "WENI",
        message_id: messageId,
        sender_name: session.name,
        ...extra,
      });
    } catch (error) {
      emit("bridge.error", { action, session: session.session, error: describeBridgeError(error) });
      throw error;
    }
    session.sent.push({ messageId, text, at: now(), duplicate: result.duplicate });
    const payload = { session: session.session, contact: session.contact, messageId, duplicate: result.duplicate };
    emit(action === "escalate" ? "child.escalated" : "child.said", withText(payload, text));
    return { session: session.session, contact: session.contact, messageId, result };
  }

  async function escalate(input: EscalateInput): Promise<ChildMessageResult> {
    if (!isRecord(input) || typeof input.text !== "string" || input.text === "") {
      throw new SimulatorError("invalid_request", "escalate: text is required");
    }
    const sessionId = input.session ?? `sim_${now().toString(36)}_${nextSession++}`;
    if (!/^[A-Za-z0-9_]{1,100}$/.test(sessionId)) {
      throw new SimulatorError("invalid_request", "escalate: session must be 1-100 of A-Z a-z 0-9 _");
    }
    const existing = sessions.get(sessionId);
    const contactUuid = input.contact ?? existing?.contact ?? randomUUID();
    if (existing && existing.contact !== contactUuid) {
      throw new SimulatorError("invalid_request", `escalate: session ${sessionId} belongs to another contact`);
    }
    const contact = ensureContact(contactUuid, input.name ?? null);
    const name = input.name ?? existing?.name ?? contact.name ?? `Child ${contacts.size}`;
    if (contact.name === null) contact.name = name;
    const session = existing ?? { session: sessionId, contact: contactUuid, name, state: "open" as const, sent: [] };
    sessions.set(sessionId, session);
    const extra = {
      ...(input.receiver ? { chat_receiver: input.receiver } : {}),
      ...(input.location ? { location: input.location } : {}),
      ...(input.risk ? { risk: input.risk } : {}),
    };
    try {
      return await send(session, input.text, input.messageId ?? `wm-${randomUUID()}`, extra, "escalate");
    } catch (error) {
      // A conversation the bridge never accepted is not one: the flow may try again with the same session.
      if (!existing && session.sent.length === 0) sessions.delete(sessionId);
      throw error;
    }
  }

  function requireSession(session: string): ChildSession {
    const found = sessions.get(session);
    if (!found) throw new SimulatorError("unknown_session", `no escalated session ${session} in the simulated flow`);
    return found;
  }

  async function childSays(
    session: string,
    text: string,
    sayOptions: { messageId?: string | undefined } = {},
  ): Promise<ChildMessageResult> {
    const found = requireSession(session);
    if (typeof text !== "string" || text === "") throw new SimulatorError("invalid_request", "text is required");
    return send(found, text, sayOptions.messageId ?? `wm-${randomUUID()}`, {}, "say");
  }

  async function childLeaves(session: string, reason?: string): Promise<void> {
    const found = requireSession(session);
    try {
      await bridge.client().closeChat(session, { chat_source: "WENI", ...(reason ? { reason } : {}) });
    } catch (error) {
      emit("bridge.error", { action: "leave", session, error: describeBridgeError(error) });
      throw error;
    }
    found.state = "left";
    emit("child.left", { session, contact: found.contact, reason });
  }

  // --- the admin API --------------------------------------------------------------------------

  async function handleAdmin(req: SimRequest): Promise<SimResponse> {
    const route = req.path.slice("/__sim/".length).replace(/\/+$/, "");
    const parsed = parseJson(req.body);
    if (parsed === INVALID_JSON) return adminError(400, "invalid_json", "the body is not JSON");
    const input = isRecord(parsed) ? parsed : {};
    try {
      switch (`${req.method} ${route}`) {
        case "GET state":
          return { status: 200, json: snapshot() };
        case "GET deliveries": {
          const contact = req.url.searchParams.get("contact");
          if (!contact) return adminError(400, "invalid_request", "?contact=<uuid> is required");
          return { status: 200, json: { contact, deliveries: deliveries.get(contact) ?? [] } };
        }
        case "GET requests":
          return { status: 200, json: { requests: requestLog.records } };
        case "GET faults":
          return { status: 200, json: { faults: faults.current, injected: faults.injected } };
        case "POST faults":
          return { status: 200, json: { faults: faults.set(parsed as FaultConfig) } };
        case "DELETE faults":
          faults.clear();
          return { status: 200, json: { faults: faults.current } };
        case "POST escalate":
          return {
            status: 200,
            json: await escalate({
              text: requiredString(input, "text"),
              contact: optionalString(input, "contact"),
              name: optionalString(input, "name"),
              session: optionalString(input, "session"),
              messageId: optionalString(input, "message_id"),
              receiver: optionalString(input, "receiver"),
              location: optionalString(input, "location"),
              risk: optionalString(input, "risk"),
            }),
          };
        case "POST say":
          return {
            status: 200,
            json: await childSays(requiredString(input, "session"), requiredString(input, "text"), {
              messageId: optionalString(input, "message_id"),
            }),
          };
        case "POST leave":
          await childLeaves(requiredString(input, "session"), optionalString(input, "reason"));
          return { status: 200, json: { left: input.session } };
        case "POST rate-limit":
          simulator.setRateLimit(input.limit === undefined || input.limit === null ? undefined : (input as never));
          return { status: 200, json: { rateLimit: rateLimit ?? null } };
        case "POST config":
          if (input.includeText !== undefined) includeText = input.includeText === true;
          return { status: 200, json: { includeText } };
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
      ackUrl: simulator.ackUrl,
      flavour,
      closeFlow: simulator.closeFlow,
      bridge: bridge.url ?? null,
      rateLimit: rateLimit ?? null,
      contacts: [...contacts.values()],
      sessions: [...sessions.values()],
      broadcasts,
      messages,
      flowStarts,
      acks,
      faults: faults.current,
      injected: faults.injected,
    };
  }

  // --- the server -----------------------------------------------------------------------------

  const server = await startSimServer({
    host: options.host ?? "127.0.0.1",
    port: options.port ?? 0,
    faults,
    faultResponse: (hit) =>
      hit.mode === "429"
        ? detail(429, `Request was throttled. Expected available in ${hit.retryAfterS} seconds.`, {
            "retry-after": String(hit.retryAfterS),
          })
        : {
            status: hit.status,
            text: `<h1>Server Error (${hit.status})</h1>`,
            headers: { "content-type": "text/html" },
          },
    handle: (req) => {
      if (req.path.startsWith("/__sim/")) return handleAdmin(req);
      if (req.path === "/acks" || req.path === "/acks/") return handleAck(req);
      if (req.path.startsWith("/api/v2")) return handleApi(req);
      return detail(404, "Not found.");
    },
    onRequest: (record) => {
      requestLog.add(record);
      if (record.fault) emit("fault", { mode: record.fault, method: record.method, path: record.path });
    },
  });

  const state: RapidProState = {
    contacts,
    broadcasts,
    messages,
    flowStarts,
    acks,
    sessions,
    deliveries: (contact) => [...(deliveries.get(contact) ?? [])],
    texts: (contact) => (deliveries.get(contact) ?? []).flatMap((d) => (d.kind === "text" ? [d.text] : [])),
    requests: requestLog.records,
  };

  const simulator: RapidProSimulator = {
    url: `${server.origin}${RAPIDPRO_API_PATH}`,
    ackUrl: `${server.origin}/acks`,
    origin: server.origin,
    port: server.port,
    flavour,
    token,
    closeFlow: flows[0]!.uuid,
    state,
    faults,
    events: hub.events,
    onAny: hub.onAny,
    waitFor: (type, predicate, timeoutMs) => hub.waitFor(type, predicate, timeoutMs),
    escalate,
    childSays,
    childLeaves,
    connectBridge: (connection) => bridge.connect(connection),
    setRateLimit(limit) {
      rateLimit = checkRateLimit(limit);
      window = { start: now(), count: 0 };
    },
    reset() {
      contacts.clear();
      broadcasts.length = 0;
      messages.length = 0;
      flowStarts.length = 0;
      acks.length = 0;
      sessions.clear();
      deliveries.clear();
    },
    close: () => server.close(),
  };
  return simulator;
}

function checkRateLimit(limit: unknown): { limit: number; windowMs: number } | undefined {
  if (limit === undefined || limit === null) return undefined;
  const l = limit as { limit?: unknown; windowMs?: unknown };
  if (
    typeof l.limit !== "number" ||
    !Number.isInteger(l.limit) ||
    l.limit < 0 ||
    typeof l.windowMs !== "number" ||
    !(l.windowMs > 0)
  ) {
    throw new TypeError("rapidpro simulator: rateLimit must be { limit: whole number ≥ 0, windowMs: > 0 }");
  }
  return { limit: l.limit, windowMs: l.windowMs };
}

/** Error answers built while reading a request, told apart from parsed bodies by identity. */
const refusals = new WeakSet<object>();

function refusal(response: SimResponse): SimResponse {
  refusals.add(response);
  return response;
}

function isResponse(value: unknown): value is SimResponse {
  return typeof value === "object" && value !== null && refusals.has(value);
}

function stringOf(value: unknown): string | undefined {
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}
