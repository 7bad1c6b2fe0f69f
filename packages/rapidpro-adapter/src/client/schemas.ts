import { z } from "zod";

/**
 * Answers of RapidPro API v2 in both families of servers, normalised to one shape:
 * - v7 / Weni (`weni-ai/flows`): integer `id`s on messages, broadcasts, runs and flow starts; contact
 *   fields as `label`/`value_type`; contacts with `blocked`/`stopped` booleans.
 * - nyaruka ≥ 8: `uuid`s (the integer `id` kept as deprecated); fields as `name`/`type`; `status`.
 * Both raw ids stay available (`id`, `uuid`), and `key` is the one to store: the uuid when there is
 * one, else the id as a string. Unknown fields are ignored, `null` and absent read alike.
 */

const str = z
  .string()
  .nullish()
  .transform((v) => v ?? null);
const int = z
  .number()
  .int()
  .nullish()
  .transform((v) => v ?? undefined);
const uuidOpt = z
  .string()
  .min(1)
  .nullish()
  .transform((v) => v ?? undefined);

/** `{uuid, name}` reference to a flow, group, channel or label. */
export interface RapidProRef {
  uuid: string;
  name: string | null;
}

const refSchema = z
  .looseObject({ uuid: z.string().min(1), name: str })
  .transform((r): RapidProRef => ({ uuid: r.uuid, name: r.name }));
const refs = z
  .array(refSchema)
  .nullish()
  .transform((v) => v ?? []);

/** An attachment as RapidPro lists it. */
export interface RapidProAttachment {
  content_type: string;
  url: string;
}

const attachmentSchema = z.union([
  z
    .looseObject({ content_type: z.string(), url: z.string() })
    .transform((a): RapidProAttachment => ({ content_type: a.content_type, url: a.url })),
  // Older servers: "<content-type>:<url>".
  z
    .string()
    .regex(/^[^:/]+\/[^:]+:.+$/)
    .transform((s): RapidProAttachment => {
      const i = s.indexOf(":");
      return { content_type: s.slice(0, i), url: s.slice(i + 1) };
    }),
]);

/** The ids every object with an identity carries, in either flavour. */
export interface RapidProIds {
  /** The uuid when the server gives one, else the integer id as a string: the id to store. */
  key: string;
  /** Integer id (v7/Weni; deprecated on newer servers, which may still send it). */
  id: number | undefined;
  /** UUID (newer servers; v7 runs and flow starts have one too). */
  uuid: string | undefined;
}

function ids(v: { id?: number | undefined; uuid?: string | undefined }): RapidProIds {
  return { key: v.uuid ?? String(v.id), id: v.id, uuid: v.uuid };
}

const hasId = (v: { id?: number | undefined; uuid?: string | undefined }) => v.id !== undefined || v.uuid !== undefined;
const idError = { error: "expected an id or a uuid" };

/** A message (`messages.json`). */
export interface RapidProMessage extends RapidProIds {
  contact: RapidProRef | null;
  urn: string | null;
  channel: RapidProRef | null;
  /** `in` or `out`. */
  direction: string;
  /** `text`/`optin`/`voice` (newer) or `inbox`/`flow`/`ivr` (v7). */
  type: string | null;
  status: string | null;
  visibility: string | null;
  text: string | null;
  attachments: RapidProAttachment[];
  labels: RapidProRef[];
  flow: RapidProRef | null;
  /** The broadcast it belongs to, when there is one. */
  broadcast: number | null;
  created_on: string;
  sent_on: string | null;
  modified_on: string | null;
}

