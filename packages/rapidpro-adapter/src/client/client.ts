import { isUpstreamError, type UpstreamErrorInit } from "@openchs-bridge/core";
import {
  backoffDelay,
  createSingleFlight,
  createUpstreamHttp,
  resolveRetryPolicy,
  sleep,
  staticAuth,
  type UpstreamRequest,
  type UpstreamTransport,
} from "@openchs-bridge/core/upstream";
import type { z } from "zod";
import { describeRapidProError, RapidProError, validationError } from "../errors";
import {
  type CallOptions,
  configError,
  headerSafe,
  isFilled,
  parseUrlOption,
  type TransportOptions,
} from "../internal/shared";
import { broadcastLimit, flavourFromRoot, RAPIDPRO_FLAVOURS, type RapidProFlavour } from "./flavour";
import { parseReplyAddress, replyRecipients } from "./reply-address";
import {
  broadcastSchema,
  contactFieldSchema,
  contactSchema,
  flowSchema,
  flowStartSchema,
  messageSchema,
  pageSchema,
  type RapidProBroadcast,
  type RapidProContact,
  type RapidProContactField,
  type RapidProFlow,
  type RapidProFlowStart,
  type RapidProMessage,
  type RapidProRun,
  rootSchema,
  runSchema,
} from "./schemas";

const FACTORY = "createRapidProClient";
const SERVICE = "rapidpro";

/** RapidPro's limit on each of `contacts`, `groups` and `urns` of a flow start (and of a broadcast, but on Weni). */
export const RAPIDPRO_TARGET_LIMIT = 100;
/** RapidPro's limit on the JSON-encoded `params` of a flow start, in characters. */
export const RAPIDPRO_PARAMS_LIMIT = 10_000;
/** RapidPro's limit on the attachments of one message. */
export const RAPIDPRO_ATTACHMENTS_LIMIT = 10;

/** Options of {@link createRapidProClient}. */
export interface RapidProClientOptions extends TransportOptions {
  /** The API v2 base, e.g. `https://rapidpro.example.org/api/v2/`. */
  baseUrl: string;
  /** The workspace's API token, sent as `Authorization: Token <token>`. */
  token: string;
  /**
   * The server family. When omitted it is detected once, from `GET /api/v2.json`, and cached; set it
   * to skip that call (`RAPIDPRO_FLAVOUR`).
   */
  flavour?: RapidProFlavour | undefined;
  /** Extra headers sent with every call (never credentials: use `token`). */
  headers?: Record<string, string> | undefined;
  /**
   * Allow a plain-http `baseUrl` other than localhost (a test sandbox on a private network). The
   * token then travels in clear; RapidPro itself refuses http.
   */
  allowHttp?: boolean | undefined;
  /**
   * How each HTTP attempt is sent. Default: `fetch` (the `fetch` option's, or the global one). On
   * Node, `createUndiciTransport()` of `@openchs-bridge/core/node` costs less per call.
   */
  transport?: UpstreamTransport | undefined;
}

/** Options of the calls that create something (`flow_starts`, `broadcasts`, `messages`). */
export interface WriteOptions extends CallOptions {
  /**
   * Sent as `Idempotency-Key`, and opts the call in to retries on network errors, timeouts and 5xx.
   * RapidPro itself does not deduplicate by it: a retry after an answer was lost may create the start
   * or message twice. Without it the call is sent once (a 429 is still waited out and retried, since
   * RapidPro refused it before doing anything).
   */
  idempotencyKey?: string | undefined;
}

/** Body of `POST flow_starts.json`. At least one of `contacts`, `groups`, `urns`. */
export interface FlowStartInput {
  /** UUID of the flow to start. */
  flow: string;
  /** Contact UUIDs (at most 100). */
  contacts?: string[] | undefined;
  /** Group UUIDs or names (at most 100). */
  groups?: string[] | undefined;
  /** URNs such as `tel:+250788123123` (at most 100). */
  urns?: string[] | undefined;
  /** Available to the flow as `@trigger.params`; at most 10000 characters as JSON. */
  params?: Record<string, unknown> | undefined;
  /** Start contacts who were in this flow before. RapidPro's default: true. */
  restart_participants?: boolean | undefined;
  /** Skip contacts who are in a flow now. RapidPro's default: false (they are interrupted). */
  exclude_active?: boolean | undefined;
}

