import { systemClock, type UpstreamErrorInit } from "@openchs-bridge/core";
import { createUpstreamHttp, type UpstreamHttp, type UpstreamTransport } from "@openchs-bridge/core/upstream";
import type { z } from "zod";
import { asLoginError, describeHelplineError, OpenChsCaseError, type OpenChsCaseStep, OpenChsError } from "../errors";
import { utf8ToBase64 } from "../internal/base64";
import { createCachedCredentialAuth } from "../internal/cached-credential";
import { type CallOptions, configError, parseBaseUrl, type TransportOptions } from "../internal/shared";
import {
  type CaseInput,
  type CaseKeys,
  type ClientInput,
  type CompleteCaseIds,
  type CompleteCaseInput,
  caseBody,
  type HelplineId,
  type PerpetratorInput,
  personBody,
  type ReporterInput,
} from "./cases";
import { buildMessageBody, type HelplineMessageInput, type MessageEncoding } from "./message";
import {
  categoriesAnswerSchema,
  createdAnswerSchema,
  loginAnswerSchema,
  messageAnswerSchema,
  reporterAnswerSchema,
} from "./schemas";

const FACTORY = "createOpenChsHelplineClient";
const SERVICE = "openchs-helpline";

/** The helpline's idle session lifetime: 36000 s. */
export const DEFAULT_SESSION_TTL_MS = 36_000_000;

/** Options of {@link createOpenChsHelplineClient}. */
export interface OpenChsHelplineClientOptions extends TransportOptions {
  /** The core API root, e.g. `https://helpline.example.org/helpline/api/`. */
  baseUrl: string;
  username: string;
  password: string;
  /**
   * How long the session lives without use. Default 10 h (the helpline's 36000 s). The client
   * counts from its last successful call and logs in again ahead of expiry.
   */
  sessionTtlMs?: number | undefined;
  /** Renew the session this long before it would expire. Default: 10% of `sessionTtlMs`, at most 5 min. */
  refreshMarginMs?: number | undefined;
  /** The `cases/` link keys of the server's version. Default `2025`. */
  caseKeys?: CaseKeys | undefined;
  /** How `msg/` carries the text. Default `plain`. */
  messageEncoding?: MessageEncoding | undefined;
  /**
   * How each HTTP attempt is sent. Default: `fetch` (the `fetch` option's, or the global one). On
   * Node, `createUndiciTransport()` of `@openchs-bridge/core/node` costs less per call.
   */
  transport?: UpstreamTransport | undefined;
}

/** The answer to `sendMessage`. */
export interface SendMessageResult {
  /** 201 stored; 202/203 accepted for later processing. */
  status: number;
  /** The helpline's id of the stored message, when it answered with it. */
  id: string | undefined;
}

/** A category (`GET categories/`): case categories, services, genders, locations… (per deployment). */
export interface HelplineCategory {
  id: string;
  name: string | undefined;
  /** The parent category's id (`category_id`); `"0"` for a root. */
  parentId: string | undefined;
  /** `^`-separated path of names. */
  fullname: string | undefined;
  /** Every column, by name, when the server sent its column map (`categories_k`). */
  fields: Record<string, unknown>;
}

/** Filters of `categories.list`. Other helpline filters can be passed in `extra`. */
export interface CategoryFilters {
  /** Children of this category. */
  parentId?: HelplineId | undefined;
  /** Everything under this root. */
  rootId?: HelplineId | undefined;
  name?: string | undefined;
  /** Page size (`_c`). Default: the server's (20). */
  limit?: number | undefined;
  /** Offset (`_a`). */
  offset?: number | undefined;
  extra?: Record<string, string | number> | undefined;
}

