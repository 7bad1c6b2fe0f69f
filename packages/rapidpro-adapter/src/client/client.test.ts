import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { RapidProError } from "../errors";
import {
  broadcastNyaruka,
  broadcastV7,
  CONTACT_UUID,
  contactNyaruka,
  contactV7,
  FLOW_UUID,
  fieldNyaruka,
  fieldV7,
  fieldV7Number,
  flowNyaruka,
  flowStartNyaruka,
  flowStartV7,
  flowV7,
  messageNyaruka,
  messageV7,
  rootNyaruka,
  rootV7,
  rootWeni,
  runNyaruka,
  runV7,
} from "./__fixtures__/api";
import { createRapidProClient, type RapidProClientOptions } from "./client";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: "error" }));
afterEach(() => {
  server.resetHandlers();
  vi.useRealTimers();
});
afterAll(() => server.close());

const BASE = "https://rapidpro.test/api/v2/";
const ROOT = "https://rapidpro.test/api/v2.json";
const TOKEN = "0123456789abcdef0123456789abcdef01234567";

const make = (extra: Partial<RapidProClientOptions> = {}) =>
  createRapidProClient({
    baseUrl: BASE,
    token: TOKEN,
    retry: { minDelayMs: 1, maxDelayMs: 5, jitter: false },
    ...extra,
  });

async function caught(promise: Promise<unknown>): Promise<RapidProError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RapidProError);
  return error as RapidProError;
}

/** Every item of an async iterable (`Array.fromAsync` is not in the ES2023 lib). */
async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Records every request msw sees (method, path + query, headers, JSON body). */
function recorder() {
  const calls: { method: string; url: URL; headers: Headers; body: unknown }[] = [];
  server.events.on("request:start", async ({ request }) => {
    const body =
      request.method === "GET"
        ? undefined
        : await request
            .clone()
            .json()
            .catch(() => undefined);
    calls.push({ method: request.method, url: new URL(request.url), headers: request.headers, body });
  });
  return calls;
}
afterEach(() => server.events.removeAllListeners());

/**
 * Lets real I/O (msw answering over the intercepted fetch) run while timers are fake: waits until
 * `ready()` holds, then a few more event-loop turns so the answer is processed.
 */
async function settle(ready: () => boolean = () => true): Promise<void> {
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  for (let i = 0; i < 500 && !ready(); i++) await turn();
  for (let i = 0; i < 20; i++) await turn();
}

describe("flow starts", () => {
  it("posts flow, targets and params with Authorization: Token, and reads a v7 answer", async () => {
    const calls = recorder();
    server.use(http.post(`${BASE}flow_starts.json`, () => HttpResponse.json(flowStartV7, { status: 201 })));
    const start = await make().flowStarts.create({
      flow: FLOW_UUID,
      contacts: [CONTACT_UUID],
      params: { conversation_id: "s1", closed_by: "helpline", reason: "" },
    });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers.get("authorization")).toBe(`Token ${TOKEN}`);
    expect(calls[0]!.body).toEqual({
      flow: FLOW_UUID,
      contacts: [CONTACT_UUID],
      params: { conversation_id: "s1", closed_by: "helpline", reason: "" },
    });
    expect(start).toMatchObject({
      key: flowStartV7.uuid,
      id: 150051,
      uuid: flowStartV7.uuid,
      status: "pending",
      flow: { uuid: FLOW_UUID, name: "Back to bot" },
      params: { conversation_id: "s1" },
    });
  });

  it("reads a nyaruka answer (uuid, params)", async () => {
    server.use(http.post(`${BASE}flow_starts.json`, () => HttpResponse.json(flowStartNyaruka, { status: 201 })));
    const start = await make().flowStarts.create({ flow: FLOW_UUID, urns: ["tel:+250788123123"] });
    expect(start).toMatchObject({ key: flowStartNyaruka.uuid, uuid: flowStartNyaruka.uuid, status: "pending" });
  });

  it.each([
    ["no target at all", { flow: FLOW_UUID }, "contacts"],
    ["empty targets", { flow: FLOW_UUID, contacts: [], groups: [], urns: [] }, "contacts"],
    ["101 contacts", { flow: FLOW_UUID, contacts: Array.from({ length: 101 }, (_, i) => `c${i}`) }, "contacts"],
    ["101 groups", { flow: FLOW_UUID, groups: Array.from({ length: 101 }, (_, i) => `g${i}`) }, "groups"],
    ["101 urns", { flow: FLOW_UUID, urns: Array.from({ length: 101 }, (_, i) => `tel:+1${i}`) }, "urns"],
    ["no flow", { flow: "", contacts: [CONTACT_UUID] }, "flow"],
    ["params over 10000 characters", { flow: FLOW_UUID, contacts: ["c"], params: { x: "y".repeat(10_000) } }, "params"],
    ["params not an object", { flow: FLOW_UUID, contacts: ["c"], params: ["x"] }, "params"],
  ])("refuses %s before sending anything", async (_name, input, field) => {
    const calls = recorder();
    const error = await caught(make().flowStarts.create(input as never));
    expect([error.code, error.field, error.status]).toEqual(["validation", field, undefined]);
    expect(error.retriable).toBe(false);
    expect(calls).toHaveLength(0);
  });

  it("accepts exactly 100 of each target", async () => {
    server.use(http.post(`${BASE}flow_starts.json`, () => HttpResponse.json(flowStartNyaruka, { status: 201 })));
    const hundred = Array.from({ length: 100 }, (_, i) => `c${i}`);
    await expect(
      make().flowStarts.create({ flow: FLOW_UUID, contacts: hundred, groups: hundred, urns: hundred }),
    ).resolves.toBeDefined();
  });
});