/** Schema of one message. */
export const messageSchema = z
  .looseObject({
    id: int,
    uuid: uuidOpt,
    contact: refSchema.nullish(),
    urn: str,
    channel: refSchema.nullish(),
    direction: z.string(),
    type: str,
    status: str,
    visibility: str,
    text: str,
    attachments: z
      .array(attachmentSchema)
      .nullish()
      .transform((v) => v ?? []),
    labels: refs,
    flow: refSchema.nullish(),
    broadcast: z.number().int().nullish(),
    created_on: z.string(),
    sent_on: str,
    modified_on: str,
  })
  .refine(hasId, idError)
  .transform(
    (m): RapidProMessage => ({
      ...ids(m),
      contact: m.contact ?? null,
      urn: m.urn,
      channel: m.channel ?? null,
      direction: m.direction,
      type: m.type,
      status: m.status,
      visibility: m.visibility,
      text: m.text,
      attachments: m.attachments,
      labels: m.labels,
      flow: m.flow ?? null,
      broadcast: m.broadcast ?? null,
      created_on: m.created_on,
      sent_on: m.sent_on,
      modified_on: m.modified_on,
    }),
  );

/** A broadcast (`broadcasts.json`). */
export interface RapidProBroadcast extends RapidProIds {
  status: string | null;
  /** Null on anonymous workspaces. */
  urns: string[] | null;
  contacts: RapidProRef[];
  groups: RapidProRef[];
  /** A string (v7/Weni) or translations by ISO 639-3 language (newer). */
  text: string | Record<string, string> | null;
  created_on: string | null;
}

/** Schema of one broadcast. */
export const broadcastSchema = z
  .looseObject({
    id: int,
    uuid: uuidOpt,
    status: str,
    urns: z.array(z.string()).nullish(),
    contacts: refs,
    groups: refs,
    text: z.union([z.string(), z.record(z.string(), z.string().nullable())]).nullish(),
    created_on: str,
  })
  .refine(hasId, idError)
  .transform(
    (b): RapidProBroadcast => ({
      ...ids(b),
      status: b.status,
      urns: b.urns ?? null,
      contacts: b.contacts,
      groups: b.groups,
      text:
        b.text === undefined || b.text === null
          ? null
          : typeof b.text === "string"
            ? b.text
            : Object.fromEntries(Object.entries(b.text).filter((e): e is [string, string] => e[1] !== null)),
      created_on: b.created_on,
    }),
  );

/** A flow start (`flow_starts.json`). */
export interface RapidProFlowStart extends RapidProIds {
  flow: RapidProRef;
  /** `pending` right after creation; then `queued`/`started`/`completed`/`failed`/`interrupted`. */
  status: string | null;
  groups: RapidProRef[];
  contacts: RapidProRef[];
  /** `params` (newer) or its deprecated alias `extra` (v7/Weni). */
  params: Record<string, unknown> | null;
  created_on: string | null;
  modified_on: string | null;
}

const jsonObject = z.record(z.string(), z.unknown()).nullish();

/** Schema of one flow start. */
export const flowStartSchema = z
  .looseObject({
    id: int,
    uuid: uuidOpt,
    flow: refSchema,
    status: str,
    groups: refs,
    contacts: refs,
    params: jsonObject,
    extra: jsonObject,
    created_on: str,
    modified_on: str,
  })
  .refine(hasId, idError)
  .transform(
    (s): RapidProFlowStart => ({
      ...ids(s),
      flow: s.flow,
      status: s.status,
      groups: s.groups,
      contacts: s.contacts,
      params: s.params ?? s.extra ?? null,
      created_on: s.created_on,
      modified_on: s.modified_on,
    }),
  );

/** A contact's status, read from `status` (newer) or the `blocked`/`stopped` booleans (v7/Weni). */
export type RapidProContactStatus = "active" | "blocked" | "stopped" | "archived";

/** A contact (`contacts.json`). */
export interface RapidProContact {
  uuid: string;
  name: string | null;
  language: string | null;
  /** Null for a deleted contact. */
  status: RapidProContactStatus | null;
  /** URNs such as `tel:+250788123123` (redacted on anonymous workspaces). */
  urns: string[];
  groups: RapidProRef[];
  fields: Record<string, unknown>;
  /** The flow the contact is in now (newer servers only). */
  flow: RapidProRef | null;
  created_on: string | null;
  modified_on: string | null;
  last_seen_on: string | null;
}

