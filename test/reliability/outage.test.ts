import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Accepted, chatbotReport, getConversation, helplineReport, percentile } from "./support/checks";
import { eventually, sleep } from "./support/gateway-process";
import { type System, startSystem } from "./support/system";
import { expectDeliveredExactlyOnce, reportFigures } from "./support/truth";
import { newConversation, sendClient, sendReply } from "./support/workload";

/**
 * The helpline down for a minute, then back, under a steady load: the gateway keeps accepting
 * (it only needs its store), reports nothing as delivered while the helpline is down, keeps the
 * chatbot direction flowing, and delivers everything once, in order, when the helpline returns.
 */
const OUTAGE_MS = Number(process.env.RELIABILITY_OUTAGE_S ?? 60) * 1000;

let system: System;
beforeAll(async () => {
  // Retry rounds every 15 s once past the first few: an operator's schedule for a flaky helpline.
  system = await startSystem({ env: { BRIDGE_RETRY_SCHEDULE_S: "2,5,10,15,15,15,15,15,30,60,300,600" } });
});
afterAll(async () => {
  await system?.close();
});

describe("the helpline down for a minute, then back", () => {
  it("accepts throughout, tells the truth meanwhile, and delivers everything once, in order, afterwards", async () => {
    const s = system;
    const conversations = Array.from({ length: 6 }, (_, i) => newConversation("outage", i));
    const client: Accepted[] = [];
    const replies: Accepted[] = [];
    const latencies: number[] = [];
    const counters = new Map(conversations.map((c) => [c.session, 0]));
    const replyCounters = new Map(conversations.map((c) => [c.session, 0]));
    let stop = false;
    const children = conversations.map(async (c, i) => {
      await sleep(i * 200);
      while (!stop) {
        const n = counters.get(c.session)! + 1;
        counters.set(c.session, n);
        const started = Date.now();
        client.push(await sendClient(s, c.session, c.contact, n));
        latencies.push(Date.now() - started);
        await sleep(1500);
      }
    });

    // Before: everything flows; the conversations get a counselor.
    await sleep(4000);
    await eventually("connected before the outage", async () => {
      const views = await Promise.all(conversations.map((c) => getConversation(s.counselor, c.session)));
      return views.every((v) => v.state === "connected");
    });

    // The outage: connections reset for the first half, 503 for the second.
    const outageStart = Date.now();
    const acceptedBefore = client.length;
    s.helpline.faults.set({ mode: "drop", paths: ["msg/"] });
    let halfway = false;
    const counselors = (async () => {
      // Counselors already connected keep answering: the chatbot direction does not wait for the helpline.
      while (Date.now() - outageStart < OUTAGE_MS - 5000) {
        for (const c of conversations) {
          const r = replyCounters.get(c.session)! + 1;
          replyCounters.set(c.session, r);
          replies.push(await sendReply(s, c.session, c.contact, r));
        }
        await sleep(5000);
      }
    })();
    while (Date.now() - outageStart < OUTAGE_MS) {
      await sleep(1000);
      if (!halfway && Date.now() - outageStart >= OUTAGE_MS / 2) {
        halfway = true;
        s.helpline.faults.set({ mode: "5xx", status: 503, paths: ["msg/"] });
        // Meanwhile: messages accepted during the outage are reported accepted, never sent.
        const during = client.slice(acceptedBefore);
        expect(during.length).toBeGreaterThan(10);
        expect(helplineReport(s.helpline, during).deliveredOnce).toBe(0);
        for (const c of conversations) {
          const view = await getConversation(s.counselor, c.session);
          const ids = new Set(during.filter((a) => a.session === c.session).map((a) => a.messageId));
          for (const m of view.messages.filter((m) => ids.has(m.message_id))) expect(m.status).toBe("accepted");
        }
      }
    }
    await counselors;
    // The chatbot direction was delivered during the outage.
    expect(chatbotReport(s.rapidpro, replies).missing).toEqual([]);
    const acceptedDuring = client.length - acceptedBefore;
    s.helpline.faults.clear();
    const outageEnd = Date.now();

    // After: a few more seconds of load, then everything arrives.
    await sleep(3000);
    stop = true;
    await Promise.all(children);
    await eventually("all delivered", () => helplineReport(s.helpline, client).missing.length === 0, 90_000, 200);
    const recoveredInMs = Date.now() - outageEnd;
    const { helpline } = await expectDeliveredExactlyOnce(s, client, replies);
    expect(s.helpline.faults.injected.drop + s.helpline.faults.injected["5xx"]).toBeGreaterThan(10);
    const figures = {
      outageS: OUTAGE_MS / 1000,
      accepted: client.length + replies.length,
      acceptedDuringOutage: acceptedDuring,
      repliesDuringOutage: replies.length,
      failedAttempts: s.helpline.faults.injected.drop + s.helpline.faults.injected["5xx"],
      copiesAtHelpline: helpline.copiesReceived,
      lost: helpline.missing.length,
      storedTwice: helpline.storedTwice.length,
      recoveredWithinS: Math.round(recoveredInMs / 100) / 10,
      acceptP99Ms: percentile(latencies, 99),
    };
    reportFigures("helpline down for a minute", figures);
    expect(percentile(latencies, 99)).toBeLessThan(2000);
  }, 240_000);
});
