import {
  type Bridge,
  type ChatbotTarget,
  createBridge,
  createMemoryStore,
  type HelplineMessage,
  type HelplineTarget,
  signStandardWebhook,
} from "@openchs-bridge/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slowUpload } from "../reliability/support/raw-socket";

/** A running host with the bridge mounted: `origin` like `http://127.0.0.1:PORT`. */
export interface RunningHost {
  origin: string;
  close(): Promise<void>;
}

/** Mounts `bridge.handler` in a host and listens on 127.0.0.1, port 0. */
export type StartHost = (bridge: Bridge) => Promise<RunningHost>;

const CHATBOT = { username: "weni", password: "weni-password-1" };
const SIGNER = { username: "signer", password: "signer-password-1" };
const SECRET = `whsec_${btoa("conformance-secret-32-bytes-long!")}`;
/**
 * The early-answer test: a 4 MiB upload, many times fast (a racy close shows up), and once slowly
 * (longer than a host that gives up draining after a moment, e.g. @hono/node-server's 500 ms).
 */
const UPLOAD_RUNS = 20;
const FAST_UPLOAD = { bodyBytes: 4 * 2 ** 20, chunkBytes: 128 * 1024, pauseMs: 1 };
const SLOW_UPLOAD = { ...FAST_UPLOAD, pauseMs: 50 };

/**
 * One black-box suite every host passes (Inngest's `testFramework`): the same HTTP calls against a
 * real server on loopback, whatever mounts the bridge.
 */
