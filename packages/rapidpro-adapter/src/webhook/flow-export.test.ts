import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type Bridge, createBridge, createMemoryStore, type HelplineMessage, manualClock } from "@openchs-bridge/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ContactMessage, type FlowNode, FlowRun, MAILROOM_HEADERS } from "../test-support/flow-runner";

/**
 * docs/rapidpro-flow.json, the flow authors import: a well-formed RapidPro export, and a whole
 * conversation played through it as mailroom would (templates rendered by goflow's rules, mailroom's
 * headers) against a real bridge on loopback whose tokens live one second. Every message must be
 * accepted however long the conversation lasts: the flow sends the consumer's API key, not a token.
 */
const EXPORT_PATH = new URL("../../../../docs/rapidpro-flow.json", import.meta.url);
const flowExport = JSON.parse(readFileSync(EXPORT_PATH, "utf8")) as RapidProExport;
const flow = flowExport.flows[0]!;

interface RapidProExport {
  version: string;
  site: string;
  flows: Array<{
    uuid: string;
    name: string;
    spec_version: string;
    language: string;
    type: string;
    revision: number;
    expire_after_minutes: number;
    localization: Record<string, unknown>;
    nodes: FlowNode[];
    _ui: { nodes: Record<string, unknown> };
  }>;
  campaigns: unknown[];
  triggers: unknown[];
  fields: unknown[];
  groups: unknown[];
  globals: Array<{ key: string; name: string; value: string }>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("docs/rapidpro-flow.json is an importable RapidPro export", () => {
  it("has the export's shape: one messaging flow, and the globals its templates use", () => {
    expect(flowExport).toMatchObject({
      version: "13",
      campaigns: [],
      triggers: [],
      fields: [],
      groups: [],
    });
    expect(flowExport.flows).toHaveLength(1);
    expect(flow).toMatchObject({ type: "messaging", language: "eng", localization: {} });
    expect(flow.spec_version).toMatch(/^13\.\d+\.\d+$/);
    expect(flow.expire_after_minutes).toBeGreaterThan(0);
    const used = new Set([...JSON.stringify(flow.nodes).matchAll(/globals\.(\w+)/g)].map((m) => m[1]));
    expect(new Set(flowExport.globals.map((g) => g.key))).toEqual(used);
    // The key is a secret: the export never carries one (each workspace sets its own).
    expect(flowExport.globals.find((g) => g.key === "bridge_key")?.value).toBe("");
  });

  it("has valid, unique UUIDs, and every exit, category and case points at something that exists", () => {
    const uuids = [...JSON.stringify(flowExport).matchAll(/"(?:uuid|[a-z_]+_uuid)":\s*"([^"]*)"/g)].map((m) => m[1]!);
    for (const uuid of uuids) expect(uuid).toMatch(UUID);
    const own = [
      flow.uuid,
      ...flow.nodes.flatMap((n) => [
        n.uuid,
        ...n.actions.map((a) => a.uuid),
        ...n.exits.map((e) => e.uuid),
        ...(n.router?.categories.map((c) => c.uuid) ?? []),
        ...(n.router?.cases.map((c) => c.uuid) ?? []),
      ]),
    ];
    expect(new Set(own).size).toBe(own.length);
    const nodes = new Set(flow.nodes.map((n) => n.uuid));
    expect(new Set(Object.keys(flow._ui.nodes))).toEqual(nodes);
    for (const node of flow.nodes) {
      for (const exit of node.exits) if (exit.destination_uuid) expect(nodes).toContain(exit.destination_uuid);
      if (!node.router) {
        expect(node.exits).toHaveLength(1);
        continue;
      }
      const exits = new Set(node.exits.map((e) => e.uuid));
      const categories = new Set(node.router.categories.map((c) => c.uuid));
      for (const category of node.router.categories) expect(exits).toContain(category.exit_uuid);
      for (const c of node.router.cases) expect(categories).toContain(c.category_uuid);
      expect(categories).toContain(node.router.default_category_uuid);
    }
  });

  it("sends every message with the API key and an Idempotency-Key, with no login call", () => {
    const webhooks = flow.nodes.flatMap((n) => n.actions).filter((a) => a.type === "call_webhook");
    expect(webhooks.length).toBeGreaterThan(0);
    for (const action of webhooks) {
      expect(action.method).toBe("POST");
      expect(action.url).toBe("@(globals.bridge_url)chat/");
      expect(action.headers).toEqual({
        Authorization: "Token @globals.bridge_key",
        "Content-Type": "application/json",
        "Idempotency-Key": "@(run.uuid)-@(input.uuid)",
      });
      expect(action.body).toMatch(/^@\(json\(object\(/);
    }
  });
});

describe("a conversation through the exported flow, against a real bridge", () => {
  const KEY = "obk_flow-export-test-key-0123456789abcdefghijklmnop";
  const CONTACT = { uuid: "2b7c5d1e-8f3a-4c6b-9d2e-7a1f0c3b5e84" };
  const USER = { username: "weni", password: "weni-password-1" };
  const clock = manualClock();
  const delivered: HelplineMessage[] = [];
  let bridge: Bridge;
  let server: Server;
  let origin: string;

  beforeAll(async () => {
    bridge = createBridge({
      store: createMemoryStore(),
      clock,
      helplines: {
        deliverMessage: async (m) => {
          delivered.push(m);
        },
        notifyClose: async () => {},
      },
      chatbot: { deliverMessage: async () => {}, notifyClose: async () => {} },
      consumers: [
        {
          ...USER,
          sources: ["WENI"],
          apiKeys: [`sha256:${createHash("sha256").update(KEY).digest("hex")}`],
        },
      ],
      tokenTtlS: 1,
    });
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
      const response = await bridge.handler(
        new Request(new URL(req.url ?? "/", "http://127.0.0.1"), {
          method: req.method ?? "GET",
          headers,
          ...(req.method === "GET" || req.method === "HEAD" ? {} : { body: Buffer.concat(chunks) }),
        }),
        { remoteAddress: req.socket.remoteAddress },
      );
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  });

  /** Mailroom's HTTP: the request exactly as rendered; the status, or undefined when unreachable. */
  const mailroom = async (call: { method: string; url: string; headers: Record<string, string>; body: string }) => {
    try {
      const res = await fetch(call.url, { method: call.method, headers: call.headers, body: call.body });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return undefined;
    }
  };
  const newRun = (send = mailroom) =>
    new FlowRun(
      flow,
      { runUuid: randomUUID(), contact: CONTACT, globals: { bridge_url: `${origin}/api/`, bridge_key: KEY } },
      send,
    );
  const message = (text: string, attachments: string[] = []): ContactMessage => ({
    uuid: randomUUID(),
    text,
    attachments,
  });

  it("renders the body as goflow does: the template's fields, sorted keys, compact, text untouched", async () => {
    const run = newRun();
    const text = 'Nisaidie <3 & "asante" 🙏';
    const m = message(text);
    await run.play([m]);
    const [call] = run.calls;
    const runUuid = JSON.parse(call!.body).metadata.run_uuid as string;
    expect(call!.body).toBe(
      `{"attachments":[],"chat_channel":"WENI","chat_message":"Nisaidie <3 & \\"asante\\" 🙏",` +
        `"chat_sender":"${CONTACT.uuid}","chat_session":"${runUuid.replaceAll("-", "")}","chat_source":"WENI",` +
        `"message_id":"${m.uuid}","metadata":{"flow_uuid":"${flow.uuid}","run_uuid":"${runUuid}"}}`,
    );
    expect(call!.url).toBe(`${origin}/api/chat/`);
    expect(call!.headers).toEqual({
      ...MAILROOM_HEADERS,
      Authorization: `Token ${KEY}`,
      "Content-Type": "application/json",
      "Idempotency-Key": `${runUuid}-${m.uuid}`,
    });
  });

  it("accepts every message of a conversation that outlives the token TTL many times, a location included", async () => {
    // A token from a login (what the old template saved) is dead after one second of the bridge's clock.
    const login = await fetch(`${origin}/api/token/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(USER),
    });
    const token = ((await login.json()) as { token: string }).token;
    const run = newRun();
    await run.play([]);
    expect(run.sent).toHaveLength(1); // the greeting; then the flow waits for the child
    const messages = [
      message("Habari, nahitaji msaada"),
      message("Niko shuleni", ["image/jpeg:https://media.example.org/photo.jpg"]),
      message("", ["geo:-1.2921,36.8219"]),
      message("Bado uko hapo?"),
    ];
    for (const m of messages) {
      clock.advance(30 * 60_000); // half an hour between messages: two hours in all
      await run.play([m]);
    }
    const expired = await fetch(`${origin}/api/chat/`, { headers: { authorization: `Token ${token}` } });
    expect(expired.status).toBe(401);
    expect(run.calls.map((c) => [c.status, c.category])).toEqual(messages.map(() => [201, "Success"]));
    expect(run.waiting).toBe(true);
    expect(run.sent).toHaveLength(1); // no apology: nothing failed

    // Mailroom's retry of each call (same body, same Idempotency-Key): 200, a duplicate, nothing twice.
    for (const call of run.calls) {
      const again = await fetch(call.url, { method: call.method, headers: call.headers, body: call.body });
      expect(again.status).toBe(200);
      expect(((await again.json()) as { duplicate?: boolean }).duplicate).toBe(true);
    }
    await bridge.runDue();
    const ids = new Set(messages.map((m) => m.uuid));
    const ours = delivered.filter((d) => ids.has(d.messageId));
    expect(ours.map((d) => d.messageId).sort()).toEqual([...ids].sort());
    const location = ours.find((d) => d.messageId === messages[2]!.uuid)!;
    expect(location.attachments).toEqual([{ url: "geo:-1.2921,36.8219", content_type: "geo" }]);
    const photo = ours.find((d) => d.messageId === messages[1]!.uuid)!;
    expect(photo.attachments).toEqual([{ url: "https://media.example.org/photo.jpg", content_type: "image/jpeg" }]);
    expect(new Set(ours.map((d) => d.conversationId)).size).toBe(1);
  });

  it("Failure: retries once with the same message, then tells the child, and the next message goes through", async () => {
    let unreachable = 2;
    const run = newRun(async (call) => (unreachable-- > 0 ? undefined : mailroom(call)));
    const lost = message("Naogopa");
    await run.play([lost]);
    expect(run.calls.map((c) => c.category)).toEqual(["Failure", "Failure"]);
    expect(run.calls[1]!.body).toBe(run.calls[0]!.body);
    expect(run.calls[1]!.headers["Idempotency-Key"]).toBe(run.calls[0]!.headers["Idempotency-Key"]);
    expect(run.sent).toHaveLength(2);
    expect(run.sent[1]).toMatch(/again/i);
    expect(run.waiting).toBe(true);
    const next = message("Naogopa sana");
    await run.play([next]);
    expect(run.calls.slice(2).map((c) => [c.status, c.category])).toEqual([[201, "Success"]]);

    // Once unreachable, then reachable: the retry delivers it, and the child hears nothing of it.
    unreachable = 1;
    const blip = newRun(async (call) => (unreachable-- > 0 ? undefined : mailroom(call)));
    await blip.play([message("Halo")]);
    expect(blip.calls.map((c) => c.category)).toEqual(["Failure", "Success"]);
    expect(blip.sent).toHaveLength(1);
  });
});