/** Schema of one contact. */
export const contactSchema = z
  .looseObject({
    uuid: z.string().min(1),
    name: str,
    language: str,
    status: str,
    blocked: z.boolean().nullish(),
    stopped: z.boolean().nullish(),
    urns: z
      .array(z.string())
      .nullish()
      .transform((v) => v ?? []),
    groups: refs,
    fields: z
      .record(z.string(), z.unknown())
      .nullish()
      .transform((v) => v ?? {}),
    flow: refSchema.nullish(),
    created_on: str,
    modified_on: str,
    last_seen_on: str,
  })
  .transform(
    (c): RapidProContact => ({
      uuid: c.uuid,
      name: c.name,
      language: c.language,
      status: contactStatus(c),
      urns: c.urns,
      groups: c.groups,
      fields: c.fields,
      flow: c.flow ?? null,
      created_on: c.created_on,
      modified_on: c.modified_on,
      last_seen_on: c.last_seen_on,
    }),
  );

function contactStatus(c: {
  status: string | null;
  blocked?: boolean | null | undefined;
  stopped?: boolean | null | undefined;
}): RapidProContactStatus | null {
  if (c.status === "active" || c.status === "blocked" || c.status === "stopped" || c.status === "archived") {
    return c.status;
  }
  if (c.blocked === true) return "blocked";
  if (c.stopped === true) return "stopped";
  if (c.blocked === false || c.stopped === false) return "active";
  return null;
}

/** A flow result as `flows.json` describes it. */
export interface RapidProFlowResult {
  key: string;
  name: string | null;
  categories: string[];
  node_uuids: string[];
}

/** A flow (`flows.json`). */
export interface RapidProFlow {
  uuid: string;
  name: string;
  /** `message`, `voice`, `background` or `survey`. */
  type: string | null;
  archived: boolean;
  labels: RapidProRef[];
  /** Minutes after which runs expire. */
  expires: number | null;
  /** Run counts by status (`active`, `waiting`, `completed`, `interrupted`, `expired`, `failed`). */
  runs: Record<string, number>;
  results: RapidProFlowResult[];
  created_on: string | null;
  modified_on: string | null;
}

/** Schema of one flow. */
export const flowSchema = z
  .looseObject({
    uuid: z.string().min(1),
    name: z.string(),
    type: str,
    archived: z
      .boolean()
      .nullish()
      .transform((v) => v ?? false),
    labels: refs,
    expires: z.number().nullish(),
    runs: z
      .record(z.string(), z.number().nullable())
      .nullish()
      .transform((v) =>
        Object.fromEntries(Object.entries(v ?? {}).filter((e): e is [string, number] => e[1] !== null)),
      ),
    results: z
      .array(
        z.looseObject({
          key: z.string(),
          name: str,
          categories: z
            .array(z.string())
            .nullish()
            .transform((v) => v ?? []),
          node_uuids: z
            .array(z.string())
            .nullish()
            .transform((v) => v ?? []),
        }),
      )
      .nullish()
      .transform((v) => v ?? []),
    created_on: str,
    modified_on: str,
  })
  .transform(
    (f): RapidProFlow => ({
      uuid: f.uuid,
      name: f.name,
      type: f.type,
      archived: f.archived,
      labels: f.labels,
      expires: f.expires ?? null,
      runs: f.runs,
      results: f.results.map((r) => ({ key: r.key, name: r.name, categories: r.categories, node_uuids: r.node_uuids })),
      created_on: f.created_on,
      modified_on: f.modified_on,
    }),
  );

/** One result value of a run. */
export interface RapidProRunValue {
  name: string | null;
  value: unknown;
  category: string | null;
  node: string | null;
  time: string | null;
}