/** Body of `POST broadcasts.json`. At least one of `contacts`, `groups`, `urns`. */
export interface BroadcastInput {
  /** The text, or translations by ISO 639-3 language (`{"eng": "…"}`). */
  text: string | Record<string, string>;
  /** Contact UUIDs (at most 100; 1000 on Weni). */
  contacts?: string[] | undefined;
  /** URNs (at most 100; 1000 on Weni). */
  urns?: string[] | undefined;
  /** Group UUIDs or names. */
  groups?: string[] | undefined;
  /** The ticket the broadcast answers (v7 and Weni only). */
  ticket?: string | undefined;
}

/** A quick reply of `POST messages.json`. */
export interface QuickReplyInput {
  text: string;
  extra?: string | undefined;
  type?: "text" | "form" | "url" | "location" | undefined;
}

/** Body of `POST messages.json` (nyaruka ≥ 8.2). `text` or `attachments` is required. */
export interface MessageInput {
  /** The contact's UUID. */
  contact: string;
  text?: string | undefined;
  /**
   * Media of the workspace: media UUIDs from `POST media.json`, or `<content-type>:<url>` of such
   * media. RapidPro refuses arbitrary URLs here. At most 10.
   */
  attachments?: string[] | undefined;
  quick_replies?: QuickReplyInput[] | undefined;
}

/** How a contact is looked up: by UUID or by URN. */
export type ContactLookup = { uuid: string; urn?: undefined } | { urn: string; uuid?: undefined };

/** Body of a contact upsert. */
export interface ContactUpsertInput {
  name?: string | null | undefined;
  /** ISO 639-3. */
  language?: string | null | undefined;
  /** Replaces the contact's URNs; not allowed when looking up by URN. At most 100. */
  urns?: string[] | undefined;
  /** Replaces the contact's groups (UUIDs or names). */
  groups?: string[] | undefined;
  /** Field values by key; `null` clears one. */
  fields?: Record<string, string | null> | undefined;
}

/** Filters of a list call: the endpoint's documented query parameters. */
export type ListQuery = Record<string, string | number | boolean | undefined>;

/** Query of `GET messages.json`. */
export interface MessagesQuery extends ListQuery {
  uuid?: string | undefined;
  id?: number | undefined;
  broadcast?: number | string | undefined;
  contact?: string | undefined;
  folder?: "incoming" | "inbox" | "flows" | "archived" | "outbox" | "sent" | "failed" | (string & {}) | undefined;
  label?: string | undefined;
  before?: string | undefined;
  after?: string | undefined;
}

/** Query of `GET contacts.json`. */
export interface ContactsQuery extends ListQuery {
  uuid?: string | undefined;
  urn?: string | undefined;
  group?: string | undefined;
  deleted?: boolean | undefined;
  before?: string | undefined;
  after?: string | undefined;
}

/** Query of `GET flows.json`. */
export interface FlowsQuery extends ListQuery {
  uuid?: string | undefined;
  type?: string | undefined;
  archived?: boolean | undefined;
  before?: string | undefined;
  after?: string | undefined;
}

/** Query of `GET runs.json`. */
export interface RunsQuery extends ListQuery {
  uuid?: string | undefined;
  id?: number | undefined;
  flow?: string | undefined;
  contact?: string | undefined;
  responded?: boolean | undefined;
  before?: string | undefined;
  after?: string | undefined;
  /** Include each run's path (newer servers). */
  paths?: boolean | undefined;
}

/** Query of `GET fields.json`. */
export interface FieldsQuery extends ListQuery {
  key?: string | undefined;
}

/**
 * The results of a list call: iterate it (`for await`) to get every item, the client following the
 * `next` cursor page by page (250 a page) as the iteration goes; or `pages()` for the pages.
 */
export interface RapidProList<T> extends AsyncIterable<T> {
  /** The pages, one array per `next` followed. */
  pages(): AsyncIterable<T[]>;
}

/** What {@link RapidProClient.sendText} did. */
export type SendTextResult =
  | { via: "messages"; key: string; message: RapidProMessage }
  | { via: "broadcasts"; key: string; broadcast: RapidProBroadcast };

/** Options of {@link RapidProClient.sendText}. */
export interface SendTextOptions extends WriteOptions {
  /** Broadcasts only (v7, Weni): the ticket the text answers. Ignored by `messages`. */
  ticket?: string | undefined;
  /**
   * `messages` only (nyaruka, contact UUID address): workspace media, as for
   * {@link MessageInput.attachments}. A text that would go as a broadcast refuses them (`validation`).
   */
  attachments?: string[] | undefined;
}