export function hostConformance(name: string, start: StartHost, options: { ownRoute?: boolean } = {}) {
  describe(`host conformance: ${name}`, () => {
    const delivered: HelplineMessage[] = [];
    const helpline: HelplineTarget = {
      deliverMessage: async (m) => {
        delivered.push(m);
      },
      notifyClose: async () => {},
    };
    const chatbot: ChatbotTarget = { deliverMessage: async () => {}, notifyClose: async () => {} };
    let bridge: Bridge;
    let host: RunningHost;
    let token: string;

    const call = (path: string, init: RequestInit = {}) => fetch(`${host.origin}${path}`, init);
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      call(path, {
        method: "POST",
        body: JSON.stringify(body),
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Token ${token}` } : {}),
          ...headers,
        },
      });

    beforeAll(async () => {
      bridge = createBridge({
        store: createMemoryStore(),
        helplines: helpline,
        chatbot,
        consumers: [
          { ...CHATBOT, sources: ["WENI"] },
          { ...SIGNER, sources: ["WENI"], signingSecrets: [SECRET] },
        ],
        loginRateLimit: { max: 3, maxPerAddress: 3, windowS: 60 },
        maxBodyBytes: 64 * 1024,
      });
      host = await start(bridge);
      const res = await post("/api/token/", CHATBOT);
      token = ((await res.json()) as { token: string }).token;
    });
    afterAll(async () => {
      await host?.close();
    });

    it("answers health without auth, and HEAD with no body", async () => {
      const res = await call("/api/health");
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ok" });
      const head = await call("/api/health", { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe("");
    });

    it("accepts a message (201), replays a duplicate (200), and the bridge delivers it", async () => {
      const body = {
        chat_session: "h1",
        chat_message: "hello",
        chat_sender: "contact-1",
        chat_source: "WENI",
        message_id: "m1",
      };
      const first = await post("/api/chat/", body);
      expect(first.status).toBe(201);
      expect(first.headers.get("content-type")).toMatch(/application\/json/);
      const again = await post("/api/chat", body);
      expect(again.status).toBe(200);
      expect(((await again.json()) as { duplicate: boolean }).duplicate).toBe(true);
      await bridge.runDue();
      expect(delivered.map((m) => m.messageId)).toEqual(["m1"]);
    });

    it("keeps query strings and paths: conversation and paginated list", async () => {
      const res = await call("/api/chat/?session=h1&limit=1", { headers: { authorization: `Token ${token}` } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { results: unknown[] }).results).toHaveLength(1);
      const conv = await call("/api/chat/h1/", { headers: { authorization: `Token ${token}` } });
      expect(((await conv.json()) as { state: string }).state).toBe("hunting");
    });

    it("passes the raw body through: 415 for a media type that is not JSON, 400 for broken JSON", async () => {
      const text = await call("/api/chat/", {
        method: "POST",
        body: "<hi/>",
        headers: { "content-type": "application/xml", authorization: `Token ${token}` },
      });
      expect(text.status).toBe(415);
      const broken = await call("/api/chat/", {
        method: "POST",
        body: '{"chat_session":',
        headers: { "content-type": "application/json", authorization: `Token ${token}` },
      });
      expect(broken.status).toBe(400);
      expect(((await broken.json()) as { error: { code: string } }).error.code).toBe("invalid_json");
    });

    it("refuses a body over the limit with 413 and stays up", async () => {
      const big = await post("/api/chat/", {
        chat_session: "h2",
        chat_message: "x".repeat(200 * 1024),
        chat_sender: "c",
        chat_source: "WENI",
      });
      expect(big.status).toBe(413);
      expect((await call("/api/health")).status).toBe(200);
    });

    it("answers a body it refuses unread (413, 401) while the client is still sending, and never resets it", async () => {
      const port = Number(new URL(host.origin).port);
      const json = "Content-Type: application/json";
      const upload = async (
        label: object,
        headers: string[],
        options: Parameters<typeof slowUpload>[2],
        expected: { status: number; code: string },
      ) => {
        const r = await slowUpload(port, { path: "/api/chat/", headers }, options);
        const code = r.body ? (JSON.parse(r.body) as { error?: { code?: string } }).error?.code : undefined;
        // A reset would make the client lose the answer, or read it only by luck: the whole upload
        // is read, and the connection ends cleanly after it.
        expect({ ...label, status: r.status, code, error: r.error, closed: r.closed, sent: r.sent }).toEqual({
          ...label,
          ...expected,
          error: undefined,
          closed: true,
          sent: options.bodyBytes,
        });
      };
      const tooLarge = { status: 413, code: "payload_too_large" };
      const framings = [
        { framing: "content-length" },
        { framing: "chunked", chunked: true },
        { framing: "expect 100-continue", expectContinue: true },
      ];
      for (const { framing, ...options } of framings) {
        const headers = [json, `Authorization: Token ${token}`];
        for (let run = 0; run < UPLOAD_RUNS; run++) {
          await upload({ framing, run }, headers, { ...FAST_UPLOAD, ...options }, tooLarge);
        }
        await upload({ framing, run: "slow" }, headers, { ...SLOW_UPLOAD, ...options }, tooLarge);
      }
      const unauthorized = { status: 401, code: "unauthorized" };
      await upload({ framing: "no token" }, [json], FAST_UPLOAD, unauthorized);
      await upload({ framing: "no token", run: "slow" }, [json], SLOW_UPLOAD, unauthorized);
      expect((await call("/api/health")).status).toBe(200);
    }, 120_000);

    it("passes the raw bytes through: a signature over them verifies, and any change is refused", async () => {
      const signerToken = (await bridge.tokens.issue(SIGNER.username)).token;
      // Odd spacing and key order on purpose: a host that re-serialised the JSON would break the signature.
      const raw = '{ "chat_source":"WENI",  "chat_session":"signed1","chat_message":"hi","chat_sender":"c-1" }';
      const signed = await signStandardWebhook({
        id: "msg_1",
        timestamp: Math.floor(Date.now() / 1000),
        body: raw,
        secret: SECRET,
      });
      const headers = { "content-type": "application/json", authorization: `Token ${signerToken}`, ...signed };
      const ok = await call("/api/chat/", { method: "POST", body: raw, headers });
      expect(ok.status).toBe(201);
      const tampered = await call("/api/chat/", { method: "POST", body: raw.replace("hi", "ho"), headers });
      expect(tampered.status).toBe(401);
    });

    it("answers 404 and 405 from the bridge under its base path", async () => {
      const missing = await call("/api/nowhere/");
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("route_not_found");
      const wrong = await call("/api/chat/", { method: "PUT" });
      expect(wrong.status).toBe(405);
    });

    it("hands the client address to the bridge: failed logins are limited per address", async () => {
      for (let i = 0; i < 3; i++) {
        await post("/api/token/", { username: `nobody-${i}`, password: "wrong-password" }, { authorization: "" });
      }
      const limited = await post(
        "/api/token/",
        { username: "nobody-4", password: "wrong-password" },
        { authorization: "" },
      );
      expect(limited.status).toBe(429);
      expect(limited.headers.get("retry-after")).toBeTruthy();
    });

    if (options.ownRoute) {
      it("leaves the host's own routes alone", async () => {
        const res = await call("/");
        expect(res.status).toBe(200);
        expect(await res.text()).toContain("host app");
      });
    }
  });
}