/** A flow run (`runs.json`). */
export interface RapidProRun extends RapidProIds {
  flow: RapidProRef;
  /** The contact, with its `urn` when the server gives it (newer servers, non-anonymous). */
  contact: RapidProRef & { urn: string | null };
  start: { uuid: string } | null;
  responded: boolean;
  /** Only when asked for (newer servers: `paths=true`). */
  path: { node: string; time: string }[] | null;
  values: Record<string, RapidProRunValue>;
  created_on: string | null;
  modified_on: string | null;
  exited_on: string | null;
  /** `completed`, `interrupted`, `expired`, `failed`, or null while active. */
  exit_type: string | null;
}

/** Schema of one run. */
export const runSchema = z
  .looseObject({
    id: int,
    uuid: uuidOpt,
    flow: refSchema,
    contact: z.looseObject({ uuid: z.string().min(1), name: str, urn: str }),
    start: z.looseObject({ uuid: z.string() }).nullish(),
    responded: z
      .boolean()
      .nullish()
      .transform((v) => v ?? false),
    path: z
      .array(z.looseObject({ node: z.string(), time: z.string() }))
      .nullish()
      .transform((v) => (v ? v.map((p) => ({ node: p.node, time: p.time })) : null)),
    values: z
      .record(
        z.string(),
        z.looseObject({ name: str, value: z.unknown(), category: str, node: str, time: str }).transform(
          (v): RapidProRunValue => ({
            name: v.name,
            value: v.value,
            category: v.category,
            node: v.node,
            time: v.time,
          }),
        ),
      )
      .nullish()
      .transform((v) => v ?? {}),
    created_on: str,
    modified_on: str,
    exited_on: str,
    exit_type: str,
  })
  .refine(hasId, idError)
  .transform(
    (r): RapidProRun => ({
      ...ids(r),
      flow: r.flow,
      contact: { uuid: r.contact.uuid, name: r.contact.name, urn: r.contact.urn },
      start: r.start ? { uuid: r.start.uuid } : null,
      responded: r.responded,
      path: r.path,
      values: r.values,
      created_on: r.created_on,
      modified_on: r.modified_on,
      exited_on: r.exited_on,
      exit_type: r.exit_type,
    }),
  );

/** A contact field's type, in the newer naming (v7's `numeric` reads as `number`). */
export type RapidProFieldType = "text" | "number" | "datetime" | "state" | "district" | "ward" | (string & {});

/** A contact field definition (`fields.json`). */
export interface RapidProContactField {
  key: string;
  /** `name` (newer) or `label` (v7/Weni). */
  name: string;
  /** `type` (newer) or `value_type` (v7/Weni), in the newer naming. */
  type: RapidProFieldType;
}

const V7_VALUE_TYPES: Record<string, RapidProFieldType> = { numeric: "number" };

/** Schema of one contact field. */
export const contactFieldSchema = z
  .looseObject({
    key: z.string().min(1),
    name: z.string().nullish(),
    label: z.string().nullish(),
    type: z.string().nullish(),
    value_type: z.string().nullish(),
  })
  .refine((f) => (f.name ?? f.label) != null, { error: "expected name (or label)" })
  .refine((f) => (f.type ?? f.value_type) != null, { error: "expected type (or value_type)" })
  .transform(
    (f): RapidProContactField => ({
      key: f.key,
      name: (f.name ?? f.label)!,
      type: f.type ?? V7_VALUE_TYPES[f.value_type!] ?? f.value_type!,
    }),
  );

/** A page of a list endpoint: `{next, previous, results}` (cursor pagination). */
export const pageSchema = <T extends z.ZodType>(item: T) =>
  z.looseObject({
    next: z.string().nullish(),
    previous: z.string().nullish(),
    results: z.array(item),
  });

/** The API root `GET /api/v2.json`: endpoint name → URL. */
export const rootSchema = z.record(z.string(), z.unknown());
