/**
 * `npm run soak -- [--seconds 120] [--rate 20] [--failure-rate 0.1] [--seed 1]`
 *
 * A bounded soak of the real gateway process (sqlite store) against the simulators: a steady rate
 * of chat traffic (children writing, counselors answering, both sides closing) while both upstreams
 * fail `--failure-rate` of their requests (5xx). Then it waits for everything to be delivered and
 * reports accepted, delivered, duplicates, lost, p99 latencies and the gateway's RSS at the start and
 * the end. Exits 1 on any loss or duplicate, or when memory keeps growing.
 */
import { parseArgs } from "node:util";
import { seeded } from "@openchs-bridge/simulators";
import { type Accepted, chatbotReport, helplineReport, percentile } from "./support/checks";
import { sleep } from "./support/gateway-process";
import { startSystem } from "./support/system";
import { newConversation, sendClient, sendReply } from "./support/workload";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "120" },
    rate: { type: "string", default: "20" },
    "failure-rate": { type: "string", default: "0.1" },
    seed: { type: "string", default: "1" },
    conversations: { type: "string", default: "24" },
    /**
     * Caps the gateway's V8 old space (`--max-old-space-size`). V8 grows its heap lazily when memory
     * is plentiful, which looks like a leak in RSS; under a cap a real leak crashes the gateway
     * within the run, and RSS must stay flat. `0` runs it uncapped.
     */
    "max-old-space-mib": { type: "string", default: "64" },
  },
});
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const FAILURE_RATE = Number(values["failure-rate"]);
const SEED = Number(values.seed);
const ACTIVE = Number(values.conversations);
for (const [name, v] of Object.entries({ SECONDS, RATE, FAILURE_RATE, SEED, ACTIVE })) {
  if (!Number.isFinite(v) || v < 0) throw new Error(`soak: --${name.toLowerCase()} must be a number ≥ 0`);
}
/** Memory may grow this much from the warmed-up start before it counts as unbounded. */
const RSS_GROWTH_LIMIT = 1.25;
const RSS_SLACK = 24 * 2 ** 20;

interface Live {
  session: string;
  contact: string;
  step: number;
  busy: boolean;
}