describe("flavours and sendText", () => {
  it("sends through messages.json on nyaruka (detected from api/v2.json once, cached)", async () => {
    const calls = recorder();
    server.use(
      http.get(ROOT, () => HttpResponse.json(rootNyaruka)),
      http.post(`${BASE}messages.json`, () => HttpResponse.json(messageNyaruka, { status: 201 })),
    );
    const client = make();
    const results = await Promise.all([
      client.sendText(CONTACT_UUID, "Counselor: hello"),
      client.sendText(CONTACT_UUID, "Counselor: again"),
    ]);
    await client.sendText(CONTACT_UUID, "Counselor: third");
    expect(results[0]).toMatchObject({ via: "messages", key: messageNyaruka.uuid });
    expect(calls.filter((c) => c.url.pathname === "/api/v2.json")).toHaveLength(1);
    expect(calls.filter((c) => c.url.pathname.endsWith("messages.json")).map((c) => c.body)).toEqual([
      { contact: CONTACT_UUID, text: "Counselor: hello" },
      { contact: CONTACT_UUID, text: "Counselor: again" },
      { contact: CONTACT_UUID, text: "Counselor: third" },
    ]);
    expect(await client.flavour()).toBe("nyaruka");
  });

  it.each([
    ["v7", rootV7],
    ["weni", rootWeni],
  ] as const)("sends through broadcasts.json on %s, with the ticket", async (flavour, root) => {
    const calls = recorder();
    server.use(
      http.get(ROOT, () => HttpResponse.json(root)),
      http.post(`${BASE}broadcasts.json`, () => HttpResponse.json(broadcastV7, { status: 201 })),
    );
    const client = make();
    const result = await client.sendText(CONTACT_UUID, "Counselor: hello", { ticket: "tk-1" });
    expect(await client.flavour()).toBe(flavour);
    expect(result).toMatchObject({ via: "broadcasts", key: "1234", broadcast: { id: 1234, uuid: undefined } });
    expect(calls.at(-1)!.body).toEqual({ contacts: [CONTACT_UUID], text: "Counselor: hello", ticket: "tk-1" });
  });

  it("skips detection when the flavour is configured", async () => {
    const calls = recorder();
    server.use(http.post(`${BASE}broadcasts.json`, () => HttpResponse.json(broadcastV7, { status: 201 })));
    await make({ flavour: "weni" }).sendText(CONTACT_UUID, "hi");
    expect(calls.map((c) => c.url.pathname)).toEqual(["/api/v2/broadcasts.json"]);
  });

  it("addresses a URN or a phone number as urns, a UUID (any case) as contacts, on every flavour", async () => {
    const calls = recorder();
    server.use(
      http.post(`${BASE}messages.json`, () => HttpResponse.json(messageNyaruka, { status: 201 })),
      http.post(`${BASE}broadcasts.json`, () => HttpResponse.json(broadcastV7, { status: 201 })),
    );
    const nyaruka = make({ flavour: "nyaruka" });
    const weni = make({ flavour: "weni" });
    // messages.json takes a contact uuid only: a URN goes as a broadcast, even on nyaruka.
    expect((await nyaruka.sendText("whatsapp:254700000001", "a")).via).toBe("broadcasts");
    expect((await nyaruka.sendText(CONTACT_UUID.toUpperCase(), "b")).via).toBe("messages");
    await weni.sendText("tel:+254 700 000 001", "c", { ticket: "tk-1" });
    await weni.sendText("23343411", "d");
    await weni.sendText(CONTACT_UUID.toUpperCase(), "e");
    expect(calls.map((c) => [c.url.pathname, c.body])).toEqual([
      ["/api/v2/broadcasts.json", { urns: ["whatsapp:254700000001"], text: "a" }],
      ["/api/v2/messages.json", { contact: CONTACT_UUID, text: "b" }],
      ["/api/v2/broadcasts.json", { urns: ["tel:+254700000001"], text: "c", ticket: "tk-1" }],
      ["/api/v2/broadcasts.json", { urns: ["tel:+23343411"], text: "d" }],
      ["/api/v2/broadcasts.json", { contacts: [CONTACT_UUID], text: "e" }],
    ]);
  });

  it("refuses an address it cannot read, and attachments a broadcast would drop, sending nothing", async () => {
    const calls = recorder();
    const nyaruka = make({ flavour: "nyaruka" });
    const bad = await caught(nyaruka.sendText("contact-1", "hi"));
    expect([bad.code, bad.field, bad.message.includes("contact-1")]).toEqual(["validation", "contact", false]);
    const media = await caught(
      nyaruka.sendText("whatsapp:254700000001", "hi", { attachments: ["image/jpeg:https://x/a"] }),
    );
    expect([media.code, media.field]).toEqual(["validation", "attachments"]);
    expect(calls).toEqual([]);
  });

  it("detects again after a retriable failure, but settles on broadcasts when the root is unreadable", async () => {
    let rootCalls = 0;
    server.use(
      http.get(ROOT, () => {
        rootCalls++;
        return rootCalls === 1 ? new HttpResponse(null, { status: 503 }) : new HttpResponse(null, { status: 404 });
      }),
    );
    const client = make({ retry: false });
    expect((await caught(client.flavour())).code).toBe("unavailable");
    expect(await client.flavour()).toBe("v7");
    expect(await client.flavour()).toBe("v7");
    expect(rootCalls).toBe(2);
  });

  it("refuses messages.send on a v7 server and ticket on a nyaruka one, sending nothing", async () => {
    const calls = recorder();
    const v7 = make({ flavour: "v7" });
    const error = await caught(v7.messages.send({ contact: CONTACT_UUID, text: "hi" }));
    expect(error.code).toBe("validation");
    expect(error.message).toMatch(/8\.2/);
    const nyaruka = make({ flavour: "nyaruka" });
    expect((await caught(nyaruka.broadcasts.create({ contacts: ["c"], text: "x", ticket: "t" }))).field).toBe("ticket");
    expect((await caught(nyaruka.messages.send({ contact: CONTACT_UUID }))).field).toBe("text");
    const eleven = Array.from({ length: 11 }, (_, i) => `m${i}`);
    expect((await caught(nyaruka.messages.send({ contact: CONTACT_UUID, attachments: eleven }))).field).toBe(
      "attachments",
    );
    expect(calls).toHaveLength(0);
  });

  it("broadcast limits follow the flavour: 100 recipients, 1000 on Weni", async () => {
    const calls = recorder();
    server.use(http.post(`${BASE}broadcasts.json`, () => HttpResponse.json(broadcastV7, { status: 201 })));
    const many = Array.from({ length: 101 }, (_, i) => `c${i}`);
    expect((await caught(make({ flavour: "v7" }).broadcasts.create({ contacts: many, text: "x" }))).field).toBe(
      "contacts",
    );
    expect(calls).toHaveLength(0);
    await make({ flavour: "weni" }).broadcasts.create({ contacts: many, text: "x" });
    expect(calls).toHaveLength(1);
  });

  it("sends translations and reads a nyaruka broadcast; refuses bad translations", async () => {
    const calls = recorder();
    server.use(http.post(`${BASE}broadcasts.json`, () => HttpResponse.json(broadcastNyaruka, { status: 201 })));
    const client = make({ flavour: "nyaruka" });
    const broadcast = await client.broadcasts.create({ groups: ["Escalated"], text: { eng: "hello", swa: "habari" } });
    expect(calls[0]!.body).toEqual({ groups: ["Escalated"], text: { eng: "hello", swa: "habari" } });
    expect(broadcast).toMatchObject({ key: broadcastNyaruka.uuid, id: 1235, text: { eng: "Counselor: hello" } });
    expect((await caught(client.broadcasts.create({ contacts: ["c"], text: { english: "x" } }))).field).toBe("text");
    expect((await caught(client.broadcasts.create({ contacts: ["c"], text: "" }))).field).toBe("text");
  });
});