/** A typed client of RapidPro API v2, for v7, Weni and nyaruka servers alike. */
export interface RapidProClient {
  /** The API base, ending in `/`. */
  readonly baseUrl: string;
  /** The server's flavour: configured, or detected once from `GET /api/v2.json` and cached. */
  flavour(options?: CallOptions): Promise<RapidProFlavour>;
  /**
   * Sends a text to one reply address (a contact UUID, a URN or a phone number: see
   * {@link parseReplyAddress}): `POST messages.json` for a contact UUID on nyaruka ≥ 8.2, a
   * broadcast (`contacts` or `urns`) otherwise.
   */
  sendText(address: string, text: string, options?: SendTextOptions): Promise<SendTextResult>;
  flowStarts: {
    /** `POST flow_starts.json`. Limits and targets are checked before anything is sent. */
    create(input: FlowStartInput, options?: WriteOptions): Promise<RapidProFlowStart>;
  };
  broadcasts: {
    /** `POST broadcasts.json`. Limits, targets and `ticket` (v7/Weni only) are checked before sending. */
    create(input: BroadcastInput, options?: WriteOptions): Promise<RapidProBroadcast>;
  };
  messages: {
    /** `POST messages.json` (nyaruka ≥ 8.2 only; elsewhere a `validation` error, nothing sent). */
    send(input: MessageInput, options?: WriteOptions): Promise<RapidProMessage>;
    /** `GET messages.json`, newest first. */
    list(query?: MessagesQuery, options?: CallOptions): RapidProList<RapidProMessage>;
  };
  contacts: {
    /** `GET contacts.json?uuid=` or `?urn=`: the contact, or undefined when there is none. */
    get(lookup: ContactLookup, options?: CallOptions): Promise<RapidProContact | undefined>;
    /** `GET contacts.json`. */
    list(query?: ContactsQuery, options?: CallOptions): RapidProList<RapidProContact>;
    /** `POST contacts.json?uuid=` or `?urn=`: updates the contact, or creates it (by URN). Retried: it is idempotent. */
    upsert(lookup: ContactLookup, input: ContactUpsertInput, options?: CallOptions): Promise<RapidProContact>;
  };
  flows: {
    /** `GET flows.json`. */
    list(query?: FlowsQuery, options?: CallOptions): RapidProList<RapidProFlow>;
  };
  runs: {
    /** `GET runs.json`, newest first. */
    list(query?: RunsQuery, options?: CallOptions): RapidProList<RapidProRun>;
  };
  fields: {
    /** `GET fields.json`: contact field definitions, `label`/`value_type` read as `name`/`type`. */
    list(query?: FieldsQuery, options?: CallOptions): RapidProList<RapidProContactField>;
  };
}

/**
 * Creates a client of RapidPro API v2 (`Authorization: Token`), built on the core's request executor:
 * per-attempt timeout, retries with backoff and jitter for GETs (and for writes given an
 * `idempotencyKey`), `Retry-After` honoured up to `retry.maxRetryAfterMs`, every error a
 * {@link RapidProError} with the token redacted, every answer validated and normalised.
 *
 * @example
 * ```ts
 * const rapidpro = createRapidProClient({ baseUrl: "https://rapidpro.example.org/api/v2/", token });
 * await rapidpro.sendText(contactUuid, "Counselor: hello");
 * for await (const run of rapidpro.runs.list({ flow: flowUuid })) console.log(run.key, run.exit_type);
 * ```
 */
