import type { HelplineMessageRecord } from "@openchs-bridge/simulators";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, sleep } from "../reliability/support/gateway-process";
import { headerOf } from "./support/fixtures";
import { COUNSELOR_REPLY, FLOW, openByFlow, repliesAtRapidPro } from "./support/flow-conversation";
import { phpJsonValue } from "./support/php-json";
import { type CallerSystem, describeAnswer, startCallerSystem } from "./support/system";

/**
 * The helpline's PHP (openchlai/rest_api api/index.php message_out(), lib/rpc.php kurl()): its exact
 * requests (fixtures/helpline-php-*.http) on a raw socket, in a conversation a flow opened. It logs
 * in for every call and reads only `json_decode($answer, true)["token"]`; the reply and the close
 * answers are only logged, so what counts is their effect at RapidPro.
 */
describe("the helpline's PHP (message_out via kurl)", () => {
  let s: CallerSystem;
  /** What the bridge gave the helpline's msg/: the reply echoes its from, session_id and channel. */
  let msg: HelplineMessageRecord;

  beforeAll(async () => {
    s = await startCallerSystem();
    msg = await openByFlow(s);
  });
  afterAll(async () => {
    await s?.close();
  });

  /** The PHP's login: the token as json_decode(…, true)["token"] reads it ("" when it cannot). */
  async function phpLogin(): Promise<string> {
    const answer = await s.send("helpline-php-login");
    const token = phpJsonValue(answer.text, "token");
    if (token === "") throw new Error(`json_decode(answer, true)["token"] is empty: ${describeAnswer(answer)}`);
    return token;
  }

  const echoes = () => ({ "msg.from": msg.from, "msg.session_id": msg.sessionId, "msg.channel": msg.channel });

  it("logs in at token/: json_decode(answer, true)['token'] is the token", async () => {
    const answer = await s.send("helpline-php-login");
    expect(answer.status, describeAnswer(answer)).toBe(200);
    expect(phpJsonValue(answer.text, "token")).toMatch(/^\S+$/);
  });

  it("posts the counselor's reply (all strings, echoed chat_channel, no sender_name, no User-Agent): it reaches RapidPro once", async () => {
    const token = await phpLogin();
    const answer = await s.send("helpline-php-reply", { token, ...echoes() });
    expect(headerOf(answer.request, "user-agent")).toBeUndefined();
    // The PHP only logs this answer; a refusal here is a reply lost for good.
    expect(answer.status, describeAnswer(answer)).toBeGreaterThanOrEqual(200);
    expect(answer.status, describeAnswer(answer)).toBeLessThan(300);
    const copies = await eventually("the reply at RapidPro", () => {
      const found = repliesAtRapidPro(s, COUNSELOR_REPLY);
      return found.length > 0 ? found : undefined;
    });
    expect(copies[0]!.contacts).toContain(FLOW.contact);
    await sleep(500);
    expect(repliesAtRapidPro(s, COUNSELOR_REPLY)).toHaveLength(1);
  });

  it('closes with {"chat_source":"HELPLINE"}: the chatbot is told once (its close flow starts)', async () => {
    const token = await phpLogin();
    const answer = await s.send("helpline-php-close", { token, ...echoes() });
    expect(answer.status, describeAnswer(answer)).toBeGreaterThanOrEqual(200);
    expect(answer.status, describeAnswer(answer)).toBeLessThan(300);
    const starts = () => s.rapidpro.state.flowStarts.filter((f) => f.contacts.includes(FLOW.contact));
    await eventually("the close flow started for the contact", () => starts().length > 0);
    expect(starts()[0]!.params).toMatchObject({ conversation_id: FLOW.session, closed_by: "helpline" });
    await sleep(500);
    expect(starts()).toHaveLength(1);
  });
});
