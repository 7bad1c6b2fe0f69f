import { manualClock } from "@openchs-bridge/core";
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  bearerOf,
  FAST_RETRY,
  HELPLINE,
  HELPLINE_PASSWORD,
  HELPLINE_USER,
  helplineLogin,
} from "../__fixtures__/servers";
import { OpenChsCaseError, OpenChsError } from "../errors";
import { createOpenChsHelplineClient, type OpenChsHelplineClientOptions } from "./client";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

let state: { logins: number; sessions: string[] };
beforeEach(() => {
  state = { logins: 0, sessions: [] };
});

const make = (extra: Partial<OpenChsHelplineClientOptions> = {}) =>
  createOpenChsHelplineClient({
    baseUrl: HELPLINE,
    username: HELPLINE_USER,
    password: HELPLINE_PASSWORD,
    retry: FAST_RETRY,
    ...extra,
  });

/** A `msg/` endpoint that records bodies and requires a session issued by the fake login. */
function msgEndpoint(bodies: Record<string, unknown>[] = []) {
  return http.post(`${HELPLINE}msg/`, async ({ request }) => {
    const session = bearerOf(request);
    if (!session || !state.sessions.includes(session)) {
      return HttpResponse.json({ errors: [["error", "Authentication Required"]] }, { status: 401 });
    }
    bodies.push((await request.json()) as Record<string, unknown>);
    return HttpResponse.json({ messages: [[String(100 + bodies.length), "1680783378"]] }, { status: 201 });
  });
}

async function failure(promise: Promise<unknown>): Promise<OpenChsError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenChsError);
  return err as OpenChsError;
}