describe("reads in both flavours", () => {
  it("contacts.get by uuid or urn, normalising v7 blocked/stopped and nyaruka status", async () => {
    const calls = recorder();
    server.use(
      http.get(`${BASE}contacts.json`, ({ request }) => {
        const url = new URL(request.url);
        if (url.searchParams.get("urn") === "tel:+250788123123") {
          return HttpResponse.json({ next: null, previous: null, results: [contactV7] });
        }
        if (url.searchParams.get("uuid") === CONTACT_UUID) {
          return HttpResponse.json({ next: null, previous: null, results: [contactNyaruka] });
        }
        return HttpResponse.json({ next: null, previous: null, results: [] });
      }),
    );
    const client = make();
    const v7 = await client.contacts.get({ urn: "tel:+250788123123" });
    expect(v7).toMatchObject({ uuid: CONTACT_UUID, status: "active", urns: ["tel:+250788123123"], flow: null });
    expect(v7!.fields).toEqual({ district: "Gasabo", age: 14 });
    const nyaruka = await client.contacts.get({ uuid: CONTACT_UUID });
    expect(nyaruka).toMatchObject({ status: "stopped", flow: { uuid: FLOW_UUID }, last_seen_on: null });
    expect(await client.contacts.get({ uuid: "nobody" })).toBeUndefined();
    expect(calls.map((c) => c.url.search)).toEqual([
      "?urn=tel%3A%2B250788123123",
      `?uuid=${CONTACT_UUID}`,
      "?uuid=nobody",
    ]);
    await expect(client.contacts.get({} as never)).rejects.toMatchObject({ code: "validation" });
  });

  it("contacts.upsert posts to ?urn= (retried: it is idempotent) and refuses urns with a URN lookup", async () => {
    let calls = 0;
    server.use(
      http.post(`${BASE}contacts.json`, async ({ request }) => {
        calls++;
        if (calls === 1) return new HttpResponse(null, { status: 502 });
        expect(new URL(request.url).searchParams.get("urn")).toBe("tel:+250788123123");
        expect(await request.json()).toEqual({ name: "Child 17", fields: { district: "Gasabo" } });
        return HttpResponse.json(contactV7);
      }),
    );
    const client = make();
    const contact = await client.contacts.upsert(
      { urn: "tel:+250788123123" },
      { name: "Child 17", fields: { district: "Gasabo" } },
    );
    expect(contact.uuid).toBe(CONTACT_UUID);
    expect(calls).toBe(2);
    const error = await caught(client.contacts.upsert({ urn: "tel:+1" }, { urns: ["tel:+2"] }));
    expect([error.code, error.field]).toEqual(["validation", "urns"]);
  });

  it("messages, runs, fields and flows normalise v7 and nyaruka shapes alike", async () => {
    server.use(
      http.get(`${BASE}messages.json`, () =>
        HttpResponse.json({ next: null, previous: null, results: [messageNyaruka, messageV7] }),
      ),
      http.get(`${BASE}runs.json`, () =>
        HttpResponse.json({ next: null, previous: null, results: [runNyaruka, runV7] }),
      ),
      http.get(`${BASE}fields.json`, () =>
        HttpResponse.json({ next: null, previous: null, results: [fieldNyaruka, fieldV7, fieldV7Number] }),
      ),
      http.get(`${BASE}flows.json`, () =>
        HttpResponse.json({ next: null, previous: null, results: [flowV7, flowNyaruka] }),
      ),
    );
    const client = make();
    const messages = await collect(client.messages.list({ contact: CONTACT_UUID }));
    expect(messages.map((m) => [m.key, m.id, m.uuid])).toEqual([
      [messageNyaruka.uuid, 4105427, messageNyaruka.uuid],
      ["4105426", 4105426, undefined],
    ]);
    expect(messages[1]).toMatchObject({
      direction: "out",
      broadcast: 2690007,
      attachments: [{ content_type: "audio/wav", url: "http://domain.com/recording.wav" }],
    });
    const runs = await collect(client.runs.list({ flow: FLOW_UUID }));
    expect(runs.map((r) => [r.key, r.id, r.exit_type, r.contact.urn])).toEqual([
      [runNyaruka.uuid, 12345679, "completed", "tel:+250788123123"],
      [runV7.uuid, 12345678, null, null],
    ]);
    expect(runs[1]!.values.risk).toMatchObject({ name: null, value: "high", category: "High" });
    const fields = await collect(client.fields.list());
    expect(fields).toEqual([
      { key: "age", name: "Age", type: "number" },
      { key: "district", name: "District", type: "district" },
      { key: "age", name: "Age", type: "number" },
    ]);
    const flows = await collect(client.flows.list());
    expect(flows[0]).toMatchObject({ uuid: FLOW_UUID, runs: { active: 47 }, results: [{ key: "risk" }] });
    expect(flows[1]).toMatchObject({ name: "Back to bot", labels: [{ name: "Helpline" }], expires: 600, results: [] });
    expect(flows[1]!.runs).toEqual({ active: 0, waiting: 3, completed: 10, interrupted: 1, expired: 0 });
  });

  it("reports an answer of the wrong shape as invalid_response, naming what was expected", async () => {
    server.use(
      http.get(`${BASE}messages.json`, () =>
        HttpResponse.json({ next: null, results: [{ ...messageV7, id: undefined }] }),
      ),
    );
    const error = await caught(collect(make().messages.list()));
    expect(error.code).toBe("invalid_response");
    expect(error.message).toMatch(/id or a uuid/);
    expect(error.message).not.toContain("Counselor: hello");
  });
});

