import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { bridgeHarness, CHATBOT_USER, clientMessage, HELPLINE_USER } from "../../test-support/bridge-harness";

/** The console's routes: `admin/overview`, `admin/conversations` and the page `console/`. */

const ADMIN_USER = { username: "operator", password: "operator-password-1" };
const SECRET_TEXT = "sentinel-text-7f3a: my address is 12 Hidden Lane";

function consoleHarness() {
  return bridgeHarness({
    consumers: [
      { ...CHATBOT_USER, sources: ["WENI"] },
      { ...HELPLINE_USER, sources: ["OUTBOX", "HELPLINE"] },
      { ...ADMIN_USER, sources: [], admin: true },
    ],
  });
}

describe("admin/overview and admin/conversations", () => {
  it("401 without a token, 403 for a consumer that is not admin", async () => {
    const h = consoleHarness();
    const chatbot = await h.login(CHATBOT_USER);
    for (const path of ["admin/overview", "admin/conversations"]) {
      expect((await h.call("GET", path)).status, path).toBe(401);
      const notAdmin = await h.call("GET", path, { token: chatbot });
      expect(notAdmin.status, path).toBe(403);
      expect(notAdmin.json.error.code).toBe("forbidden");
    }
  });

  it("overview: conversations by state and the outbox figures, as the store counts them", async () => {
    const h = consoleHarness();
    const admin = await h.login(ADMIN_USER);
    const empty = await h.call("GET", "admin/overview", { token: admin });
    expect(empty.status).toBe(200);
    expect(empty.json).toEqual({
      conversations: { requested: 0, hunting: 0, connected: 0, closed: 0 },
      outbox_pending: 0,
      oldest_pending_age_s: 0,
      dead_letters: 0,
    });

    const chatbot = await h.login(CHATBOT_USER);
    for (const session of ["s1", "s2"]) {
      const res = await h.call("POST", "chat/", { token: chatbot, body: clientMessage(session, SECRET_TEXT) });
      expect(res.status).toBe(201);
    }
    await h.call("POST", "chat/s2/close/", { token: chatbot, body: { chat_source: "WENI" } });
    h.clock.advance(90_000);
    const res = await h.call("GET", "admin/overview", { token: admin });
    expect(res.json.conversations).toMatchObject({ requested: 1, closed: 1 });
    expect(res.json.outbox_pending).toBe((await h.store.outboxStats(h.clock.now())).pending);
    expect(res.json.outbox_pending).toBeGreaterThan(0);
    expect(res.json.oldest_pending_age_s).toBe(90);
    expect(JSON.stringify(res.json)).not.toContain("s1");
  });

  it("conversations: newest activity first, messages by status, no text and no contact address", async () => {
    const h = consoleHarness();
    const chatbot = await h.login(CHATBOT_USER);
    const admin = await h.login(ADMIN_USER);
    const first = clientMessage("older", SECRET_TEXT);
    await h.call("POST", "chat/", { token: chatbot, body: first });
    h.clock.advance(1000);
    await h.call("POST", "chat/", { token: chatbot, body: clientMessage("newer", SECRET_TEXT) });
    await h.call("POST", "chat/", { token: chatbot, body: clientMessage("newer", `${SECRET_TEXT} again`) });

    const res = await h.call("GET", "admin/conversations?limit=5", { token: admin });
    expect(res.status).toBe(200);
    expect(res.json.results.map((r: { conversation_id: string }) => r.conversation_id)).toEqual(["newer", "older"]);
    expect(res.json.results[0]).toMatchObject({
      state: "requested",
      helpline: expect.any(String),
      counselor_name: null,
      messages: { accepted: 2, sent: 0, delivered: 0, read: 0, failed: 0 },
    });
    const body = JSON.stringify(res.json);
    expect(body).not.toContain("sentinel-text");
    expect(body).not.toContain(first.chat_sender);

    const one = await h.call("GET", "admin/conversations?limit=1", { token: admin });
    expect(one.json.results).toHaveLength(1);
  });

  it("a limit outside 1–100 is a 400 naming the field", async () => {
    const h = consoleHarness();
    const admin = await h.login(ADMIN_USER);
    for (const limit of ["0", "101", "ten"]) {
      const res = await h.call("GET", `admin/conversations?limit=${limit}`, { token: admin });
      expect(res.status, limit).toBe(400);
      expect(res.json.error).toMatchObject({ code: "invalid_field", field: "limit" });
    }
  });
});

describe("console/", () => {
  const page = async (path: string) => {
    const h = consoleHarness();
    const response = await h.bridge.handler(new Request(`http://bridge.test/api/${path}`));
    return { response, html: await response.text() };
  };

  it("serves one HTML page, without a token, with the sign-in form and no external asset", async () => {
    const { response, html } = await page("console/");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(html).toMatch(/<html lang="en" data-base="\/api\/">/);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain('<label for="username">Username</label>');
    expect(html).toContain('<label for="password">Password</label>');
    expect(html).toContain('<button type="submit">Sign in</button>');
    // Offline: nothing is fetched from anywhere but the bridge (no src=/href= to a URL, no @import).
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(/i);
    // CSP-friendly: no inline event handler attributes.
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect((await page("console")).response.status).toBe(200);
  });

  it("sends a Content-Security-Policy that allows exactly its inline script and style", async () => {
    const { response, html } = await page("console/");
    const policy = response.headers.get("content-security-policy") ?? "";
    const sha = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
    const script = /<script>([\s\S]*)<\/script>/.exec(html)?.[1] ?? "";
    const style = /<style>([\s\S]*)<\/style>/.exec(html)?.[1] ?? "";
    expect(script.length).toBeGreaterThan(1000);
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain(`script-src ${sha(script)}`);
    expect(policy).toContain(`style-src ${sha(style)}`);
    expect(policy).toContain("connect-src 'self'");
  });

  it("only GET", async () => {
    const h = consoleHarness();
    const res = await h.call("POST", "console/", { body: {} });
    expect(res.status).toBe(405);
  });
});
