import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  basicOf,
  FAST_RETRY,
  GATEWAY_ORIGIN,
  HELPLINE,
  HELPLINE_PASSWORD,
  HELPLINE_USER,
  helplineLogin,
} from "./__fixtures__/servers";
import { createBridgeApiClient } from "./bridge-api/client";
import { OpenChsError } from "./errors";
import { createOpenChsHelplineClient } from "./helpline/client";

/** No password, token, session id or message text in any error, whichever way it is printed. */

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const API = `${GATEWAY_ORIGIN}/api/`;
const GW_PASSWORD = "gw-pass-SECRET";
const GW_TOKEN = "0123456789abcdef-TOKEN-SECRET";
const TEXT = "my uncle hurts me please help";

function everyRendering(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof Error) {
      parts.push(current.message, String(current), current.stack ?? "", JSON.stringify(current));
      current = current.cause;
    } else {
      parts.push(String(current), JSON.stringify(current) ?? "");
      current = undefined;
    }
  }
  return parts.join("\n");
}

function expectClean(err: unknown, secrets: string[]) {
  expect(err).toBeInstanceOf(OpenChsError);
  const printed = everyRendering(err);
  for (const secret of secrets) expect(printed).not.toContain(secret);
}

const helpline = (password = HELPLINE_PASSWORD, extra = {}) =>
  createOpenChsHelplineClient({
    baseUrl: HELPLINE,
    username: HELPLINE_USER,
    password,
    retry: FAST_RETRY,
    messageEncoding: "plain",
    ...extra,
  });

const sendMsg = (client = helpline()) =>
  client.sendMessage({ session_id: "c1", message_id: "m1", from: "x", message: TEXT }).catch((e: unknown) => e);

const basicSecret = (password: string) => basicOf(HELPLINE_USER, password).slice(6);

describe("redaction: helpline", () => {
  it("a refused login shows neither the password nor the Basic credential", async () => {
    const state = { logins: 0, sessions: [] as string[] };
    server.use(helplineLogin(state));
    const err = (await sendMsg(helpline("wrong-pass-SECRET"))) as OpenChsError;
    expect(err.code).toBe("auth");
    expect(err.request?.headers.authorization).toBe("Basic [REDACTED]");
    expectClean(err, ["wrong-pass-SECRET", basicSecret("wrong-pass-SECRET"), TEXT]);
  });

  it("a 401 after re-login shows no session id", async () => {
    const state = { logins: 0, sessions: [] as string[] };
    server.use(
      helplineLogin(state),
      http.post(`${HELPLINE}msg/`, () =>
        HttpResponse.json({ errors: [["error", "Authentication Required"]] }, { status: 401 }),
      ),
    );
    const err = (await sendMsg()) as OpenChsError;
    expect(err.code).toBe("auth");
    expect(err.request?.headers.authorization).toBe("Bearer [REDACTED]");
    expectClean(err, [...state.sessions, "sess-SECRET", HELPLINE_PASSWORD, basicSecret(HELPLINE_PASSWORD), TEXT]);
  });

  it("a 412 or 500 whose body echoes the message text does not carry it", async () => {
    const state = { logins: 0, sessions: [] as string[] };
    for (const status of [412, 500]) {
      server.use(
        helplineLogin(state),
        http.post(`${HELPLINE}msg/`, () =>
          HttpResponse.json({ errors: [["error", "Data too long", "1406", "msg", "0", "src_msg", TEXT]] }, { status }),
        ),
      );
      const err = (await sendMsg()) as OpenChsError;
      expect(err.field).toBe("src_msg");
      expectClean(err, [TEXT, "sess-SECRET", HELPLINE_PASSWORD]);
    }
  });

  it("base64 mode: neither the text nor its base64 appears in an error", async () => {
    const state = { logins: 0, sessions: [] as string[] };
    server.use(
      helplineLogin(state),
      http.post(`${HELPLINE}msg/`, () => new HttpResponse(null, { status: 503 })),
    );
    const err = await sendMsg(helpline(HELPLINE_PASSWORD, { messageEncoding: "base64" }));
    expectClean(err, [TEXT, btoa(TEXT), "sess-SECRET"]);
  });

  it("network errors, timeouts and wrong shapes carry no secret", async () => {
    const state = { logins: 0, sessions: [] as string[] };
    server.use(
      helplineLogin(state),
      http.post(`${HELPLINE}msg/`, () => HttpResponse.error()),
    );
    expectClean(await sendMsg(helpline(HELPLINE_PASSWORD, { retry: false })), ["sess-SECRET", TEXT]);

    server.use(http.post(`${HELPLINE}msg/`, () => new Promise<Response>(() => {})));
    const timedOut = (await sendMsg(helpline(HELPLINE_PASSWORD, { retry: false, timeoutMs: 30 }))) as OpenChsError;
    expect(timedOut.code).toBe("timeout");
    expectClean(timedOut, ["sess-SECRET", TEXT]);

    server.use(http.post(`${HELPLINE}msg/`, () => HttpResponse.json({ messages: TEXT }, { status: 201 })));
    const wrong = (await sendMsg()) as OpenChsError;
    expect(wrong.code).toBe("invalid_response");
    expectClean(wrong, ["sess-SECRET", TEXT]);
  });

  it("a failed createCompleteCase carries no session id", async () => {
    const state = { logins: 0, sessions: [] as string[] };
    server.use(
      helplineLogin(state),
      http.post(`${HELPLINE}reporters/`, () =>
        HttpResponse.json({ reporters: [["1", "", "", "", "", "2"]] }, { status: 201 }),
      ),
      http.post(`${HELPLINE}clients/`, () => new HttpResponse(null, { status: 500 })),
    );
    const err = await helpline()
      .createCompleteCase({
        reporter: { contact_fname: "R" },
        clients: [{ contact_fname: "C" }],
        perpetrators: [],
        case: { case_category_id: 1, narrative: TEXT, plan: "p", priority: 1, status: 1, gbv_related: 0 },
      })
      .catch((e: unknown) => e);
    expectClean(err, ["sess-SECRET", TEXT, HELPLINE_PASSWORD]);
  });
});

