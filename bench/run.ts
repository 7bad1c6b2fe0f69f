/**
 * `npm run bench`: the bridge measured side by side with bare node:http baselines, in one run on
 * one machine, so that the figures that matter are ratios. Prints a table and writes
 * `bench/results.json`; docs/performance.md explains every figure.
 *
 *   npm run bench                 full run (a few minutes)
 *   npm run bench -- --smoke      every scenario, tiny sizes, ~20 s (CI: checks the harness, not speed)
 *   npm run bench -- --profile    also profile each serving bridge (--cpu-prof) and print its top costs
 *   npm run bench -- --only accept,memory   some scenarios: accept (with delivery), single-flight, memory, cold-start, claim, tracing, metrics, logging
 *
 * The claim scenario runs on the memory and sqlite stores, and on PostgreSQL when DATABASE_URL is set
 * (in a scratch schema it drops).
 *   npm run bench -- --store memory         accept and single-flight on the memory store (to see the store's share)
 *
 * Exits non-zero when something is wrong rather than slow: a non-2xx answer, a message not
 * delivered, delivered twice, or more than one upstream login. Speed targets are reported, never
 * asserted.
 */
import {
  closeSync,
  fdatasyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { ClaimFigures } from "./claim";
import {
  type BridgeProcess,
  chatBody,
  cpuMs,
  forkScript,
  type IpcChild,
  type LoadResult,
  loadChat,
  login,
  MB,
  median,
  nowMs,
  paceChat,
  quantile,
  ROOT,
  round,
  rssBytes,
  sleep,
  startBridge,
} from "./lib";
import { logLineCostUs } from "./logging";
import { inProcessMessageCostUs, metricsHookCostUs, startScraper } from "./metrics";
import { formatProfile, type ProfileSummary, summariseProfile } from "./profile";
import { noopTracingCostUs, otlpSink } from "./tracing";

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    only: { type: "string" },
    store: { type: "string", default: "sqlite" },
  },
});
const SMOKE = values.smoke;
const SCENARIOS = [
  "accept",
  "single-flight",
  "memory",
  "cold-start",
  "claim",
  "tracing",
  "metrics",
  "logging",
] as const;
type Scenario = (typeof SCENARIOS)[number];
const only = values.only?.split(",").map((s) => s.trim());
for (const name of only ?? []) {
  if (!SCENARIOS.includes(name as Scenario)) throw new Error(`unknown scenario ${name}: ${SCENARIOS.join(", ")}`);
}
const enabled = (name: Scenario) => !only || only.includes(name);
if (values.store !== "sqlite" && values.store !== "memory") throw new Error("--store is sqlite or memory");
/** `BRIDGE_STORE` of the accept and single-flight bridges: a sqlite file in the run's directory, or memory. */
const storeSpec = (name: string) => (values.store === "memory" ? "memory" : `sqlite:${join(work, `${name}.db`)}`);

/** Sizes and durations: the full run, or the CI smoke (every path exercised, seconds in all). */
const CONFIG = SMOKE
  ? {
      durationS: 1,
      warmupS: 0,
      rounds: 1,
      connections: 16,
      conversations: 1000,
      singleFlight: 200,
      seedConversations: 2000,
      messagesPerConversation: 10,
      memoryStoreSizes: [100, 1000],
      coldStarts: 1,
      claimWaiting: [0, 100, 1000],
      claimCalls: 20,
      statsJobs: 10_000,
      countConversations: 2000,
    }
  : {
      durationS: 5,
      warmupS: 2,
      rounds: 2,
      connections: 32,
      conversations: 1000,
      singleFlight: 1000,
      seedConversations: 100_000,
      messagesPerConversation: 10,
      memoryStoreSizes: [1000, 10_000],
      coldStarts: 3,
      claimWaiting: [0, 1000, 10_000],
      claimCalls: 200,
      statsJobs: 100_000,
      countConversations: 100_000,
    };
const DRAIN_TIMEOUT_MS = 120_000;

/** Something wrong (not slow): reported, and the run exits non-zero. */
const problems: string[] = [];
function check(ok: boolean, problem: string): void {
  if (!ok) problems.push(problem);
}

/** One line of the table. */
interface Row {
  scenario: string;
  figure: string;
  bridge: string;
  baseline?: string;
  ratio?: string;
  target?: string;
  met?: boolean;
}
const rows: Row[] = [];
const details: Record<string, unknown> = {};
const profiles: Record<string, ProfileSummary> = {};

const work = mkdtempSync(join(os.tmpdir(), "openchs-bench-"));
/** Profiles outlive the run (the scratch directory does not): open them in Chrome DevTools, or `bench/profile.ts`. */
const profileRoot = join(os.tmpdir(), "openchs-bench-profiles", new Date().toISOString().replace(/[:.]/g, "-"));
const profileDir = (name: string) => join(profileRoot, name);
const bridgeExecArgv = (name: string) => {
  if (!values.profile) return [];
  mkdirSync(profileDir(name), { recursive: true });
  return ["--cpu-prof", `--cpu-prof-dir=${profileDir(name)}`];
};

interface UpstreamStats {
  logins: number;
  messages: number;
  rejected: number;
  firstAt?: number;
  lastAt?: number;
  receipts: [string, number][];
}

const { ready: upstreamReady, ipc: upstream } = await forkScript<{ url: string }>("./upstream.ts");
const upstreamUrl = upstreamReady.url;
const children: IpcChild[] = [upstream];
const bridges: BridgeProcess[] = [];

async function resetUpstream(loginDelayMs = 0): Promise<void> {
  await upstream.ask({ cmd: "reset", loginDelayMs });
}

/**
 * Waits until the upstream has at least `atLeast` messages and no more arrive for 300 ms; returns
 * the statistics with the receipts of `prefix`.
 */