async function main(): Promise<number> {
  const heapCap = Number(values["max-old-space-mib"]);
  const system = await startSystem(heapCap > 0 ? { env: { NODE_OPTIONS: `--max-old-space-size=${heapCap}` } } : {});
  const s = system;
  const random = seeded(SEED);
  s.helpline.faults.set({ mode: "5xx", status: 503, rate: FAILURE_RATE, seed: SEED, paths: ["msg/"] });
  s.rapidpro.faults.set({
    mode: "5xx",
    status: 502,
    rate: FAILURE_RATE,
    seed: SEED + 1,
    paths: ["broadcasts.json", "flow_starts.json", "/acks"],
  });

  const client: Accepted[] = [];
  const replies: Accepted[] = [];
  const acceptedAt = new Map<string, number>();
  const acceptLatency: number[] = [];
  const errors: string[] = [];
  let conversationsOpened = 0;
  let closed = 0;
  const open = (): Live => ({ ...newConversation("soak", conversationsOpened++), step: 0, busy: false });
  const live: Live[] = Array.from({ length: ACTIVE }, open);

  const rss: Array<{ at: number; bytes: number }> = [];
  const sampler = setInterval(() => {
    const bytes = s.gateway.rssBytes();
    if (bytes !== undefined) rss.push({ at: Date.now(), bytes });
  }, 1000);

  /** One step of one conversation: a child message, a counselor reply, or a close and a new conversation. */
  async function step(c: Live, slot: number): Promise<void> {
    c.busy = true;
    const started = Date.now();
    try {
      if (c.step >= 8) {
        const helplineCloses = random() < 0.5;
        const who = helplineCloses ? s.counselor : s.chatbot;
        const answer = await who.send("POST", `chat/${c.session}/close/`, {
          chat_source: helplineCloses ? "HELPLINE" : "WENI",
          reason: "done",
        });
        if (answer.status !== 200) errors.push(`close ${c.session}: ${answer.status}`);
        closed++;
        live[slot] = open();
        return;
      }
      const n = c.step + 1;
      const accepted =
        c.step % 3 === 2 ? await sendReply(s, c.session, c.contact, n) : await sendClient(s, c.session, c.contact, n);
      (c.step % 3 === 2 ? replies : client).push(accepted);
      acceptedAt.set(accepted.messageId, Date.now());
      acceptLatency.push(Date.now() - started);
      c.step++;
    } catch (error) {
      errors.push(String(error));
    } finally {
      c.busy = false;
    }
  }

  const startedAt = Date.now();
  const loadEnds = startedAt + SECONDS * 1000;
  const inFlight = new Set<Promise<void>>();
  let ticks = 0;
  let skipped = 0;
  while (Date.now() < loadEnds) {
    ticks++;
    // A random idle conversation takes its next step; when all are busy, the tick is skipped.
    const from = Math.floor(random() * live.length);
    const offset = Array.from({ length: live.length }, (_, k) => (from + k) % live.length).find((i) => !live[i]!.busy);
    const index = offset ?? -1;
    if (index < 0) skipped++;
    else {
      const p = step(live[index]!, index).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    const next = startedAt + (ticks * 1000) / RATE;
    await sleep(Math.max(0, next - Date.now()));
  }
  await Promise.all(inFlight);
  const loadSeconds = (Date.now() - startedAt) / 1000;

  // Drain: the faults stay on; everything accepted must arrive within the retry schedule.
  const drainStart = Date.now();
  while (Date.now() - drainStart < 120_000) {
    if (
      helplineReport(s.helpline, client).missing.length === 0 &&
      chatbotReport(s.rapidpro, replies).missing.length === 0
    )
      break;
    await sleep(250);
  }
  const drainSeconds = (Date.now() - drainStart) / 1000;
  clearInterval(sampler);
  const helpline = helplineReport(s.helpline, client);
  const chatbot = chatbotReport(s.rapidpro, replies);

  const deliveryLatency: number[] = [];
  for (const a of client) {
    const m = s.helpline.state.messages(a.session).find((x) => x.messageId === a.messageId);
    const at = acceptedAt.get(a.messageId);
    if (m && at) deliveryLatency.push(Math.max(0, m.receivedAt - at));
  }
  const warm = rss.filter((r) => r.at >= startedAt + Math.min(10_000, (SECONDS * 1000) / 5));
  const quarter = Math.max(1, Math.floor(warm.length / 4));
  const mean = (xs: Array<{ bytes: number }>) => xs.reduce((sum, r) => sum + r.bytes, 0) / Math.max(1, xs.length);
  const rssStart = mean(warm.slice(0, quarter));
  const rssEnd = mean(warm.slice(-quarter));
  const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

  const report = {
    seconds: Math.round(loadSeconds),
    rate: RATE,
    failureRate: FAILURE_RATE,
    seed: SEED,
    heapCapMiB: heapCap || null,
    conversations: conversationsOpened,
    closed,
    accepted: client.length + replies.length,
    delivered:
      helpline.deliveredOnce + chatbot.deliveredOnce + helpline.storedTwice.length + chatbot.deliveredTwice.length,
    duplicates: helpline.storedTwice.length + chatbot.deliveredTwice.length,
    lost: helpline.missing.length + chatbot.missing.length,
    outOfOrder: helpline.outOfOrder.length + chatbot.outOfOrder.length,
    retriedCopiesAtHelpline: helpline.copiesReceived - helpline.deliveredOnce,
    faultsInjected: s.helpline.faults.injected["5xx"] + s.rapidpro.faults.injected["5xx"],
    deadLetters: s.gateway.events("delivery.dead_letter").length,
    acceptP50Ms: percentile(acceptLatency, 50),
    acceptP99Ms: percentile(acceptLatency, 99),
    deliveryP50Ms: percentile(deliveryLatency, 50),
    deliveryP99Ms: percentile(deliveryLatency, 99),
    drainSeconds: Math.round(drainSeconds * 10) / 10,
    rssStartMiB: mib(rssStart),
    rssEndMiB: mib(rssEnd),
    rssMaxMiB: mib(Math.max(...rss.map((r) => r.bytes))),
    skippedTicks: skipped,
    clientErrors: errors.length,
  };
  const crashed = !s.gateway.running;
  const stderr = s.gateway.stderr;
  await system.close();

  const failures: string[] = [];
  if (crashed) failures.push(`the gateway exited during the run: ${stderr.slice(-500)}`);
  if (report.lost > 0) failures.push(`${report.lost} accepted messages lost`);
  if (report.duplicates > 0) failures.push(`${report.duplicates} messages delivered twice`);
  if (report.outOfOrder > 0) failures.push(`${report.outOfOrder} conversations out of order`);
  if (report.deadLetters > 0) failures.push(`${report.deadLetters} dead letters`);
  if (errors.length > 0) failures.push(`client errors: ${errors.slice(0, 3).join("; ")}`);
  if (rssEnd > rssStart * RSS_GROWTH_LIMIT + RSS_SLACK) {
    failures.push(`RSS grew from ${report.rssStartMiB} MiB to ${report.rssEndMiB} MiB`);
  }

  process.stdout.write(
    [
      `soak: ${report.seconds} s at ${RATE}/s, ${Math.round(FAILURE_RATE * 100)}% upstream failures (seed ${SEED}), gateway heap cap ${heapCap || "none"}${heapCap ? " MiB" : ""}`,
      `  accepted ${report.accepted}, delivered ${report.delivered}, duplicates ${report.duplicates}, lost ${report.lost}`,
      `  accept p50/p99 ${report.acceptP50Ms}/${report.acceptP99Ms} ms, delivery p50/p99 ${report.deliveryP50Ms}/${report.deliveryP99Ms} ms, drained in ${report.drainSeconds} s`,
      `  faults injected ${report.faultsInjected}, retried copies at the helpline ${report.retriedCopiesAtHelpline}`,
      `  RSS ${report.rssStartMiB} MiB at start, ${report.rssEndMiB} MiB at the end (max ${report.rssMaxMiB} MiB)`,
      failures.length ? `FAIL: ${failures.join("; ")}` : "OK",
      JSON.stringify(report),
      "",
    ].join("\n"),
  );
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
