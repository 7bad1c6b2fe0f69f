import { readFileSync } from "node:fs";
import { apiKeyText, newApiKey } from "./api-key";
import { ConfigError, configErrorText, environmentWithDotEnv, helpText, loadConfig } from "./config";
import { deadLettersCommand } from "./dead-letters-command";
import { createLogger, logBridgeEvents } from "./logger";
import type { CommandIo } from "./operator-bridge";
import { replayCommand } from "./replay-command";
import { describeFailure, startGateway } from "./serve";
import { openStore } from "./store";
import { startTracing } from "./tracing";

/**
 * The commands of `openchs-bridge`, loaded by bin.ts once the Node version is known to be recent
 * enough. `main` reads the command line, runs one command and sets the exit code: 0, 1 when the
 * command failed (configuration, store, upstream), 2 when the command line itself is wrong.
 */

const SESSION = /^[A-Za-z0-9_-]{1,100}$/;

/** What the operator commands read and write: this process's environment and streams. */
function commandIo(): CommandIo {
  return {
    env: environmentWithDotEnv(),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  };
}

/**
 * `openchs-bridge erase <conversation_id>…`: erasure on request. Deletes each conversation with its
 * messages and pending deliveries from the configured store; one JSON line per id.
 */
async function erase(ids: string[]): Promise<void> {
  const flag = ids.find((id) => id.startsWith("-"));
  if (flag !== undefined) {
    usageError(`erase does not take ${JSON.stringify(flag)}`);
    return;
  }
  if (ids.length === 0 || ids.some((id) => !SESSION.test(id))) {
    usageError("erase takes one or more conversation ids (chat_session values)");
    return;
  }
  const config = loadConfig(environmentWithDotEnv());
  if (config.BRIDGE_STORE === "memory") {
    throw new ConfigError("BRIDGE_STORE", "BRIDGE_STORE=memory keeps nothing another process could erase");
  }
  const { store } = openStore(config.BRIDGE_STORE);
  try {
    for (const id of ids) {
      const erased = await store.deleteConversation(id);
      process.stdout.write(`${JSON.stringify({ event: erased ? "erased" : "not_found", conversation_id: id })}\n`);
    }
  } finally {
    await store.close();
  }
}

/** `openchs-bridge api-key [--json]`: a new consumer API key and the hash to configure. */
function apiKey(flags: string[]): void {
  const unknown = flags.filter((f) => f !== "--json");
  if (unknown.length > 0) {
    usageError(`api-key takes only --json (got ${unknown.join(" ")})`);
    return;
  }
  const made = newApiKey();
  process.stdout.write(`${flags.includes("--json") ? JSON.stringify(made) : apiKeyText(made)}\n`);
}

async function serve(): Promise<void> {
  // Read once: the gateway's variables and the OTEL_* ones come from the same environment.
  const env = environmentWithDotEnv();
  const config = loadConfig(env);
  // One logger for the whole process: request lines, bridge events, start and stop (logger.ts).
  const logger = createLogger({ level: config.BRIDGE_LOG_LEVEL, includeText: config.BRIDGE_LOG_TEXT });
  // OpenTelemetry, when OTEL_* asks for it (tracing.ts): registered before the first request.
  const tracing = await startTracing(env);
  // Listen before the background work starts: a hunting deadline that passed while the gateway was
  // down fires during the start itself, and must be logged like any other.
  const gateway = await startGateway(config, {
    logger,
    env,
    onComposed({ bridge }) {
      logBridgeEvents(bridge.events, logger, { includeText: config.BRIDGE_LOG_TEXT });
    },
  });
  logger.info(
    {
      event: "listening",
      url: gateway.url,
      store: gateway.storeDescription,
      delivery: gateway.deliveryThread ? "thread" : "in-process",
    },
    "listening",
  );
  logger.debug(
    {
      event: "config",
      log_level: config.BRIDGE_LOG_LEVEL,
      text: config.BRIDGE_LOG_TEXT,
      request_log: config.BRIDGE_LOG,
    },
    "config",
  );
  // SIGTERM: ready answers 503 and the listener closes at once; deliveries in flight get
  // BRIDGE_SHUTDOWN_S to finish (the rest stay queued); exit 0. A second signal kills at once.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      const done = shutdownAll(gateway.shutdown(), tracing);
      logger.info(
        { event: "shutting down", signal, ready: "stopping", grace_s: config.BRIDGE_SHUTDOWN_S },
        "shutting down",
      );
      done.then(
        () => {
          logger.info({ event: "stopped" }, "stopped");
          process.exit(0);
        },
        (error: unknown) => {
          // Never silent: what failed (the bridge's own messages, which hold no secret), then exit 1.
          const errors = error instanceof AggregateError ? error.errors : [error];
          logger.error({ event: "shutdown.failed", reasons: errors.map(describeFailure) }, "shutdown.failed");
          process.exit(1);
        },
      );
    });
  }
}