describe("cursor paging", () => {
  const page = (n: number, next: string | null) => ({
    next,
    previous: null,
    results: [
      { ...messageV7, id: n * 10 + 1 },
      { ...messageV7, id: n * 10 + 2 },
    ],
  });

  it("follows next over 3 pages as the iteration goes, keeping the filters", async () => {
    const cursors: (string | null)[] = [];
    server.use(
      http.get(`${BASE}messages.json`, ({ request }) => {
        const url = new URL(request.url);
        const cursor = url.searchParams.get("cursor");
        cursors.push(cursor);
        if (cursor === null)
          return HttpResponse.json(page(1, `${BASE}messages.json?contact=${CONTACT_UUID}&cursor=p2`));
        if (cursor === "p2")
          return HttpResponse.json(page(2, `${BASE}messages.json?contact=${CONTACT_UUID}&cursor=p3`));
        if (cursor === "p3") return HttpResponse.json(page(3, null));
        return new HttpResponse(null, { status: 404 });
      }),
    );
    const list = make().messages.list({ contact: CONTACT_UUID });
    const iterator = list[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ id: 11 });
    expect(cursors).toEqual([null]);
    const rest: number[] = [];
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value.id!);
    expect(rest).toEqual([12, 21, 22, 31, 32]);
    expect(cursors).toEqual([null, "p2", "p3"]);
    const pages = await collect(make().messages.list({ contact: CONTACT_UUID }).pages());
    expect(pages.map((p) => p.length)).toEqual([2, 2, 2]);
  });

  it("never follows next to another host: the cursor is read, the request goes to the base URL", async () => {
    const hosts: string[] = [];
    server.use(
      http.get("https://*/api/v2/contacts.json", ({ request }) => {
        const url = new URL(request.url);
        hosts.push(`${url.protocol}//${url.host} ${request.headers.get("authorization") ? "token" : "none"}`);
        return url.searchParams.get("cursor")
          ? HttpResponse.json({ next: null, results: [] })
          : HttpResponse.json({ next: "http://evil.test/api/v2/contacts.json?cursor=x", results: [contactV7] });
      }),
    );
    const contacts = await collect(make().contacts.list());
    expect(contacts).toHaveLength(1);
    expect(hosts).toEqual(["https://rapidpro.test token", "https://rapidpro.test token"]);
  });

  it("stops with invalid_response on a next that loops or points at another endpoint", async () => {
    server.use(
      http.get(`${BASE}flows.json`, () => HttpResponse.json({ next: `${BASE}flows.json?cursor=same`, results: [] })),
      http.get(`${BASE}runs.json`, () => HttpResponse.json({ next: `${BASE}contacts.json?cursor=a`, results: [] })),
    );
    expect((await caught(collect(make().flows.list()))).code).toBe("invalid_response");
    expect((await caught(collect(make().runs.list()))).code).toBe("invalid_response");
  });
});

