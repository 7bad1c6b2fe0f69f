import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, sleep } from "../reliability/support/gateway-process";
import type { RawAnswer } from "./support/http-exchange";
import { type MailroomCallbacks, startMailroomCallbacks } from "./support/mailroom-callbacks";
import {
  type MailroomReading,
  readClose,
  readForward,
  readHistory,
  readOpen,
  readReopen,
} from "./support/mailroom-reading";
import {
  type CallerSystem,
  describeAnswer,
  startCallerSystem,
  TICKETER_SECRET,
  TICKETER_TOKEN,
} from "./support/system";

const TICKETER = "0e000788-24c5-4a89-9888-9e47c0afbca9";

/** The batch-history ticket of fixtures/ticketer-{open,history,message,close,reopen}.http. */
const T1 = {
  ticket: "7d2f0de7-b999-459d-aa18-036e0cfa4a84",
  body: "Escalation from the bot: risk high, county Nairobi",
  history: ["Habari, nahitaji msaada", "1"],
  bot: "Ungependa kuzungumza na mshauri? Jibu 1 (ndiyo) & 2 (hapana) <bure>",
  message: "Niko shuleni sasa, siwezi kupiga simu",
  afterReopen: "Nimerudi, bado nahitaji msaada",
};

/** The one-by-one ticket of fixtures/ticketer-one-by-one-*.http. */
const T2 = {
  ticket: "14a95868-aad9-4404-b888-f7b0054adf36",
  history: ["Nataka kuongea na mtu", "Asante"],
  bot: "Sawa. Tafadhali subiri, tunakutafutia mshauri.",
};

const COUNSELOR_TEXT = "Niko hapa. Uko wapi sasa hivi?";

/** Asserts mailroom would go on, and returns what it read; the message names the bridge's answer. */
function expectRead(reading: MailroomReading, answer: RawAnswer): Record<string, unknown> {
  expect(reading, describeAnswer(answer)).toMatchObject({ ok: true });
  return (reading as { value: Record<string, unknown> }).value;
}

/**
 * Weni's mailroom as a generic ticketer's client (weni-ai/mailroom services/tickets/generic/): its
 * exact requests (fixtures/ticketer-*.http) on a raw socket to the real gateway, each answer read as
 * mailroom's Go structs read it, and the effects: at the simulated helpline, and at a stand-in of
 * mailroom's callback endpoint checked as its web.go checks callbacks.
 */