describe("redaction: gateway", () => {
  const make = () =>
    createBridgeApiClient({ baseUrl: GATEWAY_ORIGIN, username: "weni", password: GW_PASSWORD, retry: FAST_RETRY });
  const chat = { chat_session: "s1", chat_source: "WENI", chat_sender: "c", chat_message: TEXT } as const;

  it("a refused login does not show the password", async () => {
    server.use(
      http.post(`${API}token/`, () =>
        HttpResponse.json({ non_field_errors: ["Unable to log in with provided credentials."] }, { status: 400 }),
      ),
    );
    const err = await make()
      .sendChat(chat)
      .catch((e: unknown) => e);
    expect((err as OpenChsError).code).toBe("auth");
    expectClean(err, [GW_PASSWORD, TEXT]);
  });

  it("a 401 after re-login does not show the token", async () => {
    server.use(
      http.post(`${API}token/`, () => HttpResponse.json({ token: GW_TOKEN, expires_in: 3600 })),
      http.post(`${API}chat/`, () => HttpResponse.json({ detail: "Invalid token." }, { status: 401 })),
    );
    const err = await make()
      .sendChat(chat)
      .catch((e: unknown) => e);
    expect((err as OpenChsError).request?.headers.authorization).toBe("Token [REDACTED]");
    expectClean(err, [GW_TOKEN, GW_PASSWORD, TEXT]);
  });

  it("a fixed token never shows, whatever the error", async () => {
    const client = createBridgeApiClient({ baseUrl: GATEWAY_ORIGIN, token: GW_TOKEN, retry: false });
    server.use(http.post(`${API}chat/`, () => HttpResponse.json({ detail: "Forbidden" }, { status: 403 })));
    expectClean(await client.sendChat(chat).catch((e: unknown) => e), [GW_TOKEN, TEXT]);
    server.use(http.post(`${API}chat/`, () => HttpResponse.error()));
    expectClean(await client.sendChat(chat).catch((e: unknown) => e), [GW_TOKEN, TEXT]);
    server.use(http.post(`${API}chat/`, () => HttpResponse.json({ status: TEXT }, { status: 201 })));
    expectClean(await client.sendChat(chat).catch((e: unknown) => e), [GW_TOKEN, TEXT]);
  });
});
