import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, sleep } from "../reliability/support/gateway-process";
import { type CallerSystem, describeAnswer, startCallerSystem } from "./support/system";

/** The documented example's conversation and text (fixtures/postman-message.http). */
const SESSION = "e32434511";
const TEXT = "This is the message I am sending FROM PSTM";

/**
 * People following the old Postman documentation (openchlsystem/api-gateway README.md): its exact
 * requests (fixtures/postman-*.http) on a raw socket to a gateway under the documented base path
 * `/open/api/`: numbers for chat_sender/chat_receiver, the close as "raw (text)".
 */
describe("the documented Postman examples (openchlsystem/api-gateway)", () => {
  let s: CallerSystem;

  beforeAll(async () => {
    s = await startCallerSystem({ env: { BRIDGE_BASE_PATH: "/open/api/" } });
  });
  afterAll(async () => {
    await s?.close();
  });

  async function postmanLogin(): Promise<string> {
    const answer = await s.send("postman-login");
    const token = (JSON.parse(answer.text) as { token?: unknown }).token;
    if (answer.status !== 200 || typeof token !== "string") throw new Error(`login: ${describeAnswer(answer)}`);
    return token;
  }

  it("Authentication-Token Request: 200 with a token", async () => {
    const answer = await s.send("postman-login");
    expect(answer.status, describeAnswer(answer)).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ token: expect.any(String) });
  });

  it("Send a chat to OPENCHS (numbers as sender and receiver): accepted, at the helpline once from 23343411", async () => {
    const token = await postmanLogin();
    const answer = await s.send("postman-message", { token });
    expect(answer.status, describeAnswer(answer)).toBe(201);
    const stored = await eventually("the message at the helpline", () =>
      s.helpline.state.messages(SESSION).find((m) => m.kind === "message" && m.text === TEXT),
    );
    expect(stored.from).toBe("23343411");
    await sleep(500);
    expect(s.helpline.state.messages(SESSION).filter((m) => m.text === TEXT)).toHaveLength(1);
  });

  it("Chat Session Close as raw (text), Content-Type text/plain: accepted, the helpline is told once", async () => {
    const token = await postmanLogin();
    if (!s.helpline.state.chat(SESSION)) {
      const opened = await s.send("postman-message", { token });
      expect(opened.status, `the close needs the message first: ${describeAnswer(opened)}`).toBe(201);
    }
    const answer = await s.send("postman-close", { token });
    expect(answer.status, describeAnswer(answer)).toBeGreaterThanOrEqual(200);
    expect(answer.status, describeAnswer(answer)).toBeLessThan(300);
    await eventually("the close at the helpline", () => s.helpline.state.chat(SESSION)?.state === "closed");
    await sleep(500);
    expect(s.helpline.state.messages(SESSION).filter((m) => m.kind === "close")).toHaveLength(1);
  });
});
