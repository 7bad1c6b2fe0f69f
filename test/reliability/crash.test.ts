import { createSqliteStore } from "@openchs-bridge/core/sqlite";
import { seeded } from "@openchs-bridge/simulators";
import { afterEach, describe, expect, it } from "vitest";
import { type Accepted, chatbotReport, getConversation, helplineReport, percentile } from "./support/checks";
import { eventually, sleep } from "./support/gateway-process";
import { type System, startAndConnect, startSystem } from "./support/system";
import { reportFigures } from "./support/truth";
import { newConversation, sendClient, sendReply } from "./support/workload";

/**
 * SIGKILL crashes of the real gateway process (sqlite store) at random points of a running load,
 * restarted each time. Nothing accepted may be lost, nothing stored twice, no conversation left in
 * a wrong state; hunting deadlines fire after a restart.
 */
const KILLS = Number(process.env.RELIABILITY_KILLS ?? 20);
const SEED = Number(process.env.RELIABILITY_SEED ?? 20_261_125);

let system: System | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

describe("SIGKILL under load", () => {
  it(`${KILLS} kills at random points: zero accepted lost, zero stored twice, every conversation in its right state`, async () => {
    system = await startSystem({ env: { BRIDGE_RETRY_SCHEDULE_S: "1,2,5,10,30,60,120,300" } });
    const s = system;
    const random = seeded(SEED);
    const between = (min: number, max: number) => Math.round(min + random() * (max - min));
    const client: Accepted[] = [];
    const replies: Accepted[] = [];
    const closes = new Map<string, "chatbot" | "helpline">();
    const latencies: number[] = [];
    let loadDone = false;

    // The load: conversations open one after another; in each, the child writes, a counselor answers,
    // and one side closes about half of them. Every call is retried (same message_id) until answered.
    const conversation = async (i: number) => {
      const c = newConversation("crash", i);
      const messages = 3 + (i % 5);
      for (let m = 1; m <= messages; m++) {
        const started = Date.now();
        client.push(await sendClient(s, c.session, c.contact, m, 120_000));
        latencies.push(Date.now() - started);
        if (m % 2 === 0) replies.push(await sendReply(s, c.session, c.contact, m / 2, 120_000));
        await sleep(100 + ((i * 37 + m * 11) % 400));
      }
      if (i % 2 === 0) {
        const side = i % 4 === 0 ? "helpline" : "chatbot";
        const who = side === "helpline" ? s.counselor : s.chatbot;
        const answer = await who.send(
          "POST",
          `chat/${c.session}/close/`,
          { chat_source: side === "helpline" ? "HELPLINE" : "WENI", reason: "done" },
          120_000,
        );
        expect(answer.status).toBe(200);
        closes.set(c.session, side);
      }
    };
    const load = (async () => {
      let i = 0;
      const running = new Set<Promise<void>>();
      while (s.gateway.kills < KILLS) {
        const p = conversation(i++).finally(() => running.delete(p));
        running.add(p);
        if (running.size >= 8) await Promise.race(running);
        await sleep(150);
      }
      await Promise.all(running);
      loadDone = true;
    })();

    // The killer: SIGKILL at a random moment, down for a random while, restart on the same port and file.
    // At each kill, what was accepted but not yet at the helpline: the work the restarted gateway must pick up.
    const downtimes: number[] = [];
    const kills: Array<{ at: number; pending: Accepted[] }> = [];
    const storedAt = (a: Accepted) =>
      s.helpline.state.messages(a.session).find((m) => m.kind === "message" && m.messageId === a.messageId)?.receivedAt;
    while (s.gateway.kills < KILLS) {
      await sleep(between(300, 2500));
      kills.push({ at: Date.now(), pending: client.filter((a) => storedAt(a) === undefined) });
      await s.gateway.kill("SIGKILL");
      const down = between(0, 600);
      await sleep(down);
      await startAndConnect(s);
      downtimes.push(down);
    }
    await load;
    expect(loadDone).toBe(true);

    // Everything accepted arrives once, in order; the gateway records it.
    await eventually("all delivered", () => helplineReport(s.helpline, client).missing.length === 0, 120_000, 250);
    await eventually("all replies", () => chatbotReport(s.rapidpro, replies).missing.length === 0, 120_000, 250);
    const helpline = helplineReport(s.helpline, client);
    const chatbot = chatbotReport(s.rapidpro, replies);
    expect(helpline).toMatchObject({ missing: [], storedTwice: [], outOfOrder: [], altered: [] });
    expect(chatbot).toMatchObject({ missing: [], outOfOrder: [] });

    // Each conversation ends where its story says: closed by whom it was closed by, else connected.
    const sessions = [...new Set(client.map((a) => a.session))];
    const views = await eventually(
      "every outcome recorded",
      async () => {
        const all = await Promise.all(sessions.map((session) => getConversation(s.counselor, session)));
        return all.every((v) => v.messages.every((m) => ["sent", "delivered", "read"].includes(m.status)))
          ? all
          : undefined;
      },
      60_000,
      250,
    );
    for (const view of views) {
      const closedBy = closes.get(view.conversation_id);
      if (closedBy) expect(view).toMatchObject({ state: "closed", closed_by: closedBy, close_reason: "done" });
      else expect(view.state).toBe("connected");
    }
    // The other side heard of each close: the helpline once (its close message is deduplicated),
    // RapidPro's close flow at least once.
    await eventually("close notices", () =>
      [...closes].every(([session, side]) =>
        side === "chatbot"
          ? s.helpline.state.messages(session).filter((m) => m.kind === "close").length === 1
          : s.rapidpro.state.flowStarts.some((f) => f.params.conversation_id === session),
      ),
    );

    // Nothing left in the outbox once the gateway has stopped cleanly.
    expect(await s.gateway.stop()).toBe(0);
    const store = createSqliteStore(s.dbFile);
    const pending = await store.pendingJobs();
    await store.close();
    expect(pending).toEqual([]);
    expect(s.gateway.events("delivery.dead_letter")).toEqual([]);
    expect(s.gateway.stderr).toBe("");

    // Pickup: from each kill to the first delivery of the work it interrupted (restart included), and
    // to the last of it. Short leases, released at restart, keep this to the restart time.
    const pickups = kills.flatMap(({ at, pending }) => {
      const times = pending.map(storedAt).filter((t): t is number => t !== undefined && t >= at);
      return times.length === 0 ? [] : [{ firstMs: Math.min(...times) - at, allMs: Math.max(...times) - at }];
    });
    reportFigures("pickup after SIGKILL", {
      kills: kills.length,
      withPendingWork: pickups.length,
      firstDeliveryMs: pickups.map((p) => p.firstMs),
      maxFirstDeliveryMs: Math.max(0, ...pickups.map((p) => p.firstMs)),
      maxAllDeliveredMs: Math.max(0, ...pickups.map((p) => p.allMs)),
    });
    // Bounded, not micro-timed: a restart of the gateway under tsx takes a few seconds on a busy machine.
    for (const p of pickups) expect(p.firstMs).toBeLessThan(20_000);

    const closeFlowStarts = s.rapidpro.state.flowStarts.length;
    reportFigures("SIGKILL under load", {
      seed: SEED,
      kills: s.gateway.kills,
      starts: s.gateway.starts,
      conversations: sessions.length,
      closed: closes.size,
      accepted: client.length + replies.length,
      clientMessages: client.length,
      replies: replies.length,
      lost: helpline.missing.length + chatbot.missing.length,
      storedTwiceAtHelpline: helpline.storedTwice.length,
      copiesAtHelpline: helpline.copiesReceived,
      repliesTwiceAtRapidPro: chatbot.deliveredTwice.length,
      closeFlowStarts,
      helplineClosed: [...closes.values()].filter((v) => v === "helpline").length,
      acceptP99MsAcrossKills: percentile(latencies, 99),
      maxDowntimeMs: Math.max(...downtimes),
    });
    // RapidPro keeps no message ids: a kill between its answer and the commit re-sends one reply.
    expect(chatbot.deliveredTwice.length).toBeLessThanOrEqual(s.gateway.kills);
  }, 420_000);
});