describe("helpline client: login and session", () => {
  it("logs in with HTTP Basic at the API root, then sends Authorization: Bearer <session>", async () => {
    let loginMethod = "";
    let loginPath = "";
    let seenAuth: string | null = null;
    server.use(
      http.post(HELPLINE, ({ request }) => {
        loginMethod = request.method;
        loginPath = new URL(request.url).pathname;
        state.logins++;
        expect(request.headers.get("authorization")).toMatch(/^Basic /);
        const decoded = atob(request.headers.get("authorization")!.slice(6));
        expect(decoded).toBe(`${HELPLINE_USER}:${HELPLINE_PASSWORD}`);
        state.sessions.push("s-1");
        return HttpResponse.json({ ss: [["s-1", "7", "u", "2", "99"]] });
      }),
      http.post(`${HELPLINE}msg/`, ({ request }) => {
        seenAuth = request.headers.get("authorization");
        return HttpResponse.json({ messages: [["55"]] }, { status: 201 });
      }),
    );
    const result = await make().sendMessage({ session_id: "c1", message_id: "m1", from: "contact-1", message: "hi" });
    expect(loginMethod).toBe("POST");
    expect(loginPath).toBe("/helpline/api/");
    expect(seenAuth).toBe("Bearer s-1");
    expect(result).toEqual({ status: 201, id: "55" });
  });

  it("reuses one session across calls (never a login per message)", async () => {
    server.use(helplineLogin(state), msgEndpoint());
    const client = make();
    for (let i = 0; i < 5; i++) {
      await client.sendMessage({ session_id: "c1", message_id: `m${i}`, from: "x", message: "hi" });
    }
    expect(state.logins).toBe(1);
  });

  it("100 concurrent sendMessage calls share exactly one login", async () => {
    const bodies: Record<string, unknown>[] = [];
    server.use(helplineLogin(state, { delayMs: 20 }), msgEndpoint(bodies));
    const client = make();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        client.sendMessage({ session_id: "c1", message_id: `m${i}`, from: "x", message: `t${i}` }),
      ),
    );
    expect(state.logins).toBe(1);
    expect(results).toHaveLength(100);
    expect(new Set(bodies.map((b) => b.message_id)).size).toBe(100);
  });

  it("on 401 logs in again once and retries once", async () => {
    server.use(helplineLogin(state), msgEndpoint());
    const client = make();
    await client.sendMessage({ session_id: "c1", message_id: "m1", from: "x", message: "a" });
    state.sessions.length = 0; // the helpline forgot every session (restart, idle expiry)
    const result = await client.sendMessage({ session_id: "c1", message_id: "m2", from: "x", message: "b" });
    expect(result.status).toBe(201);
    expect(state.logins).toBe(2);
  });

  it("a second 401 after the re-login is an auth error (not retried further)", async () => {
    let calls = 0;
    server.use(
      helplineLogin(state),
      http.post(`${HELPLINE}msg/`, () => {
        calls++;
        return HttpResponse.json({ errors: [["error", "Authentication Required"]] }, { status: 401 });
      }),
    );
    const err = await failure(make().sendMessage({ session_id: "c1", message_id: "m1", from: "x", message: "a" }));
    expect(err.code).toBe("auth");
    expect(err.status).toBe(401);
    expect(err.retriable).toBe(false);
    expect(err.service).toBe("openchs-helpline");
    expect(err.message).toContain("Authentication Required");
    expect(calls).toBe(2);
    expect(state.logins).toBe(2);
  });

  it("a refused login (412) is an auth error at once, shared by all waiting callers, and not retried in a loop", async () => {
    let msgCalls = 0;
    server.use(
      helplineLogin(state, { delayMs: 10 }),
      http.post(`${HELPLINE}msg/`, () => {
        msgCalls++;
        return HttpResponse.json({}, { status: 201 });
      }),
    );
    const client = make({ password: "wrong-password" });
    const errors = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        failure(client.sendMessage({ session_id: "c1", message_id: `m${i}`, from: "x", message: "a" })),
      ),
    );
    expect(errors.every((e) => e.code === "auth" && e.status === 412)).toBe(true);
    expect(errors[0]!.message).toContain("Invalid login");
    expect(state.logins).toBe(1);
    expect(msgCalls).toBe(0);
    // The next call may try again (e.g. after the password was fixed on the server).
    await failure(client.sendMessage({ session_id: "c1", message_id: "m-next", from: "x", message: "a" }));
    expect(state.logins).toBe(2);
  });

  it("a login answered 401 is an auth error too", async () => {
    server.use(
      http.post(HELPLINE, () => {
        state.logins++;
        return HttpResponse.json({ errors: [["error", "Authentication Required"]] }, { status: 401 });
      }),
    );
    const err = await failure(make().sendMessage({ session_id: "c1", message_id: "m1", from: "x", message: "a" }));
    expect(err.code).toBe("auth");
    expect(state.logins).toBe(1);
  });

  it("a login answer without ss[0][0] is invalid_response naming what was expected", async () => {
    server.use(http.post(HELPLINE, () => HttpResponse.json({ auth: [] })));
    const err = await failure(make().sendMessage({ session_id: "c1", message_id: "m1", from: "x", message: "a" }));
    expect(err.code).toBe("invalid_response");
    expect(err.message).toMatch(/at ss/);
  });

  it("renews the session ahead of its sliding expiry, and each success slides it", async () => {
    const clock = manualClock(0);
    server.use(helplineLogin(state), msgEndpoint());
    const client = make({ clock, sessionTtlMs: 10_000, refreshMarginMs: 1_000 });
    const send = (id: string) => client.sendMessage({ session_id: "c1", message_id: id, from: "x", message: "a" });
    await send("m1");
    clock.advance(8_500); // used at 0: valid until 10 000, renew from 9 000
    await send("m2");
    expect(state.logins).toBe(1);
    clock.advance(8_500); // used at 8 500: valid until 18 500; now 17 000 < 17 500
    await send("m3");
    expect(state.logins).toBe(1);
    clock.advance(9_200); // used at 17 000: renew from 26 000; now 26 200
    await send("m4");
    expect(state.logins).toBe(2);
  });

  it("by default the session slides for 10 h and is renewed 5 min ahead", async () => {
    const clock = manualClock(0);
    server.use(helplineLogin(state), msgEndpoint());
    const client = make({ clock });
    const send = (id: string) => client.sendMessage({ session_id: "c1", message_id: id, from: "x", message: "a" });
    await send("m1");
    clock.advance((9 * 60 + 54) * 60_000);
    await send("m2");
    expect(state.logins).toBe(1);
    clock.advance((9 * 60 + 56) * 60_000);
    await send("m3");
    expect(state.logins).toBe(2);
  });

  it("a caller whose signal fires while it waits for the shared login gives up alone", async () => {
    server.use(helplineLogin(state, { delayMs: 50 }), msgEndpoint());
    const client = make();
    const controller = new AbortController();
    const first = client
      .sendMessage({ session_id: "c1", message_id: "m1", from: "x", message: "a" }, { signal: controller.signal })
      .catch((e: unknown) => e);
    const second = client.sendMessage({ session_id: "c1", message_id: "m2", from: "x", message: "b" });
    setTimeout(() => controller.abort(), 10);
    const err = (await first) as OpenChsError;
    expect(err).toBeInstanceOf(OpenChsError);
    expect(err.code).toBe("aborted");
    expect((await second).status).toBe(201);
    expect(state.logins).toBe(1);
  });

  it("validates options at construction, naming the option", () => {
    expect(() => make({ baseUrl: "helpline/api" })).toThrow(/baseUrl/);
    expect(() => make({ password: "" })).toThrow(/password/);
    expect(() => make({ caseKeys: "2024" as never })).toThrow(/caseKeys/);
    expect(() => make({ messageEncoding: "hex" as never })).toThrow(/messageEncoding/);
    expect(() => make({ baseUrl: "https://u:p@helpline.test/api/" })).toThrow(/credentials/);
    expect(() => make({ sessionTtlMs: 0 })).toThrow(/sessionTtlMs/);
  });
});