async function drain(prefix: string, atLeast: number): Promise<UpstreamStats> {
  const deadline = nowMs() + DRAIN_TIMEOUT_MS;
  let last = -1;
  let stableSince = nowMs();
  for (;;) {
    const stats = await upstream.ask<UpstreamStats>({ cmd: "stats" });
    if (stats.messages !== last) {
      last = stats.messages;
      stableSince = nowMs();
    }
    if (stats.messages >= atLeast && nowMs() - stableSince >= 300) break;
    if (nowMs() > deadline) {
      problems.push(`${prefix}: only ${stats.messages} of ${atLeast} messages delivered after ${DRAIN_TIMEOUT_MS} ms`);
      break;
    }
    await sleep(20);
  }
  const stats = await upstream.ask<UpstreamStats>({ cmd: "stats", prefix });
  const unique = new Set(stats.receipts.map(([id]) => id)).size;
  check(unique === stats.receipts.length, `${prefix}: ${stats.receipts.length - unique} messages delivered twice`);
  check(stats.rejected === 0, `${prefix}: ${stats.rejected} deliveries refused by the upstream`);
  return stats;
}

function checkLoad(name: string, load: LoadResult): void {
  check(load.non2xx === 0 && load.errors === 0, `${name}: ${load.non2xx} non-2xx answers, ${load.errors} errors`);
}

/** Stops a bridge; with --profile, summarises the profile it wrote. */
async function stopBridge(name: string, bridge: BridgeProcess): Promise<void> {
  await bridge.stop();
  if (!values.profile) return;
  const files = readdirSync(profileDir(name)).filter((f) => f.endsWith(".cpuprofile"));
  for (const file of files) {
    const summary = summariseProfile(join(profileDir(name), file), 20);
    profiles[name] = summary;
    process.stdout.write(
      `\n--- profile of the bridge in "${name}" (${join(profileDir(name), file)})\n${formatProfile(summary)}\n`,
    );
  }
}

/** A few requests a serving bridge sees in normal use: health, messages, a conversation, a list. */
async function fewRequests(url: string, authorization: string, conversations: number[]): Promise<void> {
  const headers = { authorization, "content-type": "application/json" };
  const expect = async (response: Promise<Response>, status: number, what: string) => {
    const r = await response;
    await r.arrayBuffer();
    check(r.status === status, `${what} answered ${r.status}, expected ${status}`);
  };
  await expect(fetch(`${url}health`), 200, "GET health");
  for (const [i, c] of conversations.entries()) {
    await expect(
      fetch(`${url}chat/`, { method: "POST", headers, body: chatBody(c, `few-${c}-${i}`) }),
      201,
      "POST chat/",
    );
  }
  await expect(fetch(`${url}chat/bench_${conversations[0]}/`, { headers }), 200, "GET chat/{session}/");
  await expect(fetch(`${url}chat/?limit=50`, { headers }), 200, "GET chat/");
}

const pct = (x: number) => `${Math.round(x * 100)}%`;
const perS = (x: number) => `${Math.round(x)}/s`;
const ms = (x: number) => `${round(x, 1)} ms`;
const mb = (x: number) => `${round(x / MB, 1)} MB`;

// ---------------------------------------------------------------- accept and delivery

