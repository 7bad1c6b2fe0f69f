/**
 * Answers of RapidPro API v2 as each flavour serialises them (field sets of the read serializers of
 * `nyaruka/rapidpro` and `weni-ai/flows`, `temba/api/v2/serializers.py`), for the client tests.
 */

export const CONTACT_UUID = "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e4f";
export const FLOW_UUID = "f5901b62-ba76-4003-9c62-72fdacc1b7b7";

/** `GET /api/v2.json` of nyaruka ≥ 8.2: lists `media`. */
export const rootNyaruka = Object.fromEntries(
  [
    "archives",
    "broadcasts",
    "campaigns",
    "channels",
    "contacts",
    "fields",
    "flow_starts",
    "flows",
    "groups",
    "labels",
    "media",
    "messages",
    "runs",
    "tickets",
    "topics",
    "users",
    "workspace",
  ].map((name) => [name, `https://rapidpro.test/api/v2/${name}`]),
);

/** `GET /api/v2.json` of RapidPro 7.4 (no `media`, messages read-only). */
export const rootV7 = Object.fromEntries(
  [
    "archives",
    "boundaries",
    "broadcasts",
    "campaigns",
    "contacts",
    "fields",
    "flow_starts",
    "flows",
    "messages",
    "runs",
    "ticketers",
    "tickets",
    "workspace",
  ].map((name) => [name, `https://rapidpro.test/api/v2/${name}`]),
);

/** `GET /api/v2.json` of Weni's fork. */
export const rootWeni = {
  ...rootV7,
  whastapp_broadcasts: "https://rapidpro.test/api/v2/whatsapp_broadcasts",
  products: "https://rapidpro.test/api/v2/products",
  contacts_lean: "https://rapidpro.test/api/v2/contacts_lean",
};

export const messageV7 = {
  id: 4105426,
  broadcast: 2690007,
  contact: { uuid: CONTACT_UUID, name: "Child 17" },
  urn: "tel:+250788123123",
  channel: { uuid: "9a8b001e-a913-486c-80f4-1356e23f582e", name: "Vonage" },
  direction: "out",
  type: "inbox",
  status: "wired",
  archived: false,
  visibility: "visible",
  text: "Counselor: hello",
  labels: [{ name: "Important", uuid: "5a4eb79e-1b1f-4ae3-8700-09384cca385f" }],
  attachments: [{ content_type: "audio/wav", url: "http://domain.com/recording.wav" }],
  created_on: "2016-01-06T15:33:00.813162Z",
  sent_on: "2016-01-06T15:35:03.675716Z",
  modified_on: "2016-01-06T15:35:03.675716Z",
  media: "audio/wav:http://domain.com/recording.wav",
};

export const messageNyaruka = {
  uuid: "0199bb98-3637-778d-9dfc-0ab85c950d7c",
  contact: { uuid: CONTACT_UUID, name: "Child 17" },
  urn: "tel:+250788123123",
  channel: { uuid: "9a8b001e-a913-486c-80f4-1356e23f582e", name: "Vonage" },
  direction: "out",
  type: "text",
  status: "queued",
  archived: false,
  visibility: "visible",
  text: "Counselor: hello",
  labels: [],
  flow: null,
  attachments: [],
  quick_replies: [],
  created_on: "2025-10-08T15:33:00.813162Z",
  sent_on: null,
  modified_on: "2025-10-08T15:33:00.813162Z",
  media: null,
  id: 4105427,
  broadcast: null,
};

export const broadcastV7 = {
  id: 1234,
  urns: [],
  contacts: [{ uuid: CONTACT_UUID, name: "Child 17" }],
  groups: [],
  text: "Counselor: hello",
  status: "queued",
  created_on: "2013-03-02T17:28:12.123456Z",
};

export const broadcastNyaruka = {
  uuid: "0199bb98-3637-778d-9dfc-0ab85c950d7d",
  status: "pending",
  progress: { total: -1, started: 0 },
  urns: [],
  contacts: [{ uuid: CONTACT_UUID, name: "Child 17" }],
  groups: [],
  text: { eng: "Counselor: hello" },
  attachments: { eng: [] },
  quick_replies: { eng: [] },
  base_language: "eng",
  created_on: "2025-10-08T15:33:00.813162Z",
  id: 1235,
};

export const flowStartV7 = {
  id: 150051,
  uuid: "09d23a05-47fe-11e4-bfe9-b8f6b119e9ab",
  flow: { uuid: FLOW_UUID, name: "Back to bot" },
  groups: [],
  contacts: [{ uuid: CONTACT_UUID, name: "Child 17" }],
  restart_participants: true,
  exclude_active: false,
  status: "pending",
  extra: { conversation_id: "s1" },
  params: { conversation_id: "s1" },
  created_on: "2013-08-19T19:11:21.082Z",
  modified_on: "2013-08-19T19:11:21.082Z",
};