describe("rate limits and retries", () => {
  it("waits Retry-After on a 429 to a write without key, then sends it again (fake timers)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let calls = 0;
    server.use(
      http.post(`${BASE}flow_starts.json`, () =>
        ++calls === 1
          ? HttpResponse.json({ detail: "Request was throttled." }, { status: 429, headers: { "Retry-After": "30" } })
          : HttpResponse.json(flowStartNyaruka, { status: 201 }),
      ),
    );
    const promise = make().flowStarts.create({ flow: FLOW_UUID, contacts: [CONTACT_UUID] });
    await settle(() => calls === 1);
    await vi.advanceTimersByTimeAsync(29_900);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(200);
    await expect(promise).resolves.toMatchObject({ key: flowStartNyaruka.uuid });
    expect(calls).toBe(2);
  });

  it("waits Retry-After on a 429 to a GET (fake timers)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let calls = 0;
    server.use(
      http.get(`${BASE}flows.json`, () =>
        ++calls === 1
          ? new HttpResponse(null, { status: 429, headers: { "Retry-After": "20" } })
          : HttpResponse.json({ next: null, results: [flowV7] }),
      ),
    );
    const promise = collect(make().flows.list());
    await settle(() => calls === 1);
    await vi.advanceTimersByTimeAsync(19_000);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1_500);
    await expect(promise).resolves.toHaveLength(1);
    expect(calls).toBe(2);
  });

  it("does not wait for a Retry-After over maxRetryAfterMs: rate_limited with retryAfterMs", async () => {
    let calls = 0;
    server.use(
      http.post(`${BASE}broadcasts.json`, () => {
        calls++;
        return new HttpResponse(null, { status: 429, headers: { "Retry-After": "3600" } });
      }),
    );
    const error = await caught(
      make({ flavour: "v7", retry: { maxRetryAfterMs: 60_000 } }).broadcasts.create({ contacts: ["c"], text: "x" }),
    );
    expect([error.code, error.retryAfterMs, error.retriable, calls]).toEqual(["rate_limited", 3_600_000, true, 1]);
  });

  it("an abort during a Retry-After wait ends the call at once with code aborted", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let calls = 0;
    server.use(
      http.post(`${BASE}flow_starts.json`, () => {
        calls++;
        return new HttpResponse(null, { status: 429, headers: { "Retry-After": "50" } });
      }),
      http.get(`${BASE}runs.json`, () => {
        calls++;
        return new HttpResponse(null, { status: 429, headers: { "Retry-After": "50" } });
      }),
    );
    const controller = new AbortController();
    const write = make()
      .flowStarts.create({ flow: FLOW_UUID, contacts: ["c"] }, { signal: controller.signal })
      .catch((e: unknown) => e);
    const read = collect(make().runs.list({}, { signal: controller.signal })).catch((e: unknown) => e);
    await settle(() => calls === 2);
    await vi.advanceTimersByTimeAsync(1_000);
    controller.abort();
    const [writeError, readError] = (await Promise.all([write, read])) as RapidProError[];
    expect(writeError).toBeInstanceOf(RapidProError);
    expect(writeError!.code).toBe("aborted");
    expect(readError).toBeInstanceOf(RapidProError);
    expect(readError!.code).toBe("aborted");
    expect(calls).toBe(2);
  });

  it("never retries a 400, even with an idempotency key, and reads DRF field errors", async () => {
    const bodies = [
      [{ contacts: ["No such object: 123"] }, "contacts", "No such object"],
      [{ urns: { "0": ["Invalid URN: tel:xyz"] } }, "urns[0]", "Invalid URN"],
      [{ non_field_errors: ["Must specify at least one group, contact or URN"] }, undefined, "at least one"],
      [{ detail: "Not found." }, undefined, "Not found"],
    ] as const;
    for (const [body, field, text] of bodies) {
      let calls = 0;
      server.use(
        http.post(`${BASE}flow_starts.json`, () => {
          calls++;
          return HttpResponse.json(body, { status: 400 });
        }),
      );
      const error = await caught(
        make().flowStarts.create({ flow: FLOW_UUID, contacts: ["c"] }, { idempotencyKey: "close-s1" }),
      );
      expect([error.code, error.status, error.field, error.retriable, calls]).toEqual([
        "validation",
        400,
        field,
        false,
        1,
      ]);
      expect(error.message).toContain(text);
    }
  });

  it("sends a write without key once on a 5xx, retries it with a key, and retries GETs", async () => {
    const calls = recorder();
    server.use(
      http.post(`${BASE}flow_starts.json`, () => new HttpResponse(null, { status: 503 })),
      http.get(`${BASE}flows.json`, () => new HttpResponse(null, { status: 502 })),
    );
    const client = make();
    expect((await caught(client.flowStarts.create({ flow: FLOW_UUID, contacts: ["c"] }))).code).toBe("unavailable");
    expect(calls).toHaveLength(1);
    await caught(client.flowStarts.create({ flow: FLOW_UUID, contacts: ["c"] }, { idempotencyKey: "k1" }));
    expect(calls).toHaveLength(4);
    expect(calls[1]!.headers.get("idempotency-key")).toBe("k1");
    await caught(collect(client.flows.list()));
    expect(calls).toHaveLength(7);
  });

  it("maps network failures to retriable network errors", async () => {
    server.use(http.get(`${BASE}flows.json`, () => HttpResponse.error()));
    const error = await caught(collect(make({ retry: false }).flows.list()));
    expect([error.code, error.retriable]).toEqual(["network", true]);
  });
});