async function acceptScenario(): Promise<void> {
  const { ready: acceptReady, ipc: bareAccept } = await forkScript<{ url: string }>("./baseline.ts", ["accept"]);
  const { ready: forwardReady, ipc: bareForward } = await forkScript<{ url: string }>("./baseline.ts", [
    "forward",
    upstreamUrl,
  ]);
  children.push(bareAccept, bareForward);
  await resetUpstream();
  const bridge = await startBridge({
    store: storeSpec("accept"),
    upstreamUrl,
    cwd: work,
    execArgv: bridgeExecArgv("accept"),
  });
  bridges.push(bridge);
  const authorization = await login(bridge.url);
  const { conversations, connections, durationS } = CONFIG;
  const base = { conversations, connections, durationS };

  // Warm-up: JIT, connection pools, and the conversations created, for all three servers.
  if (CONFIG.warmupS > 0) {
    const warm = await loadChat({ ...base, url: bridge.url, authorization, durationS: CONFIG.warmupS, prefix: "warm" });
    checkLoad("warm-up", warm);
    await drain("warm", warm.ok);
    await loadChat({ ...base, url: acceptReady.url, durationS: CONFIG.warmupS, prefix: "warm-ba" });
    await loadChat({ ...base, url: forwardReady.url, durationS: CONFIG.warmupS, prefix: "warm-bf" });
  }

  // Maximum rates, baseline and bridge alternately, `rounds` times: the best of each.
  const runs: Record<string, unknown>[] = [];
  let bestBareAccept: LoadResult | undefined;
  let bestBareForward: LoadResult | undefined;
  let bestBridge: (LoadResult & { deliveredPerS: number; cpuMsPerMessage: number | undefined }) | undefined;
  for (let r = 0; r < CONFIG.rounds; r++) {
    const bareA = await loadChat({ ...base, url: acceptReady.url, prefix: `ba${r}` });
    checkLoad("bare accept", bareA);

    await resetUpstream();
    const cpu0 = cpuMs(bridge.pid);
    const t0 = nowMs();
    const bridgeLoad = await loadChat({ ...base, url: bridge.url, authorization, prefix: `bm${r}` });
    checkLoad("bridge accept", bridgeLoad);
    const delivered = await drain(`bm${r}`, bridgeLoad.ok);
    const cpu1 = cpuMs(bridge.pid);
    const deliveredPerS = delivered.messages / (((delivered.lastAt ?? t0) - t0) / 1000);
    const cpuMsPerMessage = cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / delivered.messages : undefined;

    await resetUpstream();
    const bareF = await loadChat({ ...base, url: forwardReady.url, prefix: `bf${r}` });
    checkLoad("bare forward", bareF);
    const forwarded = await drain(`bf${r}`, bareF.ok);
    check(forwarded.messages >= bareF.ok, "bare forward: fewer messages at the upstream than 201s");

    runs.push({
      round: r,
      bareAccept: strip(bareA),
      bridge: { ...strip(bridgeLoad), delivered: delivered.messages, deliveredPerS, cpuMsPerMessage },
      bareForward: strip(bareF),
    });
    if (!bestBareAccept || bareA.rps > bestBareAccept.rps) bestBareAccept = bareA;
    if (!bestBareForward || bareF.rps > bestBareForward.rps) bestBareForward = bareF;
    if (!bestBridge || bridgeLoad.rps > bestBridge.rps) bestBridge = { ...bridgeLoad, deliveredPerS, cpuMsPerMessage };
  }
  const bestDelivered = Math.max(...runs.map((r) => (r.bridge as { deliveredPerS: number }).deliveredPerS));

  /** A paced run on the bridge: latency of the 201s, delivery lag, and the rate delivered meanwhile. */
  const paced = async (rate: number, prefix: string) => {
    await resetUpstream();
    const t0 = nowMs();
    const load = await paceChat({ ...base, url: bridge.url, authorization, rate, prefix });
    const tEnd = nowMs();
    checkLoad(`bridge at ${rate}/s`, load);
    const delivered = await drain(prefix, load.ok);
    const inWindow = delivered.receipts.filter(([, at]) => at >= t0 && at <= tEnd).length;
    return {
      rate,
      load,
      lag: lags(delivered, load.answeredAt!),
      deliveredInWindowPerS: inWindow / ((tEnd - t0) / 1000),
    };
  };

  // Latency at half the bridge's own maximum rate (the target), and the bare server at the same rate.
  const half = await paced(Math.max(1, Math.round(bestBridge!.rps / 2)), "half");
  const bareHalf = await paceChat({ ...base, url: acceptReady.url, rate: half.rate, prefix: "bare-half" });
  // Delivery lag at 60% of the bare forwarding rate (the delivery target's rate).
  const target = await paced(Math.max(1, Math.round(bestBareForward!.rps * 0.6)), "lag");
  // Both at a rate the bridge sustains: half the rate it delivers at most.
  const easy = await paced(Math.max(1, Math.round(bestDelivered / 2)), "easy");
  const rssAfterLoad = rssBytes(bridge.pid);
  const disk = diskSyncMs(work);

  await stopBridge("accept", bridge);
  await bareAccept.stop();
  await bareForward.stop();

  const acceptRatio = bestBridge!.rps / bestBareAccept!.rps;
  const deliveredRatio = bestDelivered / bestBareForward!.rps;
  rows.push(
    {
      scenario: "accept",
      figure: "POST chat/ max rate (1,000 conversations, delivery on)",
      bridge: perS(bestBridge!.rps),
      baseline: perS(bestBareAccept!.rps),
      ratio: pct(acceptRatio),
      target: "≥ 50% of bare",
      met: acceptRatio >= 0.5,
    },
    {
      scenario: "accept",
      figure: "latency at max rate p50 / p99",
      bridge: `${bestBridge!.p50} / ${bestBridge!.p99} ms`,
      baseline: `${bestBareAccept!.p50} / ${bestBareAccept!.p99} ms`,
    },
    {
      scenario: "accept",
      figure: `latency at 50% of bridge max (${half.rate}/s) p50 / p99`,
      bridge: `${ms(half.load.p50)} / ${ms(half.load.p99)}`,
      baseline: `${ms(bareHalf.p50)} / ${ms(bareHalf.p99)}`,
      target: "p99 < 10 ms",
      met: half.load.p99 < 10,
    },
    {
      scenario: "accept",
      figure: `latency at 50% of bridge delivery max (${easy.rate}/s) p50 / p99`,
      bridge: `${ms(easy.load.p50)} / ${ms(easy.load.p99)}`,
    },
    {
      scenario: "accept",
      figure: "bridge CPU per message (accept + delivery, all threads)",
      bridge: bestBridge!.cpuMsPerMessage === undefined ? "n/a" : ms(bestBridge!.cpuMsPerMessage),
      target: "≤ 0.25 ms",
      met: bestBridge!.cpuMsPerMessage !== undefined && bestBridge!.cpuMsPerMessage <= 0.25,
    },
    {
      scenario: "accept",
      figure: "the disk: fdatasync after a 4 KB append, p50 / p99 (the floor of a durable 201)",
      bridge: `${ms(disk.p50)} / ${ms(disk.p99)}`,
    },
    {
      scenario: "delivery",
      figure: "delivered to upstream, max rate",
      bridge: perS(bestDelivered),
      baseline: perS(bestBareForward!.rps),
      ratio: pct(deliveredRatio),
      target: "≥ 60% of bare (≥ 100% with both cores)",
      met: deliveredRatio >= 0.6,
    },
    {
      scenario: "delivery",
      figure: `lag 201 → upstream at 60% of bare (${target.rate}/s) p50 / p99`,
      bridge: `${ms(target.lag.p50)} / ${ms(target.lag.p99)} (${perS(target.deliveredInWindowPerS)} delivered)`,
      target: "p99 < 50 ms",
      met: target.lag.p99 < 50,
    },
    {
      scenario: "delivery",
      figure: `lag at 50% of bridge delivery max (${easy.rate}/s) p50 / p99`,
      bridge: `${ms(easy.lag.p50)} / ${ms(easy.lag.p99)}`,
    },
  );
  const pacedDetails = (run: Awaited<ReturnType<typeof paced>>) => ({ ...run, load: strip(run.load) });
  details.accept = {
    runs,
    half: { ...pacedDetails(half), bare: strip(bareHalf) },
    target: pacedDetails(target),
    easy: pacedDetails(easy),
    rssAfterLoadBytes: rssAfterLoad,
    diskSyncMs: disk,
  };
}