export function createRapidProClient(options: RapidProClientOptions): RapidProClient {
  const base = parseUrlOption(FACTORY, "baseUrl", options.baseUrl, "https://rapidpro.example.org/api/v2/");
  if (base.protocol !== "https:" && !isLocal(base) && options.allowHttp !== true) {
    // RapidPro refuses plain HTTP (SSLPermission); sending the token in clear is never right either.
    configError(FACTORY, "`baseUrl` must use https (RapidPro's API refuses http; `allowHttp` for a test sandbox)");
  }
  base.search = "";
  const token = typeof options.token === "string" ? options.token.replace(/^Token\s+/i, "").trim() : "";
  if (!isFilled(token) || /\s/.test(token)) {
    configError(FACTORY, "`token` is required: the workspace API token, without the `Token ` prefix");
  }
  if (options.flavour !== undefined && !RAPIDPRO_FLAVOURS.includes(options.flavour)) {
    configError(FACTORY, `\`flavour\` must be one of ${RAPIDPRO_FLAVOURS.join(", ")}`);
  }
  const policy = resolveRetryPolicy(options.retry);
  const createError = (init: UpstreamErrorInit) => new RapidProError(SERVICE, init);
  const http = createUpstreamHttp({
    label: "RapidPro",
    baseUrl: base.toString(),
    timeoutMs: options.timeoutMs,
    retry: options.retry,
    transport: options.transport,
    fetch: options.fetch,
    headers: options.headers,
    auth: staticAuth({ authorization: `Token ${token}` }),
    describeError: describeRapidProError,
    createError,
  });
  const rootPath = `${base.pathname.replace(/\/+$/, "")}.json`;

  /**
   * One call. GETs and writes with an idempotency key are retried by the executor. A write without
   * one is sent once, except after a 429: RapidPro throttles before doing anything, so waiting out
   * `Retry-After` (bounded, abortable) and sending again cannot create anything twice.
   */
  async function call<S extends z.ZodType>(request: UpstreamRequest<S> & { signal?: AbortSignal | undefined }) {
    const keyed = Object.keys(request.headers ?? {}).some((h) => h.toLowerCase() === "idempotency-key");
    if (request.method === "GET" || keyed || request.idempotent) return (await http.request(request)).data;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await http.request(request)).data;
      } catch (error) {
        if (!(error instanceof RapidProError) || error.code !== "rate_limited" || attempt > policy.limit) throw error;
        const wait = error.retryAfterMs ?? backoffDelay(policy, attempt);
        if (wait > policy.maxRetryAfterMs) throw error;
        try {
          await sleep(wait, request.signal);
        } catch (cause) {
          throw createError({
            code: "aborted",
            cause,
            request: error.request,
            message: `RapidPro ${request.method} ${request.path} was aborted while waiting ${wait} ms for Retry-After`,
          });
        }
      }
    }
  }

  function writeHeaders(options: WriteOptions | undefined): Record<string, string> | undefined {
    if (options?.idempotencyKey === undefined) return undefined;
    if (!isFilled(options.idempotencyKey)) throw validationError("idempotencyKey", "idempotencyKey must be non-empty");
    return { "Idempotency-Key": headerSafe(options.idempotencyKey) };
  }

  let knownFlavour: RapidProFlavour | undefined = options.flavour;
  const detectOnce = createSingleFlight<RapidProFlavour>();
  async function flavour(callOptions?: CallOptions): Promise<RapidProFlavour> {
    if (knownFlavour) return knownFlavour;
    const detection = detectOnce("flavour", async () => {
      try {
        const root = await call({ method: "GET", path: rootPath, schema: rootSchema });
        knownFlavour = flavourFromRoot(root);
      } catch (error) {
        // Try again next time when the server may answer later; otherwise settle on broadcasts,
        // which every flavour accepts.
        if (isUpstreamError(error) && (error.retriable || error.code === "aborted")) throw error;
        knownFlavour = "v7";
      }
      return knownFlavour;
    });
    return raceAbort(detection, callOptions?.signal, () =>
      createError({ code: "aborted", message: "RapidPro flavour detection was aborted" }),
    );
  }

  function list<T extends z.ZodType>(path: string, item: T, query: ListQuery | undefined, callOptions?: CallOptions) {
    return paginate<z.output<T>>(async (cursor) => {
      const page = await call({
        method: "GET",
        path,
        schema: pageSchema(item),
        searchParams: cursor ?? query,
        signal: callOptions?.signal,
      });
      return { results: page.results as z.output<T>[], next: page.next ?? null };
    }, path);
  }

  const client: RapidProClient = {
    baseUrl: base.toString(),
    flavour,

    async sendText(address, text, sendOptions = {}) {
      const to = parseReplyAddress(address);
      // messages.json names its recipient by contact UUID only: a URN goes as a broadcast, which
      // every flavour takes (and which creates the contact when the URN is new).
      if (to.kind === "contact" && (await flavour(sendOptions)) === "nyaruka") {
        const message = await client.messages.send(
          { contact: to.uuid, text, ...(sendOptions.attachments ? { attachments: sendOptions.attachments } : {}) },
          sendOptions,
        );
        return { via: "messages", key: message.key, message };
      }
      if (sendOptions.attachments?.length) {
        // A broadcast would drop them silently.
        throw validationError(
          "attachments",
          "attachments need POST messages.json: a nyaruka ≥ 8.2 server and a contact UUID address",
        );
      }
      const broadcast = await client.broadcasts.create(
        { ...replyRecipients(to), text, ...(sendOptions.ticket ? { ticket: sendOptions.ticket } : {}) },
        sendOptions,
      );
      return { via: "broadcasts", key: broadcast.key, broadcast };
    },

    flowStarts: {
      async create(input, writeOptions) {
        checkUuidLike("flow", input.flow);
        const targets = checkTargets(input, RAPIDPRO_TARGET_LIMIT);
        const body: Record<string, unknown> = { flow: input.flow, ...targets };
        if (input.params !== undefined) {
          if (!isPlainObject(input.params)) throw validationError("params", "params must be a JSON object");
          if (JSON.stringify(input.params).length > RAPIDPRO_PARAMS_LIMIT) {
            throw validationError("params", `params must be at most ${RAPIDPRO_PARAMS_LIMIT} characters as JSON`);
          }
          body.params = input.params;
        }
        if (input.restart_participants !== undefined) body.restart_participants = input.restart_participants;
        if (input.exclude_active !== undefined) body.exclude_active = input.exclude_active;
        return call({
          method: "POST",
          path: "flow_starts.json",
          json: body,
          headers: writeHeaders(writeOptions),
          schema: flowStartSchema,
          signal: writeOptions?.signal,
        });
      },
    },

    broadcasts: {
      async create(input, writeOptions) {
        checkText(input.text);
        const headers = writeHeaders(writeOptions);
        const current = await flavour(writeOptions);
        const targets = checkTargets(input, broadcastLimit(current));
        if (input.ticket !== undefined) {
          if (current === "nyaruka") {
            throw validationError("ticket", "ticket is accepted by v7 and Weni servers only (this one is nyaruka)");
          }
          checkUuidLike("ticket", input.ticket);
        }
        return call({
          method: "POST",
          path: "broadcasts.json",
          json: { ...targets, text: input.text, ...(input.ticket !== undefined ? { ticket: input.ticket } : {}) },
          headers,
          schema: broadcastSchema,
          signal: writeOptions?.signal,
        });
      },
    },

    messages: {
      async send(input, writeOptions) {
        checkUuidLike("contact", input.contact);
        const hasText = typeof input.text === "string" && input.text !== "";
        const attachments = input.attachments ?? [];
        if (!Array.isArray(attachments) || attachments.some((a) => !isFilled(a))) {
          throw validationError("attachments", "attachments must be a list of media UUIDs or <content-type>:<url>");
        }
        if (!hasText && attachments.length === 0) throw validationError("text", "text or attachments is required");
        if (attachments.length > RAPIDPRO_ATTACHMENTS_LIMIT) {
          throw validationError("attachments", `at most ${RAPIDPRO_ATTACHMENTS_LIMIT} attachments`);
        }
        const headers = writeHeaders(writeOptions);
        const current = await flavour(writeOptions);
        if (current !== "nyaruka") {
          throw validationError(
            undefined,
            `POST messages.json needs RapidPro ≥ 8.2 (flavour nyaruka); this server is ${current}: use broadcasts or sendText`,
          );
        }
        const body: Record<string, unknown> = { contact: input.contact };
        if (hasText) body.text = input.text;
        if (attachments.length) body.attachments = attachments;
        if (input.quick_replies?.length) body.quick_replies = input.quick_replies;
        return call({
          method: "POST",
          path: "messages.json",
          json: body,
          headers,
          schema: messageSchema,
          signal: writeOptions?.signal,
        });
      },
      list: (query, callOptions) => list("messages.json", messageSchema, query, callOptions),
    },

    contacts: {
      async get(lookup, callOptions) {
        const searchParams = lookupParams(lookup);
        const page = await call({
          method: "GET",
          path: "contacts.json",
          searchParams,
          schema: pageSchema(contactSchema),
          signal: callOptions?.signal,
        });
        return page.results[0];
      },
      list: (query, callOptions) => list("contacts.json", contactSchema, query, callOptions),
      async upsert(lookup, input, callOptions) {
        const searchParams = lookupParams(lookup);
        if (lookup.urn !== undefined && input.urns !== undefined) {
          throw validationError("urns", "urns cannot be set when the contact is looked up by URN");
        }
        for (const field of ["urns", "groups"] as const) {
          const values = input[field];
          if (values === undefined) continue;
          if (!Array.isArray(values) || values.some((v) => !isFilled(v))) {
            throw validationError(field, `${field} must be a list of non-empty strings`);
          }
          if (values.length > RAPIDPRO_TARGET_LIMIT) {
            throw validationError(field, `${field} may name at most ${RAPIDPRO_TARGET_LIMIT} items`);
          }
        }
        const body: Record<string, unknown> = {};
        for (const key of ["name", "language", "urns", "groups", "fields"] as const) {
          if (input[key] !== undefined) body[key] = input[key];
        }
        return call({
          method: "POST",
          path: "contacts.json",
          searchParams,
          json: body,
          idempotent: true,
          schema: contactSchema,
          signal: callOptions?.signal,
        });
      },
    },

    flows: { list: (query, callOptions) => list("flows.json", flowSchema, query, callOptions) },
    runs: { list: (query, callOptions) => list("runs.json", runSchema, query, callOptions) },
    fields: { list: (query, callOptions) => list("fields.json", contactFieldSchema, query, callOptions) },
  };
  return client;
}

