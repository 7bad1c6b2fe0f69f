/**
 * What one upstream call costs the bridge's own process: `calls` deliveries of `POST msg/` to the
 * fake helpline of `bench/upstream.ts` (forked, so its CPU is not counted here), one after another
 * and with `inFlight` at once, through each path named:
 *
 * - `client`: the OpenCHS helpline client with `retry: false`, as `openchs-bridge serve` builds it,
 *   on its default transport: the global `fetch`.
 * - `client-undici`: the same client on `createUndiciTransport()` of `@openchs-bridge/core/node`
 *   (undici's pooled `request`), as `openchs-bridge serve` runs it.
 * - `fetch`: a bare `fetch` with the same headers and body, the answer read and parsed.
 * - `undici-transport`: that transport alone (undici's `request` under the attempt deadline),
 *   without the client and its executor.
 *
 * Reported per path and mode: CPU µs per call (this process, `process.cpuUsage`, user + system)
 * and calls/s (wall clock), the median of `rounds` rounds; the paths take turns in each round so
 * that a busy neighbour on the machine weighs on all of them alike. Every delivery must arrive
 * once: a shortfall is a problem, and the script exits 1.
 *
 * Usage:
 *   node --conditions=@openchs-bridge/source --import tsx bench/upstream-call.ts \
 *     [calls=20000] [inFlight=32] [rounds=3] [paths=client,client-undici,fetch,undici-transport]
 */
import { createUndiciTransport } from "@openchs-bridge/core/node";
import { createOpenChsHelplineClient } from "@openchs-bridge/openchs-client";
import { forkScript, median, round } from "./lib";

const [callsArg = "20000", inFlightArg = "32", roundsArg = "3", pathsArg] = process.argv.slice(2);
const calls = Number(callsArg);
const inFlight = Number(inFlightArg);
const rounds = Number(roundsArg);
const WARMUP = 1_000;

/** Sends one delivery with this `message_id`; resolves when its answer is read. */
type Send = (messageId: string) => Promise<unknown>;

interface Stats {
  messages: number;
  rejected: number;
}

const { ready, ipc: upstream } = await forkScript<{ url: string }>("./upstream.ts");
const apiUrl = `${ready.url}helpline/api/`;
const session = "bench-session-0001";
const credentials = { username: "bench", password: "bench-password" };
const body = (messageId: string) =>
  JSON.stringify({ channel: "chat", session_id: "c1", message_id: messageId, from: "whatsapp:1", message: "hello" });
const headers = {
  accept: "application/json",
  "content-type": "application/json",
  authorization: `Bearer ${session}`,
};

function helplineClient(extra: { transport?: ReturnType<typeof createUndiciTransport> }): Send {
  const client = createOpenChsHelplineClient({ baseUrl: apiUrl, ...credentials, retry: false, ...extra });
  return (messageId) =>
    client.sendMessage({ session_id: "c1", message_id: messageId, from: "whatsapp:1", message: "hello" });
}

const paths: Record<string, () => Send> = {
  client: () => helplineClient({}),
  "client-undici": () => helplineClient({ transport: createUndiciTransport() }),
  fetch: () => async (messageId) => {
    const response = await fetch(`${apiUrl}msg/`, { method: "POST", headers, body: body(messageId) });
    const text = await response.text();
    if (response.status !== 201) throw new Error(`status ${response.status}`);
    return JSON.parse(text);
  },
  "undici-transport": () => {
    const transport = createUndiciTransport();
    return async (messageId) => {
      const response = await transport.send({
        method: "POST",
        url: `${apiUrl}msg/`,
        headers,
        body: body(messageId),
        signal: undefined,
        timeoutMs: 15_000,
      });
      if (response.status !== 201) throw new Error(`status ${response.status}`);
      return JSON.parse(response.body);
    };
  },
};
const chosen = pathsArg ? pathsArg.split(",") : Object.keys(paths);
for (const name of chosen) if (!paths[name]) throw new Error(`unknown path ${name}: ${Object.keys(paths).join(", ")}`);

/** Runs `count` sends, at most `parallel` at once; returns CPU µs per call and calls per second. */
async function run(send: Send, prefix: string, count: number, parallel: number) {
  let next = 0;
  const worker = async () => {
    while (next < count) await send(`${prefix}-${next++}`);
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: parallel }, worker));
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / count, perSecond: count / seconds };
}

const problems: string[] = [];
const figures = new Map<string, { cpuUs: number[]; perSecond: number[] }>();
const senders = new Map(chosen.map((name) => [name, paths[name]!()]));
for (const [name, send] of senders) await run(send, `warm-${name}`, WARMUP, inFlight);

for (let r = 0; r < rounds; r++) {
  for (const [name, send] of senders) {
    for (const [mode, parallel] of [
      ["sequential", 1],
      [`${inFlight} in flight`, inFlight],
    ] as const) {
      await upstream.ask({ cmd: "reset" });
      const result = await run(send, `${name}-${r}-${parallel}`, calls, parallel);
      const stats = await upstream.ask<Stats>({ cmd: "stats" });
      if (stats.messages !== calls || stats.rejected !== 0) {
        problems.push(`${name} ${mode}: ${stats.messages} of ${calls} delivered, ${stats.rejected} refused`);
      }
      const key = `${name}\t${mode}`;
      const entry = figures.get(key) ?? { cpuUs: [], perSecond: [] };
      entry.cpuUs.push(result.cpuUs);
      entry.perSecond.push(result.perSecond);
      figures.set(key, entry);
    }
  }
}

console.log(`${calls} POST msg/ per run, median of ${rounds} rounds (node ${process.version})`);
console.log(["path", "mode", "CPU µs/call", "calls/s"].join("\t"));
for (const [key, entry] of figures) {
  console.log(`${key}\t${round(median(entry.cpuUs), 1)}\t${round(median(entry.perSecond))}`);
}
await upstream.stop();
for (const problem of problems) console.error(`problem: ${problem}`);
process.exit(problems.length ? 1 : 0);