describe("Weni mailroom's generic ticketer calls", () => {
  let s: CallerSystem;
  let mailroom: MailroomCallbacks;
  let t1 = "";
  let t2 = "";

  beforeAll(async () => {
    mailroom = await startMailroomCallbacks(TICKETER, TICKETER_SECRET);
    s = await startCallerSystem({
      env: {
        TICKETER_API_TOKEN: TICKETER_TOKEN,
        TICKETER_CALLBACK_URL: mailroom.url,
        TICKETER_WEBHOOK_SECRET: TICKETER_SECRET,
      },
    });
  });
  afterAll(async () => {
    await s?.close();
    await mailroom?.close();
  });

  /** The texts the helpline stored for a conversation, in arrival order. */
  const texts = (session: string) => s.helpline.state.messages(session).map((m) => m.text);
  const count = (session: string, text: string) => texts(session).filter((t) => t === text).length;
  /** In any helpline session: a reopened ticket may continue in a new conversation of the bridge. */
  const countAnywhere = (text: string) => s.helpline.state.messages().filter((m) => m.text === text).length;

  /** Opens T1 (once per run); every later case needs its external_id. */
  async function openT1(): Promise<string> {
    if (t1) return t1;
    const answer = await s.send("ticketer-open");
    t1 = String(expectRead(readOpen(answer), answer).external_id);
    mailroom.knowTicket(t1, T1.ticket);
    return t1;
  }

  it("open: mailroom reads external_id and created_at (RFC 3339); the ticket's body reaches the helpline once", async () => {
    const answer = await s.send("ticketer-open");
    const read = expectRead(readOpen(answer), answer);
    expect(read.external_id).toMatch(/^[A-Za-z0-9_]+$/);
    t1 = String(read.external_id);
    mailroom.knowTicket(t1, T1.ticket);
    await eventually("the ticket body at the helpline", () => count(t1, T1.body) === 1);
  });

  it("open again (mailroom's retry, same Idempotency-Key): the same external_id", async () => {
    const external = await openT1();
    const answer = await s.send("ticketer-open");
    expect(expectRead(readOpen(answer), answer).external_id).toBe(external);
    await sleep(300);
    expect(count(external, T1.body)).toBe(1);
  });

  it("history (oldest first, bot lines outgoing): messages_received an int; the child's lines reach the helpline once, in order", async () => {
    const external = await openT1();
    const answer = await s.send("ticketer-history", { external_id: external });
    expectRead(readHistory(answer), answer);
    await eventually("the history at the helpline", () => T1.history.every((t) => count(external, t) === 1));
    const order = T1.history.map((t) => texts(external).indexOf(t));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    // The bot's own line must not be shown to the counselor as the child's words.
    expect(count(external, T1.bot)).toBe(0);
  });

  it("a contact message: message_external_id and status are strings; it reaches the helpline once, after the history", async () => {
    const external = await openT1();
    const answer = await s.send("ticketer-message", { external_id: external });
    expectRead(readForward(answer), answer);
    await eventually("the message at the helpline", () => count(external, T1.message) === 1);
    const at = texts(external).indexOf(T1.message);
    for (const line of T1.history) {
      const index = texts(external).indexOf(line);
      if (index >= 0) expect(index).toBeLessThan(at);
    }
    await sleep(300);
    expect(count(external, T1.message)).toBe(1);
  });

  it("a counselor's reply reaches mailroom's callback once, signed and readable", async () => {
    const external = await openT1();
    await eventually("the helpline has the chat", () => s.helpline.state.chat(external) !== undefined);
    await s.helpline.counselors.reply(external, COUNSELOR_TEXT);
    const delivered = () =>
      mailroom.received.filter((c) => c.kind === "messages" && String(c.payload?.text ?? "").endsWith(COUNSELOR_TEXT));
    await eventually("the reply at mailroom", () => delivered().length > 0);
    expect(delivered()[0]).toMatchObject({ status: 200, payload: { external_id: external, direction: "outgoing" } });
    expect(mailroom.received.filter((c) => c.status !== 200)).toEqual([]);
    await sleep(500);
    expect(delivered()).toHaveLength(1);
  });

  it("mailroom's own close (closed_by platform/system, no reason): success for mailroom; the helpline is told once, mailroom is not told back", async () => {
    const external = await openT1();
    const answer = await s.send("ticketer-close", { external_id: external });
    expectRead(readClose(answer), answer);
    await eventually("the close at the helpline", () => s.helpline.state.chat(external)?.state === "closed");
    await sleep(500);
    expect(s.helpline.state.messages(external).filter((m) => m.kind === "close")).toHaveLength(1);
    expect(mailroom.received.filter((c) => c.kind === "close")).toEqual([]);
  });

  it("reopen: a 2xx (mailroom takes any 4xx as an error and keeps the ticket closed)", async () => {
    const external = await openT1();
    const answer = await s.send("ticketer-reopen", { external_id: external });
    expectRead(readReopen(answer), answer);
  });

  it("after the reopen, the contact's next message is accepted and reaches the helpline once", async () => {
    const external = await openT1();
    const answer = await s.send("ticketer-message-after-reopen", { external_id: external });
    expectRead(readForward(answer), answer);
    await eventually("the message at the helpline", () => countAnywhere(T1.afterReopen) === 1);
    await sleep(300);
    expect(countAnywhere(T1.afterReopen)).toBe(1);
  });

  it("one-by-one history on …/messages (bot line outgoing): each answer is a success for mailroom; the child's lines reach the helpline once, in order", async () => {
    const opened = await s.send("ticketer-one-by-one-open");
    t2 = String(expectRead(readOpen(opened), opened).external_id);
    mailroom.knowTicket(t2, T2.ticket);
    // mailroom stops at the first error: the rest of the history is not sent.
    for (const line of [1, 2, 3]) {
      const answer = await s.send(`ticketer-one-by-one-${line}`, { external_id: t2 });
      expectRead(readHistory(answer), answer);
    }
    await eventually("the history at the helpline", () => T2.history.every((t) => count(t2, t) === 1));
    const order = T2.history.map((t) => texts(t2).indexOf(t));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(count(t2, T2.bot)).toBe(0);
  });
});