/**
 * Follows RapidPro's `next` cursor. Only the cursor's query is taken from `next`: the request goes to
 * the configured base URL and endpoint, so a `next` naming another host (or plain http, behind a
 * proxy) never receives the token. A `next` for another endpoint, or the same page twice, stops
 * with `invalid_response`.
 */
function paginate<T>(
  fetchPage: (cursor: URLSearchParams | undefined) => Promise<{ results: T[]; next: string | null }>,
  path: string,
): RapidProList<T> {
  async function* pages(): AsyncGenerator<T[]> {
    let cursor: URLSearchParams | undefined;
    const seen = new Set<string>();
    for (;;) {
      const page = await fetchPage(cursor);
      yield page.results;
      if (!page.next) return;
      let next: URL;
      try {
        next = new URL(page.next, "https://rapidpro.invalid/");
      } catch {
        throw pagingError(path, "a `next` that is not a URL");
      }
      if (!next.pathname.endsWith(`/${path}`)) throw pagingError(path, "a `next` for another endpoint");
      const key = next.searchParams.toString();
      if (seen.has(key)) throw pagingError(path, "the same `next` twice");
      seen.add(key);
      cursor = next.searchParams;
    }
  }
  return {
    pages,
    async *[Symbol.asyncIterator]() {
      for await (const page of pages()) yield* page;
    },
  };
}

