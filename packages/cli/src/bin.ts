import { existsSync, readFileSync } from "node:fs";
import { apiKeyText, newApiKey } from "./api-key";
import { ConfigError, helpText, loadConfig, parseDotEnv } from "./config";
import { deadLettersCommand } from "./dead-letters-command";
import type { CommandIo } from "./operator-bridge";
import { replayCommand } from "./replay-command";
import { startGateway } from "./serve";
import { openStore } from "./store";

// A closed stdout (a log pipe that went away) must not take the gateway down with it: log lines are
// lost, deliveries go on.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
}

function environment(): Record<string, string | undefined> {
  const env = { ...process.env };
  if (existsSync(".env")) {
    for (const [name, value] of Object.entries(parseDotEnv(readFileSync(".env", "utf8")))) env[name] ??= value;
  }
  return env;
}

const SESSION = /^[A-Za-z0-9_-]{1,100}$/;

/** What the operator commands read and write: this process's environment and streams. */
function commandIo(): CommandIo {
  return {
    env: environment(),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  };
}

/**
 * `openchs-bridge erase <conversation_id>…`: erasure on request. Deletes each conversation with its
 * messages and pending deliveries from the configured store; one JSON line per id.
 */
async function erase(ids: string[]): Promise<void> {
  if (ids.length === 0 || ids.some((id) => !SESSION.test(id))) {
    process.stderr.write("openchs-bridge: erase takes one or more conversation ids (chat_session values)\n");
    process.exitCode = 2;
    return;
  }
  const config = loadConfig(environment());
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
    process.stderr.write(`openchs-bridge: api-key takes only --json (got ${unknown.join(" ")})\n`);
    process.exitCode = 2;
    return;
  }
  const made = newApiKey();
  process.stdout.write(`${flags.includes("--json") ? JSON.stringify(made) : apiKeyText(made)}\n`);
}

/** The level of each event line; the others are `info`. */
const EVENT_LEVELS: Record<string, "warn" | "error"> = {
  "auth.failure": "warn",
  "conversation.unavailable_notice": "warn",
  "delivery.dead_letter": "error",
  error: "error",
};

async function serve(): Promise<void> {
  const config = loadConfig(environment());
  const line = (event: string, extra: Record<string, unknown> = {}) =>
    process.stdout.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: EVENT_LEVELS[event] ?? "info", event, ...extra })}\n`,
    );
  // Listen before the background work starts: a hunting deadline that passed while the gateway was
  // down fires during the start itself, and must be logged like any other.
  const gateway = await startGateway(config, {
    onComposed({ bridge }) {
      // auth.failure: refused logins (username only when it is a configured consumer) and refused
      // credentials; never a password or token, and the client address only when text is on.
      const logged = [
        "auth.failure",
        "conversation.closed",
        "conversation.unavailable_notice",
        "dead_letter.replayed",
        "delivery.dead_letter",
        "hunt.timeout",
        "retention.purged",
        "tokens.purged",
        "error",
      ] as const;
      for (const name of logged) {
        bridge.events.on(name, (payload: unknown) => line(name, { payload }));
      }
    },
  });
  line("listening", { url: gateway.url, store: gateway.storeDescription });
  // SIGTERM: ready answers 503 and the listener closes at once; deliveries in flight get
  // BRIDGE_SHUTDOWN_S to finish (the rest stay queued); exit 0. A second signal kills at once.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      const done = gateway.shutdown();
      line("shutting down", { signal, ready: "stopping", grace_s: config.BRIDGE_SHUTDOWN_S });
      done.then(
        () => {
          line("stopped");
          process.exit(0);
        },
        (error: unknown) => {
          // Never silent: what failed (messages only, which hold no secret), then exit 1.
          const errors = error instanceof AggregateError ? error.errors : [error];
          const reasons = errors.map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)));
          process.stdout.write(
            `${JSON.stringify({ time: new Date().toISOString(), level: "error", event: "shutdown.failed", reasons })}\n`,
          );
          process.exit(1);
        },
      );
    });
  }
}

async function main(argv: string[]): Promise<void> {
  const [command = "--help", ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help" || rest.includes("--help")) {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  if (command === "serve") return serve();
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
  process.stderr.write(`openchs-bridge: unknown command "${command}"\n\n${helpText()}\n`);
  process.exitCode = 2;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`openchs-bridge: ${error.message}\nRun "openchs-bridge serve --help" for every variable.\n`);
  } else {
    process.stderr.write(`openchs-bridge: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