/**
 * What one sync to disk costs where the store lives: 200 appends of 4 KB, each followed by
 * `fdatasync`, as the WAL sync after a commit. No 201 can be durable faster than this.
 */
function diskSyncMs(dir: string): { p50: number; p99: number } {
  const file = join(dir, "disk-sync-probe");
  const fd = openSync(file, "w");
  const page = Buffer.alloc(4096, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < (SMOKE ? 20 : 200); i++) {
      writeSync(fd, page);
      const t0 = nowMs();
      fdatasyncSync(fd);
      times.push(nowMs() - t0);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
}

/** Delivery lags (upstream receipt − the 201's arrival) of the messages both sides saw. */
function lags(stats: UpstreamStats, answeredAt: Map<string, number>) {
  const values: number[] = [];
  for (const [id, at] of stats.receipts) {
    const answered = answeredAt.get(id);
    if (answered !== undefined) values.push(at - answered);
  }
  return {
    count: values.length,
    p50: quantile(values, 0.5),
    p99: quantile(values, 0.99),
    max: quantile(values, 1),
  };
}

function strip(load: LoadResult) {
  const { answeredAt: _answered, ...rest } = load;
  return rest;
}

// ---------------------------------------------------------------- single-flight login

async function singleFlightScenario(): Promise<void> {
  // A slow login (100 ms) so that many deliveries wait for it at once.
  await resetUpstream(100);
  const bridge = await startBridge({
    store: storeSpec("single-flight"),
    upstreamUrl,
    cwd: work,
    execArgv: bridgeExecArgv("single-flight"),
  });
  bridges.push(bridge);
  const authorization = await login(bridge.url);
  const n = CONFIG.singleFlight;
  const statuses = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const response = await fetch(`${bridge.url}chat/`, {
        method: "POST",
        headers: { authorization, "content-type": "application/json" },
        body: chatBody(i, `sf-${i}`),
      });
      await response.arrayBuffer();
      return response.status;
    }),
  );
  const created = statuses.filter((s) => s === 201).length;
  check(created === n, `single-flight: ${n - created} of ${n} first messages not answered 201`);
  const stats = await drain("sf-", created);
  await stopBridge("single-flight", bridge);
  await resetUpstream();
  check(stats.logins === 1, `single-flight: ${stats.logins} upstream logins for ${n} concurrent first messages`);
  rows.push({
    scenario: "single-flight",
    figure: `upstream logins for ${n} concurrent first messages`,
    bridge: `${stats.logins} (${stats.messages} delivered)`,
    target: "exactly 1",
    met: stats.logins === 1,
  });
  details.singleFlight = { concurrent: n, created, logins: stats.logins, delivered: stats.messages };
}

// ---------------------------------------------------------------- memory

async function memoryScenario(): Promise<void> {
  const { seedConversations, messagesPerConversation } = CONFIG;
  const file = join(work, "seeded.db");
  const { ready: seeded, ipc: seeder } = await forkScript<{
    conversations: number;
    messages: number;
    seconds: number;
  }>("./seed-sqlite.ts", [file, String(seedConversations), String(messagesPerConversation)]);
  await seeder.stop();
  check(seeded.conversations === seedConversations, `seed: ${seeded.conversations} conversations`);
  check(seeded.messages === seedConversations * messagesPerConversation, `seed: ${seeded.messages} messages`);

  // The serving process on the seeded file, after a few requests; then under load, briefly.
  await resetUpstream();
  const bridge = await startBridge({
    store: `sqlite:${file}`,
    upstreamUrl,
    cwd: work,
    execArgv: bridgeExecArgv("memory"),
  });
  bridges.push(bridge);
  const authorization = await login(bridge.url);
  await fewRequests(bridge.url, authorization, [42, 4242 % seedConversations, seedConversations - 1]);
  await sleep(500);
  const rssSeeded = rssBytes(bridge.pid);
  const offset = Math.floor(seedConversations / 2);
  const loaded = await loadChat({
    url: bridge.url,
    authorization,
    conversations: CONFIG.conversations,
    connections: CONFIG.connections,
    durationS: CONFIG.durationS,
    prefix: "seeded",
    conversationOffset: offset,
  });
  checkLoad("bridge on the seeded store", loaded);
  await drain("seeded", loaded.ok);
  const rssSeededAfterLoad = rssBytes(bridge.pid);
  await stopBridge("memory", bridge);

  // The same process on an empty store, for comparison.
  const empty = await startBridge({ store: `sqlite:${join(work, "empty.db")}`, upstreamUrl, cwd: work });
  bridges.push(empty);
  await fewRequests(empty.url, await login(empty.url), [1, 2, 3]);
  await sleep(500);
  const rssEmpty = rssBytes(empty.pid);
  await empty.stop();

  // The memory store: heap with live conversations, at two sizes; and with one message each.
  type HeapReport = {
    baseHeapBytes: number;
    results: { conversations: number; messages: number; heapBytes: number; deltaBytes: number }[];
  };
  const heapOf = async (sizes: number[], perConversation: number) => {
    const { ready, ipc } = await forkScript<HeapReport>(
      "./memory-store.ts",
      [sizes.join(","), String(perConversation)],
      { execArgv: ["--expose-gc"] },
    );
    await ipc.stop();
    return ready;
  };
  const heap = await heapOf(CONFIG.memoryStoreSizes, messagesPerConversation);
  const heapOne = await heapOf([CONFIG.memoryStoreSizes.at(-1)!], 1);
  const largest = heap.results.at(-1)!;
  const smallest = heap.results[0]!;
  const one = heapOne.results[0]!;

  rows.push(
    {
      scenario: "memory",
      figure: `serving RSS, sqlite, ${seedConversations.toLocaleString("en")} conversations × ${messagesPerConversation} messages`,
      bridge: mb(rssSeeded),
      baseline: `${mb(rssEmpty)} (empty store)`,
      target: "< 200 MB",
      met: rssSeeded < 200 * MB,
    },
    {
      scenario: "memory",
      figure: "  … after a max-rate accept run on it",
      bridge: `${mb(rssSeededAfterLoad)}, ${perS(loaded.rps)} accepted`,
    },
    {
      scenario: "memory",
      figure: `heap, memory store, ${largest.conversations.toLocaleString("en")} live conversations × ${messagesPerConversation} messages`,
      bridge: `${mb(largest.heapBytes)} (${mb(largest.deltaBytes)} for the data)`,
      baseline: `${mb(smallest.heapBytes)} at ${smallest.conversations.toLocaleString("en")}`,
      target: "< 50 MB",
      met: largest.heapBytes < 50 * MB,
    },
    {
      scenario: "memory",
      figure: `heap, memory store, ${one.conversations.toLocaleString("en")} live conversations × 1 message`,
      bridge: `${mb(one.heapBytes)} (${mb(one.deltaBytes)} for the data)`,
      target: "< 50 MB",
      met: one.heapBytes < 50 * MB,
    },
  );
  details.memory = {
    seeded,
    rssSeededBytes: rssSeeded,
    rssSeededAfterLoadBytes: rssSeededAfterLoad,
    seededLoad: strip(loaded),
    rssEmptyBytes: rssEmpty,
    memoryStore: heap,
    memoryStoreOneMessage: heapOne,
  };
}