export const flowStartNyaruka = {
  uuid: "09d23a05-47fe-11e4-bfe9-b8f6b119e9ac",
  flow: { uuid: FLOW_UUID, name: "Back to bot" },
  status: "pending",
  progress: { total: -1, started: 0 },
  groups: [],
  contacts: [{ uuid: CONTACT_UUID, name: "Child 17" }],
  params: { conversation_id: "s1" },
  created_on: "2025-08-19T19:11:21.082Z",
  modified_on: "2025-08-19T19:11:21.082Z",
  id: 150052,
  extra: { conversation_id: "s1" },
  restart_participants: true,
  exclude_active: false,
};

export const contactV7 = {
  uuid: CONTACT_UUID,
  name: "Child 17",
  language: "eng",
  urns: ["tel:+250788123123"],
  groups: [{ name: "Escalated", uuid: "5a4eb79e-1b1f-4ae3-8700-09384cca385f" }],
  fields: { district: "Gasabo", age: 14 },
  blocked: false,
  stopped: false,
  created_on: "2015-11-11T13:05:57.457742Z",
  modified_on: "2020-08-11T13:05:57.576056Z",
  last_seen_on: "2020-07-11T13:05:57.576056Z",
};

export const contactNyaruka = {
  uuid: CONTACT_UUID,
  name: "Child 17",
  status: "stopped",
  language: "eng",
  urns: ["tel:+250788123123"],
  groups: [],
  notes: [],
  fields: { district: "Gasabo" },
  flow: { uuid: FLOW_UUID, name: "Back to bot" },
  created_on: "2015-11-11T13:05:57.457742Z",
  modified_on: "2020-08-11T13:05:57.576056Z",
  last_seen_on: null,
  blocked: false,
  stopped: true,
};

export const runV7 = {
  id: 12345678,
  uuid: "d0be0ba7-3d88-4f50-9d0d-0b9d5b6a6e62",
  flow: { uuid: FLOW_UUID, name: "Escalation" },
  contact: { uuid: CONTACT_UUID, name: "Child 17" },
  start: null,
  responded: true,
  path: [{ node: "27a86a1b-6cc4-4ae3-b73d-89650966a82f", time: "2015-11-11T13:05:50.457742Z" }],
  values: {
    risk: {
      value: "high",
      category: "High",
      node: "a4fc10b2-0580-4ef9-92f1-b6fa2c9cc59a",
      time: "2015-11-11T13:05:57.576056Z",
    },
  },
  created_on: "2015-11-11T13:05:57.457742Z",
  modified_on: "2015-11-11T13:05:57.576056Z",
  exited_on: null,
  exit_type: null,
};

export const runNyaruka = {
  uuid: "d0be0ba7-3d88-4f50-9d0d-0b9d5b6a6e63",
  flow: { uuid: FLOW_UUID, name: "Escalation" },
  contact: { uuid: CONTACT_UUID, name: "Child 17", urn: "tel:+250788123123", urn_display: "0788 123 123" },
  start: { uuid: "09d23a05-47fe-11e4-bfe9-b8f6b119e9ab" },
  responded: true,
  path: null,
  values: {
    risk: {
      name: "Risk",
      value: "high",
      category: "High",
      node: "a4fc10b2-0580-4ef9-92f1-b6fa2c9cc59a",
      time: "2025-11-11T13:05:57.576056Z",
    },
  },
  created_on: "2025-11-11T13:05:57.457742Z",
  modified_on: "2025-11-11T13:05:57.576056Z",
  exited_on: "2025-11-11T13:06:57.576056Z",
  exit_type: "completed",
  id: 12345679,
};

export const fieldV7 = { key: "district", label: "District", value_type: "district", pinned: false };
export const fieldV7Number = { key: "age", label: "Age", value_type: "numeric", pinned: false };
export const fieldNyaruka = {
  key: "age",
  name: "Age",
  type: "number",
  featured: false,
  priority: 0,
  usages: { flows: 1, groups: 0, campaign_events: 0 },
  agent_access: "view",
  label: "Age",
  value_type: "numeric",
};

export const flowV7 = {
  uuid: FLOW_UUID,
  name: "Escalation",
  type: "message",
  archived: false,
  labels: [],
  expires: 10080,
  runs: { active: 47, completed: 123, interrupted: 2, expired: 34 },
  results: [{ key: "risk", name: "Risk", categories: ["High", "Other"], node_uuids: ["a4fc10b2"] }],
  parent_refs: [],
  created_on: "2016-01-06T15:33:00.813162Z",
  modified_on: "2017-01-07T13:14:00.453567Z",
};

export const flowNyaruka = {
  uuid: "5f05311e-8f81-4a67-a5b5-1501b6d6496a",
  name: "Back to bot",
  type: "message",
  archived: false,
  labels: [{ uuid: "5a4eb79e-1b1f-4ae3-8700-09384cca385f", name: "Helpline" }],
  expires: 600,
  runs: { active: 0, waiting: 3, completed: 10, interrupted: 1, expired: 0, failed: null },
  results: [],
  parent_refs: [],
  created_on: "2025-01-06T15:33:00.813162Z",
  modified_on: "2025-01-07T13:14:00.453567Z",
};