describe("secrets", () => {
  it("redacts the token in errors: request headers, message, JSON, string, stack", async () => {
    server.use(http.get(`${BASE}flows.json`, () => HttpResponse.json({ detail: "Invalid token." }, { status: 401 })));
    const error = await caught(collect(make().flows.list()));
    expect(error.code).toBe("auth");
    expect(error.service).toBe("rapidpro");
    expect(error.request?.headers.authorization).toBe("Token [REDACTED]");
    expect(`${error.message} ${JSON.stringify(error)} ${String(error)} ${error.stack}`).not.toContain(TOKEN);
  });

  it("refuses bad configuration at construction, naming the option", () => {
    expect(() => createRapidProClient({ baseUrl: BASE, token: "" })).toThrow(/`token`/);
    expect(() => createRapidProClient({ baseUrl: "rapidpro.test", token: TOKEN })).toThrow(/`baseUrl`/);
    expect(() => createRapidProClient({ baseUrl: "http://rapidpro.test/api/v2/", token: TOKEN })).toThrow(/https/);
    expect(() => createRapidProClient({ baseUrl: BASE, token: TOKEN, flavour: "v9" as never })).toThrow(/flavour/);
    expect(
      createRapidProClient({ baseUrl: "http://sandbox:8000/api/v2", token: `Token ${TOKEN}`, allowHttp: true }).baseUrl,
    ).toBe("http://sandbox:8000/api/v2/");
  });
});