function pagingError(path: string, what: string): RapidProError {
  return new RapidProError(SERVICE, {
    code: "invalid_response",
    message: `RapidPro GET ${path} answered ${what}; stopped paging`,
  });
}

function checkTargets(
  input: { contacts?: string[] | undefined; groups?: string[] | undefined; urns?: string[] | undefined },
  limit: number,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const field of ["contacts", "groups", "urns"] as const) {
    const values = input[field];
    if (values === undefined) continue;
    if (!Array.isArray(values) || values.some((v) => !isFilled(v))) {
      throw validationError(field, `${field} must be a list of non-empty strings`);
    }
    if (values.length > limit) throw validationError(field, `${field} may name at most ${limit} items`);
    if (values.length) out[field] = values;
  }
  if (Object.keys(out).length === 0) {
    throw validationError("contacts", "at least one contact, group or URN is required");
  }
  return out;
}

function checkText(text: unknown): void {
  if (typeof text === "string") {
    if (text === "") throw validationError("text", "text must not be empty");
    return;
  }
  if (!isPlainObject(text) || Object.keys(text).length === 0) {
    throw validationError("text", 'text must be a string or translations such as {"eng": "…"}');
  }
  for (const [lang, value] of Object.entries(text)) {
    if (!/^[a-z]{3}$/.test(lang)) throw validationError("text", "translation keys must be ISO 639-3 codes (e.g. eng)");
    if (typeof value !== "string" || value === "") throw validationError(`text.${lang}`, "translations must be text");
  }
}

function checkUuidLike(field: string, value: unknown): void {
  if (!isFilled(value)) throw validationError(field, `${field} is required`);
}

function lookupParams(lookup: ContactLookup): Record<string, string> {
  if (lookup && isFilled(lookup.uuid) && lookup.urn === undefined) return { uuid: lookup.uuid };
  if (lookup && isFilled(lookup.urn) && lookup.uuid === undefined) return { urn: lookup.urn };
  throw validationError("uuid", "look a contact up by exactly one of uuid or urn");
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isLocal(url: URL): boolean {
  return url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, error: () => Error): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(error());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(error());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (reason: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(reason);
      },
    );
  });
}