/** A typed client of the OpenCHS helpline core API (`/helpline/api/`). */
export interface OpenChsHelplineClient {
  /** The API root, ending in `/`. */
  readonly apiUrl: string;
  /**
   * `POST msg/`: a client message into a helpline session. 201 means stored; the helpline then
   * hunts for a counselor. Carries `message_id`, so it is retried on network errors, timeouts,
   * 408, 429 and 5xx.
   */
  sendMessage(input: HelplineMessageInput, options?: CallOptions): Promise<SendMessageResult>;
  /** `reporters/`. Not retried (no idempotency key). */
  reporters: { create(input: ReporterInput, options?: CallOptions): Promise<{ id: string; contactId: string }> };
  /** `clients/`. Not retried (no idempotency key). */
  clients: { create(input: ClientInput, options?: CallOptions): Promise<{ id: string }> };
  /** `perpetrators/`. Not retried (no idempotency key). */
  perpetrators: { create(input: PerpetratorInput, options?: CallOptions): Promise<{ id: string }> };
  /** `cases/`, with the link keys of `caseKeys`. Not retried (no idempotency key). */
  cases: { create(input: CaseInput, options?: CallOptions): Promise<{ id: string }> };
  /** `GET categories/`: ids are per deployment, look them up here. */
  categories: { list(filters?: CategoryFilters, options?: CallOptions): Promise<HelplineCategory[]> };
  /**
   * Creates the reporter, then each client, then each perpetrator, then the case linking them, in
   * that order. Nothing is retried; on a failure the {@link OpenChsCaseError} names the step and
   * the ids already created.
   */
  createCompleteCase(input: CompleteCaseInput, options?: CallOptions): Promise<CompleteCaseIds>;
}

/**
 * Creates a client of the OpenCHS helpline core API. It logs in with HTTP Basic at the API root
 * once, reuses the session (`Authorization: Bearer <session>`) across calls, shares one in-flight
 * login among concurrent callers, renews the session ahead of its sliding expiry, and on a 401 logs
 * in again once and retries once.
 *
 * @example
 * ```ts
 * const helpline = createOpenChsHelplineClient({
 *   baseUrl: "https://helpline.example.org/helpline/api/", username, password,
 * });
 * await helpline.sendMessage({ session_id: "abc123", message_id: "m1", from: contactUuid, message: "hi" });
 * ```
 */