describe("helpline client: msg/", () => {
  it("plain mode sends the documented fields, the text as is and unix-seconds timestamps", async () => {
    const bodies: Record<string, unknown>[] = [];
    server.use(helplineLogin(state), msgEndpoint(bodies));
    await make().sendMessage({
      channel: "chat",
      session_id: "1680783378",
      message_id: "1680783378/00001",
      from: "0700112233",
      message: "how r u today? ✓",
      timestamp: "2023-04-06T12:16:18.000Z",
    });
    expect(bodies[0]).toEqual({
      channel: "chat",
      session_id: "1680783378",
      message_id: "1680783378/00001",
      from: "0700112233",
      message: "how r u today? ✓",
      timestamp: "1680783378",
    });
  });

  it("base64 mode sends base64 of UTF-8, mime and an ISO timestamp", async () => {
    const bodies: Record<string, unknown>[] = [];
    server.use(helplineLogin(state), msgEndpoint(bodies));
    const text = "Habari 👋 — naomba msaada";
    await make({ messageEncoding: "base64" }).sendMessage({
      session_id: "c1",
      message_id: "m1",
      from: "x",
      message: text,
      timestamp: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    });
    const body = bodies[0]!;
    expect(body.mime).toBe("text/plain");
    expect(body.timestamp).toBe("2026-01-02T03:04:05.678Z");
    expect(Buffer.from(String(body.message), "base64").toString("utf8")).toBe(text);
    expect(body.message).not.toContain("Habari");
  });

  it("maps the first attachment to media_* and keeps further attachments as lines of the text", async () => {
    const bodies: Record<string, unknown>[] = [];
    server.use(helplineLogin(state), msgEndpoint(bodies));
    await make().sendMessage({
      session_id: "c1",
      message_id: "m1",
      from: "x",
      message: "see these",
      attachments: [
        { url: "https://cdn.test/media/photo%201.jpg", content_type: "image/jpeg", size: 2048 },
        { url: "https://cdn.test/media/voice.ogg", content_type: "audio/ogg" },
      ],
    });
    expect(bodies[0]).toMatchObject({
      message: "see these\n[attachment] https://cdn.test/media/voice.ogg",
      media_url: "https://cdn.test/media/photo%201.jpg",
      media_mime: "image/jpeg",
      media_filename: "photo 1.jpg",
      media_size: 2048,
    });
  });

  it("an attachment-only message carries the attachment URL as its (mandatory) text", async () => {
    const bodies: Record<string, unknown>[] = [];
    server.use(helplineLogin(state), msgEndpoint(bodies));
    await make().sendMessage({
      session_id: "c1",
      message_id: "m1",
      from: "x",
      attachments: [{ url: "https://cdn.test/a.png", content_type: "image/png" }],
    });
    expect(bodies[0]).toMatchObject({ message: "[attachment] https://cdn.test/a.png", media_filename: "a.png" });
    expect(bodies[0]).not.toHaveProperty("media_size");
  });

  it("a location-only message carries [location] <lat>,<long> as its text, with no media_* fields", async () => {
    const bodies: Record<string, unknown>[] = [];
    server.use(helplineLogin(state), msgEndpoint(bodies));
    await make().sendMessage({
      session_id: "c1",
      message_id: "m1",
      from: "x",
      attachments: [{ url: "geo:-1.286389,36.817223", content_type: "geo" }],
    });
    expect(bodies[0]!.message).toBe("[location] -1.286389,36.817223");
    for (const field of ["media_url", "media_mime", "media_filename"]) expect(bodies[0]).not.toHaveProperty(field);
  });

  it("refuses locally, as validation, a message without message_id or without text and attachments", async () => {
    server.use(helplineLogin(state), msgEndpoint());
    const client = make();
    const noId = await failure(client.sendMessage({ session_id: "c1", message_id: "", from: "x", message: "a" }));
    expect(noId.code).toBe("validation");
    expect(noId.field).toBe("message_id");
    const empty = await failure(client.sendMessage({ session_id: "c1", message_id: "m", from: "x", message: "" }));
    expect(empty.field).toBe("message");
    const badTime = await failure(
      client.sendMessage({ session_id: "c1", message_id: "m", from: "x", message: "a", timestamp: "yesterday" }),
    );
    expect(badTime.field).toBe("timestamp");
    expect(state.logins).toBe(0);
  });

  it("412 with the helpline errors array is validation, naming message and field but never the value", async () => {
    server.use(
      helplineLogin(state),
      http.post(`${HELPLINE}msg/`, () =>
        HttpResponse.json(
          { errors: [["error", "Invalid value", "1048", "msg", "0", "src_msg", "I am scared, he hits me"]] },
          { status: 412 },
        ),
      ),
    );
    const err = await failure(make().sendMessage({ session_id: "c1", message_id: "m1", from: "x", message: "a" }));
    expect(err.code).toBe("validation");
    expect(err.status).toBe(412);
    expect(err.field).toBe("src_msg");
    expect(err.message).toContain("Invalid value");
    expect(JSON.stringify(err) + String(err) + err.stack).not.toContain("he hits me");
  });

  it("accepts 203 (async) with an action body: the message is taken", async () => {
    server.use(
      helplineLogin(state),
      http.post(`${HELPLINE}msg/`, () => HttpResponse.json({ action: [["notice", "async"]] }, { status: 203 })),
    );
    const result = await make().sendMessage({ session_id: "c1", message_id: "m1", from: "x", message: "a" });
    expect(result).toEqual({ status: 203, id: undefined });
  });

  it("a 2xx that is not JSON is invalid_response", async () => {
    server.use(
      helplineLogin(state),
      http.post(`${HELPLINE}msg/`, () => new HttpResponse("<html>ok</html>", { status: 201 })),
    );
    const err = await failure(make().sendMessage({ session_id: "c1", message_id: "m1", from: "x", message: "a" }));
    expect(err.code).toBe("invalid_response");
  });
});

