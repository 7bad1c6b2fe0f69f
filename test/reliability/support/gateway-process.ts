import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The repository root: the gateway runs from there, as `npm run serve` does. */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** `openchs-bridge serve` from source: the real command, TypeScript run by tsx, no build. */
export const SERVE_ARGS = [
  "--conditions=@openchs-bridge/source",
  "--import",
  "tsx",
  "packages/cli/src/bin.ts",
  "serve",
];

/** One JSON line of the gateway's stdout. */
export type LogLine = Record<string, unknown>;

/**
 * The real gateway process (`openchs-bridge serve`), configured by environment, restartable on
 * the same port. Its stdout and stderr are kept across restarts, so a test can read every line it
 * ever wrote (the secrets test greps them).
 */
export class GatewayProcess {
  stdout = "";
  stderr = "";
  /** The API base, e.g. `http://127.0.0.1:PORT/api/`, known once the first start has logged it. */
  url = "";
  port = 0;
  starts = 0;
  kills = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;

  constructor(private readonly env: Record<string, string>) {}

  /** Starts the process (on the port of the previous start, if any) and waits for its `listening` line. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      throw new Error("the gateway is already running");
    }
    const from = this.stdout.length;
    const child = spawn(process.execPath, SERVE_ARGS, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        HOST: "127.0.0.1",
        ...this.env,
        PORT: String(this.port),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      this.stdout += d;
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      this.stderr += d;
    });
    const started = Date.now();
    for (;;) {
      const line = this.stdout
        .slice(from)
        .split("\n")
        .find((l) => l.includes('"event":"listening"'));
      if (line) {
        const url = (JSON.parse(line) as { url: string }).url;
        this.url = url;
        this.port = Number(new URL(url).port);
        this.starts++;
        return;
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the gateway exited at start (${child.exitCode ?? child.signalCode}):\n${this.stderr}`);
      }
      if (Date.now() - started > timeoutMs) throw new Error(`the gateway did not start:\n${this.stderr}`);
      await sleep(20);
    }
  }

  /** Whether the process is alive. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Kills the process (SIGKILL by default: no shutdown code runs) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null;
    if (signal === "SIGKILL") this.kills++;
    this.child!.kill(signal);
    return this.exited!;
  }

  /** SIGTERM, and the exit code once it has stopped. */
  async stop(): Promise<number | null> {
    return this.kill("SIGTERM");
  }

  /** Resident memory of the process, in bytes (Linux `/proc`), or undefined when not running. */
  rssBytes(): number | undefined {
    if (!this.running || this.pid === undefined) return undefined;
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
      const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
      return kb === undefined ? undefined : Number(kb) * 1024;
    } catch {
      return undefined;
    }
  }

  /** Every stdout line that is JSON, across every start. */
  lines(): LogLine[] {
    return this.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as LogLine];
        } catch {
          return [];
        }
      });
  }

  /** The event lines (`{"event": name, "payload"}`) of one kind. */
  events(name: string): LogLine[] {
    return this.lines().filter((l) => l.event === name);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    }
    await sleep(intervalMs);
  }
}