export function createOpenChsHelplineClient(options: OpenChsHelplineClientOptions): OpenChsHelplineClient {
  const base = parseBaseUrl(FACTORY, options.baseUrl);
  if (!isFilled(options.username) || !isFilled(options.password)) {
    configError(FACTORY, "`username` and `password` (non-empty strings) are required");
  }
  const ttl = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  if (!(Number.isFinite(ttl) && ttl > 0)) configError(FACTORY, "`sessionTtlMs` must be a positive number of ms");
  const caseKeys = options.caseKeys ?? "2025";
  if (caseKeys !== "2025" && caseKeys !== "2023") configError(FACTORY, '`caseKeys` must be "2025" or "2023"');
  const encoding = options.messageEncoding ?? "plain";
  if (encoding !== "plain" && encoding !== "base64") {
    configError(FACTORY, '`messageEncoding` must be "plain" or "base64"');
  }
  const clock = options.clock ?? systemClock;
  const apiUrl = base.toString();
  const createError = (init: UpstreamErrorInit) => new OpenChsError(SERVICE, init);
  const transport = {
    baseUrl: apiUrl,
    timeoutMs: options.timeoutMs,
    retry: options.retry,
    transport: options.transport,
    fetch: options.fetch,
    headers: options.headers,
    createError,
  };
  const basic = `Basic ${utf8ToBase64(`${options.username}:${options.password}`)}`;

  const loginHttp = createUpstreamHttp({
    ...transport,
    label: "OpenCHS helpline login",
    describeError: asLoginError(describeHelplineError),
  });

  const session = createCachedCredentialAuth({
    clock,
    slidingTtlMs: ttl,
    refreshMarginMs: options.refreshMarginMs,
    maxDefaultMarginMs: 5 * 60_000,
    header: (id) => ({ authorization: `Bearer ${id}` }),
    abortError: () => createError({ code: "aborted", message: "OpenCHS helpline login wait was aborted" }),
    login: async () => {
      const { data } = await loginHttp.request({
        method: "POST",
        // The API root itself: any call with HTTP Basic opens a session.
        path: "./",
        headers: { authorization: basic },
        schema: loginAnswerSchema,
        anonymous: true,
        // A second session is harmless, so a 5xx or a timeout may be retried; a refusal never is.
        idempotent: true,
      });
      return { value: data.ss[0]![0] };
    },
  });

  const http: UpstreamHttp = createUpstreamHttp({
    ...transport,
    label: "OpenCHS helpline",
    auth: session,
    describeError: describeHelplineError,
  });

  /** Every authenticated call: a success keeps the sliding session alive. */
  async function call<S extends z.ZodType>(request: Parameters<UpstreamHttp["request"]>[0] & { schema: S }) {
    const startedAt = clock.now();
    const response = await http.request(request);
    session.touch(startedAt);
    return response as { status: number; headers: Headers; data: z.output<S> };
  }

  async function createRecord(
    resource: "clients" | "perpetrators" | "cases",
    body: Record<string, unknown>,
    signal: AbortSignal | undefined,
  ): Promise<{ id: string }> {
    const { data } = await call({
      method: "POST",
      path: `${resource}/`,
      json: body,
      schema: createdAnswerSchema(resource),
      signal,
    });
    const rows = data[resource] as Array<[string, ...unknown[]]>;
    return { id: rows[0]![0] };
  }

  const client: OpenChsHelplineClient = {
    apiUrl,

    async sendMessage(input, callOptions) {
      const body = buildMessageBody(input, encoding, clock.now());
      const { status, data } = await call({
        method: "POST",
        path: "msg/",
        json: body,
        schema: messageAnswerSchema,
        // The message carries its message_id: sending it twice is what the helpline expects to survive.
        idempotent: true,
        signal: callOptions?.signal,
      });
      return { status, id: data?.messages?.[0]?.[0] };
    },

    reporters: {
      async create(input, callOptions) {
        const { data } = await call({
          method: "POST",
          path: "reporters/",
          json: personBody(input),
          schema: reporterAnswerSchema,
          signal: callOptions?.signal,
        });
        const first = data.reporters[0]!;
        return { id: first[0], contactId: first[5] };
      },
    },
    clients: {
      create: (input, callOptions) => createRecord("clients", personBody(input), callOptions?.signal),
    },
    perpetrators: {
      create: (input, callOptions) => createRecord("perpetrators", personBody(input), callOptions?.signal),
    },
    cases: {
      create: (input, callOptions) => createRecord("cases", caseBody(input, caseKeys), callOptions?.signal),
    },

    categories: {
      async list(filters = {}, callOptions) {
        const { data } = await call({
          method: "GET",
          path: "categories/",
          searchParams: {
            ...filters.extra,
            ...defined({
              category_id: filters.parentId,
              root_id: filters.rootId,
              name: filters.name,
              _c: filters.limit,
              _a: filters.offset,
            }),
          },
          schema: categoriesAnswerSchema,
          signal: callOptions?.signal,
        });
        return readCategories(data);
      },
    },

    async createCompleteCase(input, callOptions) {
      const signal = callOptions?.signal;
      const created: OpenChsCaseError["created"] = { clientIds: [], perpetratorIds: [] };
      let step: OpenChsCaseStep = "reporter";
      let index: number | undefined;
      try {
        const reporter = await client.reporters.create(input.reporter, { signal });
        created.reporter = reporter;
        step = "client";
        for (const [i, person] of input.clients.entries()) {
          index = i;
          created.clientIds.push((await client.clients.create(person, { signal })).id);
        }
        step = "perpetrator";
        for (const [i, person] of input.perpetrators.entries()) {
          index = i;
          created.perpetratorIds.push((await client.perpetrators.create(person, { signal })).id);
        }
        step = "case";
        index = undefined;
        const { id: caseId } = await client.cases.create(
          {
            ...input.case,
            reporterId: reporter.id,
            reporterContactId: reporter.contactId,
            clientIds: created.clientIds,
            perpetratorIds: created.perpetratorIds,
          },
          { signal },
        );
        return {
          reporter,
          clientIds: [...created.clientIds],
          perpetratorIds: [...created.perpetratorIds],
          caseId,
        };
      } catch (error) {
        throw new OpenChsCaseError({ step, index, created, cause: error });
      }
    },
  };
  return client;
}

function readCategories(data: z.output<typeof categoriesAnswerSchema>): HelplineCategory[] {
  const columns = new Map<string, number>();
  for (const [name, spec] of Object.entries(data.categories_k ?? {})) {
    const index = Number(spec[0]);
    if (Number.isInteger(index) && index >= 0) columns.set(name, index);
  }
  // Without a column map, the documented column order of `categories`.
  const at = (row: readonly unknown[], name: string, fallback: number) => {
    const value = row[columns.get(name) ?? (columns.size ? -1 : fallback)];
    return value === undefined || value === null || value === "" ? undefined : String(value);
  };
  const rows = Array.isArray(data.categories) ? data.categories : Object.values(data.categories ?? {});
  return rows
    .filter((row) => row.length > 0 && row[0] !== undefined && row[0] !== "")
    .map((row) => ({
      id: String(row[0]),
      name: at(row, "name", 5),
      fullname: at(row, "fullname", 6),
      parentId: at(row, "category_id", 8),
      fields: Object.fromEntries([...columns].map(([name, index]) => [name, row[index]])),
    }));
}

function defined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function isFilled(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}