// ---------------------------------------------------------------- cold start

async function coldStartScenario(): Promise<void> {
  const bridgeTimes: number[] = [];
  const listenTimes: number[] = [];
  for (let i = 0; i < CONFIG.coldStarts; i++) {
    const bridge = await startBridge({ store: `sqlite:${join(work, `cold-${i}.db`)}`, upstreamUrl, cwd: work });
    bridges.push(bridge);
    const authorization = await login(bridge.url);
    const response = await fetch(`${bridge.url}chat/`, {
      method: "POST",
      headers: { authorization, "content-type": "application/json" },
      body: chatBody(1, `cold-${i}`),
    });
    await response.arrayBuffer();
    const at = nowMs();
    check(response.status === 201, `cold start: first POST chat/ answered ${response.status}`);
    bridgeTimes.push(at - bridge.spawnedAt);
    listenTimes.push(bridge.listeningAt - bridge.spawnedAt);
    await bridge.stop();
  }
  const bareTimes: number[] = [];
  for (let i = 0; i < CONFIG.coldStarts; i++) {
    const t0 = nowMs();
    const { ready, ipc } = await forkScript<{ url: string }>("./baseline.ts", ["accept"]);
    const response = await fetch(`${ready.url}chat/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chatBody(1, `cold-bare-${i}`),
    });
    await response.arrayBuffer();
    bareTimes.push(nowMs() - t0);
    await ipc.stop();
  }
  const bridgeMs = median(bridgeTimes);
  rows.push({
    scenario: "cold start",
    figure: "spawn → first 201 (token/ then POST chat/), median",
    bridge: `${ms(bridgeMs)} (listening at ${ms(median(listenTimes))})`,
    baseline: ms(median(bareTimes)),
    target: "< 1 s",
    met: bridgeMs < 1000,
  });
  details.coldStart = { bridgeMs: bridgeTimes, listeningMs: listenTimes, bareMs: bareTimes };
}

// ---------------------------------------------------------------- claim behind a blocked outbox

async function claimScenario(): Promise<void> {
  const stores = ["memory", "sqlite", ...(process.env.DATABASE_URL ? ["postgres"] : [])];
  const { ready, ipc } = await forkScript<{ results: ClaimFigures[] }>("./claim.ts", [
    work,
    stores.join(","),
    CONFIG.claimWaiting.join(","),
    String(CONFIG.claimCalls),
    String(CONFIG.statsJobs),
    String(CONFIG.countConversations),
  ]);
  await ipc.stop();
  const sizes = CONFIG.claimWaiting.map((n) => n.toLocaleString("en")).join(" / ");
  for (const figures of ready.results) {
    problems.push(...figures.problems);
    const first = figures.claim[0]!;
    const last = figures.claim.at(-1)!;
    // Flat: the largest queue costs at most 3× the empty one (the memory store is for tests: no target).
    const flat = last.medianMs <= 3 * Math.max(first.medianMs, 0.05);
    const durable = figures.store !== "memory";
    rows.push(
      {
        scenario: "claim",
        figure: `claimDueJobs, ${sizes} jobs waiting behind not-due heads, median (${figures.store})`,
        bridge: figures.claim.map((c) => `${round(c.medianMs, 3)} ms`).join(" / "),
        ...(durable ? { target: "flat", met: flat } : {}),
      },
      {
        scenario: "claim",
        figure: `outboxStats, ${figures.stats.jobs.toLocaleString("en")} jobs, median (${figures.store})`,
        bridge: `${round(figures.stats.medianMs, 2)} ms`,
        ...(durable ? { target: "< 50 ms", met: figures.stats.medianMs < 50 } : {}),
      },
      {
        scenario: "claim",
        figure: `conversationCounts (metrics, console), ${figures.counts.conversations.toLocaleString("en")} conversations, median (${figures.store})`,
        bridge: `${round(figures.counts.medianMs, 2)} ms`,
        ...(durable ? { target: "< 50 ms", met: figures.counts.medianMs < 50 } : {}),
      },
    );
  }
  details.claim = ready.results;
}

// ---------------------------------------------------------------- tracing

/**
 * What OpenTelemetry costs per message (accept + delivery): the bridge with no `OTEL_*` (the
 * default) and one exporting every span over OTLP/HTTP (protobuf, batched) to a sink on loopback,
 * side by side at the same paced rate, rounds alternating; CPU per message, median of the rounds.
 * And, in process, what the core's tracing calls cost when no SDK is registered.
 */
async function tracingScenario(): Promise<void> {
  const sink = await otlpSink();
  const variants = [
    { name: "off", env: {} },
    { name: "otlp", env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } },
  ];
  const started = [];
  for (const v of variants) {
    const bridge = await startBridge({
      store: storeSpec(`tracing-${v.name}`),
      upstreamUrl,
      cwd: work,
      env: v.env,
      execArgv: bridgeExecArgv(`tracing-${v.name}`),
    });
    bridges.push(bridge);
    started.push({ ...v, bridge, authorization: await login(bridge.url), cpuPerMessage: [] as number[] });
  }
  const rate = SMOKE ? 100 : 400;
  const durationS = SMOKE ? 1 : 10;
  const rounds = SMOKE ? 1 : 3;
  for (let r = 0; r < rounds + 1; r++) {
    for (const v of started) {
      await resetUpstream();
      const prefix = `tr-${v.name}-${r}`;
      const cpu0 = cpuMs(v.bridge.pid);
      const load = await paceChat({
        url: v.bridge.url,
        authorization: v.authorization,
        conversations: CONFIG.conversations,
        rate,
        durationS,
        prefix,
      });
      checkLoad(`tracing ${v.name}`, load);
      const delivered = await drain(prefix, load.ok);
      const cpu1 = cpuMs(v.bridge.pid);
      // Round 0 warms up (JIT, conversations created): not counted.
      if (r > 0 && cpu0 !== undefined && cpu1 !== undefined) v.cpuPerMessage.push((cpu1 - cpu0) / delivered.messages);
    }
  }
  for (const v of started) await stopBridge(`tracing-${v.name}`, v.bridge);
  const batches = sink.batches();
  await sink.close();
  check(batches > 0, "tracing: the traced bridge exported no span batch");
  const noop = await noopTracingCostUs(SMOKE ? 10_000 : 200_000);

  const [off, otlp] = started.map((v) => (v.cpuPerMessage.length > 0 ? median(v.cpuPerMessage) : Number.NaN));
  const noopShare = (noop.tracedUs - noop.bareUs) / 1000 / off!;
  rows.push(
    {
      scenario: "tracing",
      figure: `bridge CPU per message at ${rate}/s, no OTEL_* (tracing off)`,
      bridge: ms(off!),
    },
    {
      scenario: "tracing",
      figure: `bridge CPU per message at ${rate}/s, OTLP/HTTP export of every span (batched)`,
      bridge: ms(otlp!),
      baseline: ms(off!),
      ratio: `+${pct(otlp! / off! - 1)}`,
    },
    {
      scenario: "tracing",
      figure: "no-OTEL path: the core's tracing calls per message, no SDK (in process)",
      bridge: `${round(noop.tracedUs - noop.bareUs, 2)} µs (${round(noopShare * 100, 2)}% of the CPU per message)`,
      target: "< 2% CPU per message",
      met: noopShare < 0.02,
    },
  );
  details.tracing = {
    rate,
    durationS,
    cpuMsPerMessage: Object.fromEntries(started.map((v) => [v.name, v.cpuPerMessage])),
    exportedBatches: batches,
    noop,
  };
}

// ---------------------------------------------------------------- metrics

/**
 * What Prometheus metrics cost per message (accept + delivery): the bridge without
 * `BRIDGE_METRICS_TOKEN` (the default) and one with it, scraped every second meanwhile (Prometheus
 * scrapes every 15-60 s: this is the worst case), side by side, rounds alternating. Per variant: the
 * maximum accept rate, the delivered rate, and the CPU per message at a paced rate (median of the
 * rounds). And, in process, what the metrics hooks cost per message with metrics off and on.
 */
async function metricsScenario(): Promise<void> {
  const token = "bench-metrics-token-0123456789";
  const variants = [
    { name: "off", env: {} },
    { name: "on", env: { BRIDGE_METRICS_TOKEN: token } },
  ];
  const started = [];
  for (const v of variants) {
    const bridge = await startBridge({
      store: storeSpec(`metrics-${v.name}`),
      upstreamUrl,
      cwd: work,
      env: v.env,
      execArgv: bridgeExecArgv(`metrics-${v.name}`),
    });
    bridges.push(bridge);
    started.push({
      ...v,
      bridge,
      authorization: await login(bridge.url),
      cpuPerMessage: [] as number[],
      acceptPerS: [] as number[],
      deliveredPerS: [] as number[],
    });
  }
  const rate = SMOKE ? 100 : 400;
  const durationS = SMOKE ? 1 : 10;
  const rounds = SMOKE ? 1 : 3;
  const scrapes = { count: 0, medianMs: [] as number[] };
  const base = { conversations: CONFIG.conversations, connections: CONFIG.connections };
  for (let r = 0; r < rounds + 1; r++) {
    // Which variant goes first alternates: the machine's load drifts within a round.
    for (const v of r % 2 === 0 ? started : [...started].reverse()) {
      const scraper = v.name === "on" ? startScraper(v.bridge.url, token, 1000) : undefined;
      // Maximum rate, and the rate it delivers at.
      await resetUpstream();
      const maxPrefix = `mx-${v.name}-${r}`;
      const t0 = nowMs();
      const max = await loadChat({
        ...base,
        url: v.bridge.url,
        authorization: v.authorization,
        durationS,
        prefix: maxPrefix,
      });
      checkLoad(`metrics ${v.name} max`, max);
      const deliveredMax = await drain(maxPrefix, max.ok);
      // CPU per message at a paced rate.
      await resetUpstream();
      const prefix = `me-${v.name}-${r}`;
      const cpu0 = cpuMs(v.bridge.pid);
      const load = await paceChat({
        ...base,
        url: v.bridge.url,
        authorization: v.authorization,
        rate,
        durationS,
        prefix,
      });
      checkLoad(`metrics ${v.name}`, load);
      const delivered = await drain(prefix, load.ok);
      const cpu1 = cpuMs(v.bridge.pid);
      const scraped = await scraper?.stop();
      if (scraped) {
        problems.push(...scraped.failures.map((f) => `metrics: ${f}`));
        scrapes.count += scraped.scrapes;
        scrapes.medianMs.push(scraped.medianMs);
      }
      // Round 0 warms up (JIT, conversations created): not counted.
      if (r === 0) continue;
      v.acceptPerS.push(max.rps);
      v.deliveredPerS.push(deliveredMax.messages / (((deliveredMax.lastAt ?? t0) - t0) / 1000));
      if (cpu0 !== undefined && cpu1 !== undefined) v.cpuPerMessage.push((cpu1 - cpu0) / delivered.messages);
    }
  }
  for (const v of started) await stopBridge(`metrics-${v.name}`, v.bridge);
  check(scrapes.count > 0, "metrics: the bridge with metrics on was never scraped");
  const hooks = metricsHookCostUs(SMOKE ? 10_000 : 200_000);
  const inProcess = await inProcessMessageCostUs(SMOKE ? 1000 : 5000, SMOKE ? 1 : 6);
  const inProcessCost = inProcess.onUs / inProcess.offUs - 1;

  const figure = (values: number[]) => (values.length > 0 ? median(values) : Number.NaN);
  const [off, on] = started.map((v) => ({
    cpu: figure(v.cpuPerMessage),
    accept: figure(v.acceptPerS),
    delivered: figure(v.deliveredPerS),
  }));
  const offShare = (hooks.offUs - hooks.bareUs) / 1000 / off!.cpu;
  const onCost = on!.cpu / off!.cpu - 1;
  // The counting against the whole message's CPU (in process, the least noisy denominator).
  const onShare = (hooks.onUs - hooks.bareUs) / inProcess.offUs;
  const signed = (x: number) => `${x >= 0 ? "+" : ""}${pct(x)}`;
  rows.push(
    {
      scenario: "metrics",
      figure: "POST chat/ max rate, metrics on (scraped every 1 s) vs off",
      bridge: perS(on!.accept),
      baseline: perS(off!.accept),
      ratio: pct(on!.accept / off!.accept),
    },
    {
      scenario: "metrics",
      figure: "delivered to upstream, max rate, metrics on vs off",
      bridge: perS(on!.delivered),
      baseline: perS(off!.delivered),
      ratio: pct(on!.delivered / off!.delivered),
    },
    {
      scenario: "metrics",
      figure: `bridge CPU per message at ${rate}/s, metrics on (scraped every 1 s) vs off`,
      // Two processes on a shared machine: rounds differ by ±20%, so this is reported, not judged.
      bridge: `${ms(on!.cpu)} (rounds ${started[1]!.cpuPerMessage.map((x) => round(x, 2)).join(", ")})`,
      baseline: `${ms(off!.cpu)} (rounds ${started[0]!.cpuPerMessage.map((x) => round(x, 2)).join(", ")})`,
      ratio: signed(onCost),
    },
    {
      scenario: "metrics",
      figure: "in process (no sockets): CPU per message, accept + delivery, metrics on (1 render / 1,000) vs off",
      bridge: `${round(inProcess.onUs)} µs`,
      baseline: `${round(inProcess.offUs)} µs`,
      ratio: signed(inProcessCost),
    },
    {
      scenario: "metrics",
      figure: "metrics off: the hooks per message (clock reads, events nobody listens to), in process",
      bridge: `${round(hooks.offUs - hooks.bareUs, 3)} µs (${round(offShare * 100, 2)}% of the CPU per message)`,
      target: "< 2% CPU per message",
      met: offShare < 0.02,
    },
    {
      scenario: "metrics",
      figure: "metrics on: prom-client counting one message's events, in process",
      bridge: `${round(hooks.onUs - hooks.bareUs, 2)} µs (${round(onShare * 100, 2)}% of the CPU per message)`,
      target: "< 5% CPU per message",
      met: onShare < 0.05,
    },
    {
      scenario: "metrics",
      figure: "GET metrics (one scrape, during the load), median",
      bridge: ms(figure(scrapes.medianMs)),
    },
  );
  details.metrics = {
    rate,
    durationS,
    variants: Object.fromEntries(
      started.map((v) => [
        v.name,
        { cpuMsPerMessage: v.cpuPerMessage, acceptPerS: v.acceptPerS, deliveredPerS: v.deliveredPerS },
      ]),
    ),
    scrapes,
    hooks,
    inProcess,
  };
}

// ---------------------------------------------------------------- logging

/**
 * What the log costs per message (accept + delivery): the bridge with request lines off (what the
 * other scenarios run), with the default log (`BRIDGE_LOG=json`, `BRIDGE_LOG_LEVEL=info`: a line per
 * request) and at `debug` (also a line per message event), side by side at the same paced rate, rounds
 * alternating; CPU per message, median of the rounds. The lines go to a pipe the bench reads.
 */
async function loggingScenario(): Promise<void> {
  const variants = [
    { name: "off", env: { BRIDGE_LOG: "off" } },
    { name: "info", env: { BRIDGE_LOG: "json", BRIDGE_LOG_LEVEL: "info" } },
    { name: "debug", env: { BRIDGE_LOG: "json", BRIDGE_LOG_LEVEL: "debug" } },
  ];
  const started = [];
  for (const v of variants) {
    const bridge = await startBridge({
      store: storeSpec(`logging-${v.name}`),
      upstreamUrl,
      cwd: work,
      env: v.env,
      execArgv: bridgeExecArgv(`logging-${v.name}`),
    });
    bridges.push(bridge);
    started.push({ ...v, bridge, authorization: await login(bridge.url), cpuPerMessage: [] as number[] });
  }
  const rate = SMOKE ? 100 : 400;
  const durationS = SMOKE ? 1 : 10;
  const rounds = SMOKE ? 1 : 3;
  for (let r = 0; r < rounds + 1; r++) {
    for (const v of started) {
      await resetUpstream();
      const prefix = `lg-${v.name}-${r}`;
      const cpu0 = cpuMs(v.bridge.pid);
      const load = await paceChat({
        url: v.bridge.url,
        authorization: v.authorization,
        conversations: CONFIG.conversations,
        rate,
        durationS,
        prefix,
      });
      checkLoad(`logging ${v.name}`, load);
      const delivered = await drain(prefix, load.ok);
      const cpu1 = cpuMs(v.bridge.pid);
      // Round 0 warms up (JIT, conversations created): not counted.
      if (r > 0 && cpu0 !== undefined && cpu1 !== undefined) v.cpuPerMessage.push((cpu1 - cpu0) / delivered.messages);
    }
  }
  for (const v of started) await stopBridge(`logging-${v.name}`, v.bridge);
  const line = await logLineCostUs(SMOKE ? 10_000 : 200_000);
  const [off, info, debug] = started.map((v) => (v.cpuPerMessage.length > 0 ? median(v.cpuPerMessage) : Number.NaN));
  const signed = (ratio: number) => `${ratio >= 0 ? "+" : ""}${pct(ratio)}`;
  rows.push(
    { scenario: "logging", figure: `bridge CPU per message at ${rate}/s, request log off`, bridge: ms(off!) },
    {
      scenario: "logging",
      figure: `bridge CPU per message at ${rate}/s, default log (json, info)`,
      bridge: ms(info!),
      baseline: ms(off!),
      ratio: signed(info! / off! - 1),
    },
    {
      scenario: "logging",
      figure: `bridge CPU per message at ${rate}/s, BRIDGE_LOG_LEVEL=debug`,
      bridge: ms(debug!),
      baseline: ms(off!),
      ratio: signed(debug! / off! - 1),
    },
    {
      scenario: "logging",
      figure: "one log line, in process (pino to /dev/null): a request line / an event line",
      bridge: `${round(line.requestLineUs, 2)} µs / ${round(line.eventLineUs, 2)} µs (${round((line.requestLineUs / 1000 / off!) * 100, 2)}% / ${round((line.eventLineUs / 1000 / off!) * 100, 2)}% of the CPU per message)`,
    },
  );
  details.logging = {
    rate,
    durationS,
    cpuMsPerMessage: Object.fromEntries(started.map((v) => [v.name, v.cpuPerMessage])),
    line,
  };
}

// ---------------------------------------------------------------- run

const started = nowMs();
const loadBefore = os.loadavg();
try {
  if (enabled("accept")) await acceptScenario();
  if (enabled("single-flight")) await singleFlightScenario();
  if (enabled("memory")) await memoryScenario();
  if (enabled("cold-start")) await coldStartScenario();
  if (enabled("claim")) await claimScenario();
  if (enabled("tracing")) await tracingScenario();
  if (enabled("metrics")) await metricsScenario();
  if (enabled("logging")) await loggingScenario();
} catch (error) {
  problems.push(`harness error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  for (const bridge of bridges) await bridge.stop();
  for (const child of children) await child.stop();
}

const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  memoryBytes: os.totalmem(),
  platform: `${os.type()} ${os.release()} ${os.arch()}`,
  node: process.version,
  loadAverageBefore: loadBefore,
  loadAverageAfter: os.loadavg(),
};
const result = {
  date: new Date().toISOString(),
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
  smoke: SMOKE,
  seconds: round((nowMs() - started) / 1000, 1),
  machine,
  config: CONFIG,
  rows,
  details,
  ...(values.profile ? { profiles } : {}),
  problems,
};
writeFileSync(join(ROOT, "bench", "results.json"), `${JSON.stringify(result, null, 2)}\n`);
rmSync(work, { recursive: true, force: true });

process.stdout.write(`\n${formatTable(rows)}\n`);
process.stdout.write(
  `\n${machine.cpus} × ${machine.cpuModel}, ${round(machine.memoryBytes / 1024 ** 3, 1)} GB, ${machine.platform}, Node ${machine.node}; ` +
    `load ${loadBefore.map((l) => l.toFixed(2)).join(" ")} → ${machine.loadAverageAfter.map((l) => l.toFixed(2)).join(" ")}; ${result.seconds} s` +
    `${SMOKE ? " (smoke: reduced sizes and durations, figures not meaningful)" : ""}\n`,
);
process.stdout.write("results: bench/results.json\n");
if (problems.length > 0) {
  process.stderr.write(`\n${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join("\n")}\n`);
  process.exitCode = 1;
}

function formatTable(table: Row[]): string {
  const header = ["scenario", "figure", "bridge", "bare node:http", "ratio", "target", "met"];
  const cells = table.map((r) => [
    r.scenario,
    r.figure,
    r.bridge,
    r.baseline ?? "",
    r.ratio ?? "",
    r.target ?? "",
    r.met === undefined ? "" : r.met ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.map(line)].join("\n");
}