describe("helpline client: cases", () => {
  function recordEndpoints(log: { path: string; body: Record<string, unknown> }[], fail?: string) {
    let next = 10;
    const answer = (resource: string) =>
      http.post(`${HELPLINE}${resource}/`, async ({ request }) => {
        expect(bearerOf(request)).toMatch(/^sess-/);
        const body = (await request.json()) as Record<string, unknown>;
        log.push({ path: resource, body });
        if (fail === `${resource}#${log.filter((l) => l.path === resource).length}`) {
          return HttpResponse.json(
            { errors: [["error", "Missing field", "0", resource, "0", "contact_fname", ""]] },
            {
              status: 412,
            },
          );
        }
        const id = String(next++);
        const row = resource === "reporters" ? [id, "t", "u", "7", "2", `c${id}`, "x"] : [id, "t", "u"];
        return HttpResponse.json({ [resource]: [row], [`${resource}_k`]: {} }, { status: 201 });
      });
    return ["reporters", "clients", "perpetrators", "cases"].map(answer);
  }

  it("reporters.create returns the id at [0][0] and the contact id at [0][5]", async () => {
    const log: { path: string; body: Record<string, unknown> }[] = [];
    server.use(helplineLogin(state), ...recordEndpoints(log));
    const reporter = await make().reporters.create({
      contact_fname: "Anon",
      contact_sex_id: 121,
      src: "chat",
      extra: { contact_fname: "ignored", contact_is_refugee: "0" },
    });
    expect(reporter).toEqual({ id: "10", contactId: "c10" });
    expect(log[0]!.body).toEqual({ contact_fname: "Anon", contact_sex_id: 121, src: "chat", contact_is_refugee: "0" });
  });

  it("clients, perpetrators and categories use their resource paths", async () => {
    const log: { path: string; body: Record<string, unknown> }[] = [];
    let query = "";
    server.use(
      helplineLogin(state),
      ...recordEndpoints(log),
      http.get(`${HELPLINE}categories/`, ({ request }) => {
        query = new URL(request.url).search;
        return HttpResponse.json({
          categories: [
            ["362", "t", "u", "1", "2", "Physical Abuse", "Abuse^Physical Abuse", "", "361", "x"],
            ["363", "t", "u", "1", "2", "Neglect", "Abuse^Neglect", "", "361", "x"],
          ],
          categories_k: { id: ["0", "id", "", "ID", ""], name: ["5", "name", "", "Name", ""], category_id: ["8"] },
          categories_ctx: [["0", "20"]],
        });
      }),
    );
    const client = make();
    expect(await client.clients.create({ contact_fname: "Child", relationship_id: 3 })).toEqual({ id: "10" });
    expect(await client.perpetrators.create({ contact_fname: "P", notes: "n" })).toEqual({ id: "11" });
    expect(log.map((l) => l.path)).toEqual(["clients", "perpetrators"]);
    const categories = await client.categories.list({ parentId: 361, limit: 50, extra: { isactive: "1" } });
    expect(new URLSearchParams(query).get("category_id")).toBe("361");
    expect(new URLSearchParams(query).get("_c")).toBe("50");
    expect(new URLSearchParams(query).get("isactive")).toBe("1");
    expect(categories).toEqual([
      {
        id: "362",
        name: "Physical Abuse",
        parentId: "361",
        fullname: undefined,
        fields: { id: "362", name: "Physical Abuse", category_id: "361" },
      },
      {
        id: "363",
        name: "Neglect",
        parentId: "361",
        fullname: undefined,
        fields: { id: "363", name: "Neglect", category_id: "361" },
      },
    ]);
  });

  it("categories without a column map fall back to the documented column order; no data is an empty list", async () => {
    let empty = false;
    server.use(
      helplineLogin(state),
      http.get(`${HELPLINE}categories/`, () =>
        HttpResponse.json(
          empty
            ? { categories: [], categories_no_data: [[]] }
            : { categories: [["5", "t", "u", "1", "2", "Boy", "Gender^Boy", "", "4"]] },
        ),
      ),
    );
    const client = make();
    expect(await client.categories.list()).toEqual([
      { id: "5", name: "Boy", fullname: "Gender^Boy", parentId: "4", fields: {} },
    ]);
    empty = true;
    expect(await client.categories.list()).toEqual([]);
  });

  const caseFields = {
    case_category_id: 362,
    narrative: "n",
    plan: "p",
    priority: 1,
    status: 1,
    gbv_related: 0,
  };

  it("cases.create uses the 2025 keys by default", async () => {
    const log: { path: string; body: Record<string, unknown> }[] = [];
    server.use(helplineLogin(state), ...recordEndpoints(log));
    const result = await make().cases.create({
      ...caseFields,
      reporterId: "1",
      reporterContactId: "2",
      clientIds: ["3"],
      perpetratorIds: ["4", "5"],
      serviceCategoryIds: [77],
    });
    expect(result).toEqual({ id: "10" });
    expect(log[0]!.body).toEqual({
      ...caseFields,
      reporter_uuid_id: "1",
      contact_uuid_id: "2",
      clients_case: [{ client_id: "3" }],
      perpetrators_case: [{ perpetrator_id: "4" }, { perpetrator_id: "5" }],
      services: [{ category_id: 77 }],
    });
  });

  it("cases.create uses the 2023 keys with caseKeys: 2023", async () => {
    const log: { path: string; body: Record<string, unknown> }[] = [];
    server.use(helplineLogin(state), ...recordEndpoints(log));
    await make({ caseKeys: "2023" }).cases.create({
      ...caseFields,
      reporterId: "1",
      reporterContactId: "2",
      clientIds: ["3"],
      perpetratorIds: [],
    });
    expect(log[0]!.body).toEqual({
      ...caseFields,
      reporter_id: "1",
      reporter_contact_id: "2",
      clients: [{ client_id: "3" }],
      perpetrators: [],
    });
    expect(log[0]!.body).not.toHaveProperty("reporter_uuid_id");
  });

  it("a create answer without the resource rows is invalid_response", async () => {
    server.use(
      helplineLogin(state),
      http.post(`${HELPLINE}clients/`, () => HttpResponse.json({ ok: 1 }, { status: 201 })),
    );
    const err = await failure(make().clients.create({ contact_fname: "C" }));
    expect(err.code).toBe("invalid_response");
    expect(err.message).toMatch(/at clients/);
  });

  it("createCompleteCase creates reporter, clients, perpetrators, then the case linking them, in order", async () => {
    const log: { path: string; body: Record<string, unknown> }[] = [];
    server.use(helplineLogin(state), ...recordEndpoints(log));
    const ids = await make().createCompleteCase({
      reporter: { contact_fname: "R" },
      clients: [{ contact_fname: "C1" }, { contact_fname: "C2" }],
      perpetrators: [{ contact_fname: "P1" }],
      case: caseFields,
    });
    expect(log.map((l) => l.path)).toEqual(["reporters", "clients", "clients", "perpetrators", "cases"]);
    expect(ids).toEqual({
      reporter: { id: "10", contactId: "c10" },
      clientIds: ["11", "12"],
      perpetratorIds: ["13"],
      caseId: "14",
    });
    expect(log[4]!.body).toMatchObject({
      reporter_uuid_id: "10",
      contact_uuid_id: "c10",
      clients_case: [{ client_id: "11" }, { client_id: "12" }],
      perpetrators_case: [{ perpetrator_id: "13" }],
    });
  });

  it("a failed step names the step and the ids already created, and is not retried", async () => {
    const log: { path: string; body: Record<string, unknown> }[] = [];
    server.use(helplineLogin(state), ...recordEndpoints(log, "clients#2"));
    const err = await failure(
      make().createCompleteCase({
        reporter: { contact_fname: "R" },
        clients: [{ contact_fname: "C1" }, { contact_fname: "C2" }, { contact_fname: "C3" }],
        perpetrators: [{ contact_fname: "P1" }],
        case: caseFields,
      }),
    );
    expect(err).toBeInstanceOf(OpenChsCaseError);
    const caseErr = err as OpenChsCaseError;
    expect(caseErr.step).toBe("client");
    expect(caseErr.index).toBe(1);
    expect(caseErr.code).toBe("validation");
    expect(caseErr.field).toBe("contact_fname");
    expect(caseErr.created).toEqual({
      reporter: { id: "10", contactId: "c10" },
      clientIds: ["11"],
      perpetratorIds: [],
    });
    expect(caseErr.message).toContain("client 1");
    expect(caseErr.message).toContain("reporter 10");
    expect(caseErr.retriable).toBe(false);
    expect(caseErr.cause).toBeInstanceOf(OpenChsError);
    expect(log.map((l) => l.path)).toEqual(["reporters", "clients", "clients"]);
  });

  it("a 503 at the case step is not retried and not retriable once records exist", async () => {
    const log: { path: string; body: Record<string, unknown> }[] = [];
    let caseCalls = 0;
    server.use(
      helplineLogin(state),
      http.post(`${HELPLINE}cases/`, () => {
        caseCalls++;
        return new HttpResponse(null, { status: 503 });
      }),
      ...recordEndpoints(log),
    );
    const err = (await failure(
      make().createCompleteCase({ reporter: { contact_fname: "R" }, clients: [], perpetrators: [], case: caseFields }),
    )) as OpenChsCaseError;
    expect(err.step).toBe("case");
    expect(err.code).toBe("unavailable");
    expect(err.retriable).toBe(false);
    expect(caseCalls).toBe(1);
    expect(JSON.parse(JSON.stringify(err))).toMatchObject({ step: "case", created: { reporter: { id: "10" } } });
  });

  it("a failure before anything was created keeps the step's retriability", async () => {
    server.use(
      helplineLogin(state),
      http.post(`${HELPLINE}reporters/`, () => new HttpResponse(null, { status: 502 })),
    );
    const err = (await failure(
      make().createCompleteCase({ reporter: { contact_fname: "R" }, clients: [], perpetrators: [], case: caseFields }),
    )) as OpenChsCaseError;
    expect(err.step).toBe("reporter");
    expect(err.index).toBeUndefined();
    expect(err.retriable).toBe(true);
    expect(err.message).toContain("already created: nothing");
  });
});