/**
 * The gateway's shutdown, then the tracer's (so the spans of deliveries that finished during the
 * grace are exported too); both run, and every failure is reported together.
 */
async function shutdownAll(gateway: Promise<void>, tracing: { shutdown(): Promise<void> } | undefined) {
  const failures: unknown[] = [];
  await gateway.catch((error: unknown) => failures.push(...(error instanceof AggregateError ? error.errors : [error])));
  await tracing?.shutdown().catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw new AggregateError(failures, "the gateway did not shut down cleanly");
}

/**
 * `openchs-bridge demo`: the end-to-end demo (simulated helpline and RapidPro, the gateway between
 * them, one whole conversation as a transcript). The simulators are not published: they live in the
 * repository's examples/simulators, which depends on this package (not the other way round), so the
 * demo is loaded from there when it is installed beside the CLI, as in a checkout after `npm ci`.
 */
async function demo(args: string[]): Promise<void> {
  if (args.length > 0) {
    usageError(`demo does not take ${JSON.stringify(args[0])}`);
    return;
  }
  let simulators: { runDemo: () => Promise<unknown> };
  try {
    // A variable, not a literal: the simulators are optional, and neither tsc nor the bundler may resolve them.
    simulators = await import(SIMULATORS_PACKAGE);
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND" ||
      !String(error).includes(SIMULATORS_PACKAGE)
    ) {
      throw error;
    }
    process.stderr.write(
      "openchs-bridge: the demo needs the simulators, which ship with the repository, not with this package: git clone https://github.com/openchs-bridge/openchs-bridge && cd openchs-bridge && npm ci && npm run demo\n",
    );
    process.exitCode = 1;
    return;
  }
  await simulators.runDemo();
  // The demo's servers are closed; a timer of a library still pending must not hold the prompt.
  process.exit(0);
}

/** The package of the simulators and the demo (examples/simulators in the repository). */
const SIMULATORS_PACKAGE = "@openchs-bridge/simulators";

/** This package's version, from its package.json (one level above src/ and dist/ alike). */
function version(): string {
  const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return manifest.version;
}

const USAGE_HINT = 'Run "openchs-bridge --help" for the commands and variables.';

/** A wrong command line: one line naming what is wrong, the usage hint, exit code 2. */
function usageError(problem: string): void {
  process.stderr.write(`openchs-bridge: ${problem}\n${USAGE_HINT}\n`);
  process.exitCode = 2;
}

/** The commands that take no argument at all. */
function noArguments(command: string, args: string[], run: () => Promise<void>): Promise<void> | undefined {
  if (args.length === 0) return run();
  usageError(`${command} does not take ${JSON.stringify(args[0])}`);
  return undefined;
}

async function run(argv: string[]): Promise<void> {
  const [command = "--help", ...rest] = argv;
  if (
    command === "--help" ||
    command === "-h" ||
    command === "help" ||
    rest.includes("--help") ||
    rest.includes("-h")
  ) {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  if (command === "--version" || command === "-v") {
    if (rest.length > 0) return usageError(`${command} does not take ${JSON.stringify(rest[0])}`);
    process.stdout.write(`${version()}\n`);
    return;
  }
  if (command === "serve") return noArguments("serve", rest, serve);
  if (command === "demo") return demo(rest);
  if (command === "erase") return erase(rest);
  if (command === "api-key") return apiKey(rest);
  if (command === "dead-letters") {
    process.exitCode = await deadLettersCommand(rest, commandIo());
    return;
  }
  if (command === "replay") {
    process.exitCode = await replayCommand(rest, commandIo());
    return;
  }
  usageError(
    command.startsWith("-") ? `unknown flag ${JSON.stringify(command)}` : `unknown command ${JSON.stringify(command)}`,
  );
}

/** Runs the command line `argv` (without node and the script). */
export async function main(argv: string[]): Promise<void> {
  // A closed stdout (a log pipe that went away) must not take the gateway down with it: log lines are
  // lost, deliveries go on.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
    });
  }
  try {
    await run(argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      // One line per missing or invalid variable: everything to fix, from one run.
      process.stderr.write(configErrorText(error));
    } else {
      process.stderr.write(`openchs-bridge: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    process.exit(1);
  }
}