describe("hunting deadlines across restarts", () => {
  it("a deadline that passed while the gateway was down fires after the restart, and hunting gives up on time", async () => {
    system = await startSystem({
      env: { HUNT_TIMEOUT_S: "2", HUNT_MAX: "1" },
      helpline: { ignoreFirstOffers: 100 }, // nobody picks up
    });
    const s = system;
    const { session, contact } = newConversation("hunt", 0);
    await sendClient(s, session, contact, 1);
    await eventually("hunting", async () => (await getConversation(s.counselor, session)).state === "hunting");
    await s.gateway.kill("SIGKILL");
    await sleep(3000); // the deadline passes while nothing runs
    await startAndConnect(s);
    // Round 1: the message is re-sent to the helpline as a re-notification.
    await eventually(
      "re-notification",
      () => s.helpline.state.messages(session).find((m) => m.kind === "renotify"),
      10_000,
    );
    expect(s.gateway.events("hunt.timeout").map((e) => e.payload)).toEqual([
      { conversationId: session, round: 1, of: 1, exhausted: false },
    ]);
    await s.gateway.kill("SIGKILL");
    await sleep(3000);
    await startAndConnect(s);
    // Round 2 is past the maximum: the conversation closes (no_counselor) and both sides are told.
    await eventually(
      "closed",
      async () => (await getConversation(s.counselor, session)).state === "closed" || undefined,
      10_000,
    );
    expect(await getConversation(s.counselor, session)).toMatchObject({
      state: "closed",
      closed_by: "system",
      close_reason: "no_counselor",
    });
    await eventually("flow start", () =>
      s.rapidpro.state.flowStarts.find((f) => f.contacts.includes(contact) && f.params.reason === "no_counselor"),
    );
    await eventually("close at the helpline", () => s.helpline.state.chat(session)?.state === "closed");
    const timeouts = s.gateway.events("hunt.timeout").map((e) => e.payload);
    expect(timeouts.at(-1)).toEqual({ conversationId: session, round: 2, of: 1, exhausted: true });
    expect(s.helpline.state.messages(session).filter((m) => m.kind === "renotify")).toHaveLength(1);
    reportFigures("hunting across restarts", { kills: 2, renotified: 1, closedWith: "no_counselor" });
  }, 60_000);
});
