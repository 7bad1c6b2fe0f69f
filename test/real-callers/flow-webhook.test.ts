import { readdirSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, sleep } from "../reliability/support/gateway-process";
import { loadFixture } from "./support/fixtures";
import { FLOW, FLOW_INPUTS, type FlowFixture, flowContext } from "./support/flow-conversation";
import { exportWebhooks, mailroomRequest, readAsFlow } from "./support/flow-webhook";
import { type CallerSystem, describeAnswer, startCallerSystem } from "./support/system";

/** The fixtures and docs/rapidpro-flow.json cannot drift apart: each fixture is the export's request, rendered. */
describe("the flow fixtures are docs/rapidpro-flow.json's webhook as mailroom sends it", () => {
  it("each is the export's action rendered for its run: the URL, the headers in Go's order, the body by goflow's rules", () => {
    const flowFixtures = readdirSync(new URL("./fixtures/", import.meta.url))
      .filter((f) => f.startsWith("flow-webhook-"))
      .map((f) => f.replace(/\.http$/, ""))
      .sort();
    // Every flow fixture is a webhook of the export (no login step), and is checked against it below.
    expect(flowFixtures).toEqual(Object.keys(FLOW_INPUTS).sort());
    const webhooks = exportWebhooks();
    expect(webhooks.length).toBeGreaterThan(0);
    for (const name of flowFixtures as FlowFixture[]) {
      const { method, target, headers, body } = loadFixture(name);
      for (const action of webhooks) {
        expect(mailroomRequest(action, flowContext(name)), `${name} against action ${action.uuid}`).toEqual({
          method,
          target,
          headers,
          body,
        });
      }
    }
  });
});

/**
 * A RapidPro/Weni flow running docs/rapidpro-flow.json (the template of docs/rapidpro.md): mailroom's
 * exact requests (fixtures/flow-webhook-*.http) on a raw socket, each carrying the chatbot consumer's
 * API key (no login), the answers taken as goflow takes them (2xx is Success, `@webhook` is the JSON
 * under 10000 bytes), and what reaches the simulated helpline.
 */
describe("RapidPro/Weni Call Webhook (mailroom's requests, the flow template)", () => {
  let s: CallerSystem;

  beforeAll(async () => {
    s = await startCallerSystem();
  });
  afterAll(async () => {
    await s?.close();
  });

  /** The tokens the gateway's store ever issued to the chatbot consumer (a login at token/ makes one). */
  const chatbotTokens = () => {
    const db = new DatabaseSync(s.dbFile, { readOnly: true });
    try {
      return (db.prepare("SELECT count(*) AS n FROM tokens WHERE consumer = ?").get("chatbot") as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const atHelpline = (messageId: string) =>
    s.helpline.state.messages(FLOW.session).filter((m) => m.messageId === messageId);

  it("a conversation with the API key alone: the message, then a shared location, each Success and at the helpline once; no token/ call", async () => {
    const message = await s.send("flow-webhook-message");
    const flow = readAsFlow(message);
    expect(flow.exit, describeAnswer(message)).toBe("Success");
    expect(message.status).toBe(201);
    expect(flow.keptAsResult, "the answer is JSON under 10000 bytes").toBe(true);
    const stored = await eventually("the message at the helpline", () => atHelpline(FLOW.messageId)[0]);
    expect(stored.text).toBe(FLOW.text);

    // The child's next message, in the same run: mailroom sends the same key again, nothing else.
    const location = await s.send("flow-webhook-location");
    expect(readAsFlow(location).exit, describeAnswer(location)).toBe("Success");
    expect(location.status).toBe(201);
    const place = await eventually("the location at the helpline", () => atHelpline(FLOW.locationMessageId)[0]);
    expect(`${place.text} ${place.media?.url ?? ""}`).toContain("-1.2921,36.8219");

    await sleep(500);
    expect(atHelpline(FLOW.messageId)).toHaveLength(1);
    expect(atHelpline(FLOW.locationMessageId)).toHaveLength(1);
    // Neither request logged in, and the gateway never issued the chatbot a token.
    expect([message, location].map((a) => a.request.target)).toEqual(["/api/chat/", "/api/chat/"]);
    expect(chatbotTokens()).toBe(0);
  });

  it("the same call again (mailroom's retry, the flow's own retry: same Idempotency-Key): Success, nothing twice", async () => {
    const first = await s.send("flow-webhook-message");
    const again = await s.send("flow-webhook-message");
    expect(readAsFlow(first).exit, describeAnswer(first)).toBe("Success");
    expect(readAsFlow(again).exit, describeAnswer(again)).toBe("Success");
    expect(again.status).toBe(200);
    expect(readAsFlow(again).webhook.duplicate).toBe(true);
    await eventually("the message at the helpline", () => atHelpline(FLOW.messageId).length > 0);
    await sleep(500);
    expect(s.helpline.state.messages(FLOW.session).filter((m) => m.text === FLOW.text)).toHaveLength(1);
  });

  it("a key that is not the consumer's (a wrong or revoked bridge_key): Failure, so the flow retries and tells the child", async () => {
    const answer = await s.send("flow-webhook-message", { api_key: "obk_not-the-chatbot-key-0123456789abcdefghijk" });
    expect(answer.status, describeAnswer(answer)).toBe(401);
    expect(readAsFlow(answer).exit).toBe("Failure");
  });
});
