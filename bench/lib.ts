/**
 * Helpers of the benchmark harness (`npm run bench`): child processes, load generation with
 * autocannon, process memory, small statistics. Nothing here is part of any package.
 */
import { type ChildProcess, execFileSync, fork, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** How every TypeScript child runs: from source, through tsx (what `npm run serve` does). */
export const TS_EXEC_ARGV = ["--conditions=@openchs-bridge/source", "--import", import.meta.resolve("tsx")];

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A child started with `fork`: messages over IPC, asked and answered by `id`. */
export interface IpcChild {
  child: ChildProcess;
  pid: number;
  /** Sends a command and waits for the child's answer to it. */
  ask<T>(command: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Forks a bench script (`bench/<name>.ts`) and waits for its `{type:"ready"}` message, which it
 * resolves with. The child answers `{id, ...command}` messages with `{id, result}` or `{id, error}`.
 */
export async function forkScript<R>(
  script: string,
  args: string[] = [],
  options: { execArgv?: string[]; env?: Record<string, string> } = {},
): Promise<{ ready: R; ipc: IpcChild }> {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), args, {
    execArgv: [...TS_EXEC_ARGV, ...(options.execArgv ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let seq = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const ready = await new Promise<R>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${script} exited early (code ${code})`)));
    child.on("message", (message: { type?: string; id?: number; result?: unknown; error?: string }) => {
      if (message.type === "ready") resolve(message as R);
      else if (message.id !== undefined) {
        const waiter = pending.get(message.id);
        pending.delete(message.id);
        if (message.error !== undefined) waiter?.reject(new Error(message.error));
        else waiter?.resolve(message.result);
      }
    });
  });
  child.removeAllListeners("exit");
  return {
    ready,
    ipc: {
      child,
      pid: child.pid!,
      ask<T>(command: Record<string, unknown>) {
        const id = ++seq;
        return new Promise<T>((resolve, reject) => {
          pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
          child.send({ ...command, id });
        });
      },
      stop: () => stopChild(child),
    },
  };
}

/** For bench child scripts: answers the parent's commands with `handler`. */
export function serveIpc(handler: (command: Record<string, unknown>) => unknown): void {
  process.on("message", async (message: Record<string, unknown>) => {
    const id = message.id;
    try {
      process.send?.({ id, result: await handler(message) });
    } catch (error) {
      process.send?.({ id, error: error instanceof Error ? error.message : String(error) });
    }
  });
  process.on("disconnect", () => process.exit(0));
}

/** SIGTERM, then SIGKILL if the child has not exited after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** A running `openchs-bridge serve` child. */
export interface BridgeProcess {
  child: ChildProcess;
  pid: number;
  /** e.g. http://127.0.0.1:40123/api/ */
  url: string;
  /** When the child was spawned, and when it printed its `listening` line (ms, {@link nowMs}). */
  spawnedAt: number;
  listeningAt: number;
  stop(): Promise<void>;
}

/** The consumer the bench logs in as. */
export const CONSUMER = { username: "bench-bot", password: "bench-password-1", sources: ["WENI"] };

/**
 * Starts `openchs-bridge serve` from source (`packages/cli/src/bin.ts`), configured by environment
 * like any deployment, in its own process so that its CPU and memory are its own. Resolves once it
 * prints its `listening` line.
 */
export async function startBridge(options: {
  store: string;
  upstreamUrl: string;
  cwd: string;
  execArgv?: string[];
  env?: Record<string, string>;
}): Promise<BridgeProcess> {
  const spawnedAt = nowMs();
  const child = spawn(
    process.execPath,
    [
      ...TS_EXEC_ARGV,
      ...(options.execArgv ?? []),
      fileURLToPath(new URL("../packages/cli/src/bin.ts", import.meta.url)),
      "serve",
    ],
    {
      cwd: options.cwd,
      env: {
        PATH: process.env.PATH ?? "",
        PORT: "0",
        HOST: "127.0.0.1",
        BRIDGE_STORE: options.store,
        BRIDGE_CONSUMERS: JSON.stringify([CONSUMER]),
        BRIDGE_LOG: "off",
        HELPLINE_URL: `${options.upstreamUrl}helpline/api/`,
        HELPLINE_USERNAME: "bench",
        HELPLINE_PASSWORD: "bench-password",
        RAPIDPRO_URL: `${options.upstreamUrl}api/v2/`,
        RAPIDPRO_TOKEN: "bench-token",
        RAPIDPRO_FLAVOUR: "v7",
        RAPIDPRO_CLOSE_FLOW: "00000000-0000-4000-8000-000000000000",
        // For experiments: extra Node options of the bridge only (e.g. a preload that times queries).
        ...(process.env.BENCH_BRIDGE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_BRIDGE_NODE_OPTIONS } : {}),
        // For experiments: one thread or two (the bridge's default is auto).
        ...(process.env.BRIDGE_DELIVERY_THREAD ? { BRIDGE_DELIVERY_THREAD: process.env.BRIDGE_DELIVERY_THREAD } : {}),
        ...options.env,
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`openchs-bridge serve exited early (code ${code})`)));
    lines.on("line", (line) => {
      try {
        const parsed = JSON.parse(line) as { event?: string; url?: string };
        if (parsed.event === "listening" && parsed.url) resolve(parsed.url);
        else if (parsed.event === "error") process.stderr.write(`bridge: ${line}\n`);
      } catch {
        process.stderr.write(`bridge: ${line}\n`);
      }
    });
  });
  const listeningAt = nowMs();
  child.removeAllListeners("exit");
  return { child, pid: child.pid!, url, spawnedAt, listeningAt, stop: () => stopChild(child) };
}

/** Logs in at `token/` and returns the `Authorization` header value. */
export async function login(bridgeUrl: string): Promise<string> {
  const response = await fetch(`${bridgeUrl}token/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: CONSUMER.username, password: CONSUMER.password }),
  });
  if (response.status !== 200) throw new Error(`token/ answered ${response.status}`);
  const { token } = (await response.json()) as { token: string };
  return `Token ${token}`;
}

/** The resident set size of a process, in bytes (Linux `/proc`, else `ps`). */
export function rssBytes(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {
    // not Linux: ask ps
  }
  return Number(execFileSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8" }).trim()) * 1024;
}

/** CPU time (user + system) a process has used so far, in ms (Linux `/proc`; undefined elsewhere). */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 (1-based) of the whole line: 12 and 13 after the name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/** A chat message body: the `POST chat/` of a chatbot flow, as the bench sends it. */
export function chatBody(conversation: number, messageId: string): string {
  return JSON.stringify({
    chat_session: `bench_${conversation}`,
    chat_message: `I need to talk to someone, please (${messageId})`,
    chat_sender: `c0ffee00-0000-4000-8000-${String(conversation).padStart(12, "0")}`,
    chat_source: "WENI",
    chat_channel: "WENI",
    message_id: messageId,
    sender_name: "Child",
  });
}

/** What one load run measured. */
export interface LoadResult {
  /** Requests answered per second (all statuses). */
  rps: number;
  total: number;
  /** Answers with a 2xx status. */
  ok: number;
  durationS: number;
  /** Latency percentiles, ms (autocannon's histogram has 1 ms resolution; the paced runs' is exact). */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  /** `message_id` → when its 2xx answer arrived ({@link nowMs}); paced runs only. */
  answeredAt?: Map<string, number>;
}

/** The next message id: unique across the whole run, so every request is a new message. */
let messageCounter = 0;

/**
 * Drives `POST chat/` with autocannon: each request a new message (a fresh `message_id`), spread
 * round-robin over `conversations` conversations. `rate` paces the requests (per second, over all
 * connections, in bursts: see {@link paceChat}), else as fast as the server answers. `prefix` names
 * the run in the message ids.
 */
export async function loadChat(options: {
  url: string;
  authorization?: string;
  conversations: number;
  connections: number;
  durationS: number;
  prefix: string;
  conversationOffset?: number;
}): Promise<LoadResult> {
  const offset = options.conversationOffset ?? 0;
  const result = await autocannon({
    url: `${options.url}chat/`,
    connections: options.connections,
    duration: options.durationS,
    requests: [
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(options.authorization ? { authorization: options.authorization } : {}),
        },
        setupRequest(request) {
          const n = messageCounter++;
          return { ...request, body: chatBody(offset + (n % options.conversations), `${options.prefix}-${n}`) };
        },
      },
    ],
  });
  const durationS = result.duration;
  return {
    rps: result.requests.total / durationS,
    total: result.requests.total,
    ok: result["2xx"],
    durationS,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/**
 * Sends `POST chat/` at a constant rate, open loop: request `i` leaves at `start + i / rate`
 * whether or not earlier ones were answered (node:http, keep-alive, up to 256 sockets), and its
 * latency counts from that scheduled time, so a server that falls behind is not flattered
 * (coordinated omission). autocannon's own rate limit is no substitute for latency: it lets each
 * connection send its whole quota for a second at once, then pause, so "50%" arrives as bursts.
 */
export async function paceChat(options: {
  url: string;
  authorization?: string;
  conversations: number;
  rate: number;
  durationS: number;
  prefix: string;
  conversationOffset?: number;
}): Promise<LoadResult & { answeredAt: Map<string, number> }> {
  const target = new URL(`${options.url}chat/`);
  // FIFO: every pooled socket is reused in turn. With the default LIFO, sockets opened during a
  // stall sit idle until the server's keep-alive timeout (5 s) closes them, and a request sent on one
  // at that moment fails with ECONNRESET: a client artefact, not an answer of the server.
  const agent = new Agent({ keepAlive: true, maxSockets: 256, scheduling: "fifo" });
  const total = Math.max(1, Math.round(options.rate * options.durationS));
  const offset = options.conversationOffset ?? 0;
  const latencies: number[] = [];
  const answeredAt = new Map<string, number>();
  let non2xx = 0;
  let errors = 0;
  let settled = 0;
  const start = nowMs() + 5;
  const at = (i: number) => start + (i * 1000) / options.rate;
  await new Promise<void>((resolve) => {
    const finish = () => {
      if (++settled === total) resolve();
    };
    const fire = (scheduled: number) => {
      const n = messageCounter++;
      const id = `${options.prefix}-${n}`;
      const body = chatBody(offset + (n % options.conversations), id);
      const request = httpRequest(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            ...(options.authorization ? { authorization: options.authorization } : {}),
          },
        },
        (response) => {
          response.resume();
          response.on("end", () => {
            const now = nowMs();
            latencies.push(now - scheduled);
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) answeredAt.set(id, now);
            else non2xx++;
            finish();
          });
        },
      );
      request.on("error", () => {
        errors++;
        finish();
      });
      request.end(body);
    };
    let sent = 0;
    const tick = () => {
      const now = nowMs();
      while (sent < total && at(sent) <= now) fire(at(sent++));
      if (sent < total) setTimeout(tick, Math.max(0, at(sent) - nowMs()));
    };
    setTimeout(tick, 5);
  });
  agent.destroy();
  const durationS = (nowMs() - start) / 1000;
  return {
    rps: total / durationS,
    total,
    ok: answeredAt.size,
    durationS,
    p50: quantile(latencies, 0.5),
    p90: quantile(latencies, 0.9),
    p99: quantile(latencies, 0.99),
    max: quantile(latencies, 1),
    non2xx,
    errors,
    answeredAt,
  };
}

/** The `q`-quantile (0..1) of `values` (sorted copy; nearest rank). */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

/** Rounds for display. */
export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const MB = 1024 * 1024;
