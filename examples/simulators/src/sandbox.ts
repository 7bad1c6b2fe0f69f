import { parseArgs } from "node:util";
import { DEFAULT_HELPLINE_USER, type HelplineSimulator, startHelplineSimulator } from "./helpline-simulator";
import {
  DEFAULT_RAPIDPRO_TOKEN,
  type RapidProFlavour,
  type RapidProSimulator,
  startRapidProSimulator,
} from "./rapidpro-simulator";

/** Everything `npm start` needs: ports, credentials, the bridge to talk to, and the helpline's behaviour. */
export interface SandboxConfig {
  host: string;
  helplinePort: number;
  rapidproPort: number;
  flavour: RapidProFlavour;
  /** The bridge's gateway API base, e.g. `http://127.0.0.1:8080/api/`. */
  bridgeUrl: string;
  /** The helpline's consumer at the bridge (sources `OUTBOX`, `HELPLINE`). */
  helplineConsumer: { username: string; password: string };
  /** The chatbot's consumer at the bridge (source `WENI`). */
  chatbotConsumer: { username: string; password: string };
  /** The API user the bridge logs in to the helpline with. */
  helplineUser: { username: string; password: string };
  rapidproToken: string;
  /** The token the bridge sends with acks to `CHATBOT_ACK_URL`. */
  ackToken: string;
  ignoreFirstOffers: number;
  offerDelayMs: number;
  autoCounselor: boolean;
  /** Print a live transcript of both simulators. */
  transcript: boolean;
}

/** `--help` of `npm start`. */
export const SANDBOX_USAGE = `Usage: npm start -- [options]   (in examples/simulators)

Starts a simulated OpenCHS helpline and a simulated RapidPro/Weni on loopback, prints the
environment for \`openchs-bridge serve\`, then a live transcript. Ctrl-C stops.

Options (environment variable in brackets):
  --host <addr>               listen address [SANDBOX_HOST] (127.0.0.1)
  --helpline-port <port>      [HELPLINE_SIM_PORT] (8091; 0 = any free port)
  --rapidpro-port <port>      [RAPIDPRO_SIM_PORT] (8092)
  --flavour <v7|weni|nyaruka> [RAPIDPRO_SIM_FLAVOUR] (weni)
  --bridge-url <url>          the bridge's API base [SANDBOX_BRIDGE_URL] (http://127.0.0.1:8080/api/)
  --ignore-first-offers <n>   counselors ignore the first n offers of each chat [SANDBOX_IGNORE_FIRST_OFFERS] (0)
  --offer-delay-ms <ms>       delay before a chat is offered to a counselor [SANDBOX_OFFER_DELAY_MS] (500)
  --auto-counselor            counselors answer from a script [SANDBOX_AUTO_COUNSELOR=1]
  --quiet                     no live transcript
  --help

Credentials (environment only): SANDBOX_HELPLINE_CONSUMER=user:password (helpline:sandbox-helpline-consumer),
SANDBOX_CHATBOT_CONSUMER=user:password (chatbot:sandbox-chatbot-consumer),
SANDBOX_HELPLINE_USER=user:password (${DEFAULT_HELPLINE_USER.username}:${DEFAULT_HELPLINE_USER.password}),
SANDBOX_RAPIDPRO_TOKEN, SANDBOX_ACK_TOKEN.
`;

/** Reads the sandbox configuration from flags (first) and the environment. Throws a `TypeError` naming a bad value. */
export function parseSandboxConfig(argv: string[], env: Record<string, string | undefined>): SandboxConfig | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: "string" },
      "helpline-port": { type: "string" },
      "rapidpro-port": { type: "string" },
      flavour: { type: "string" },
      "bridge-url": { type: "string" },
      "ignore-first-offers": { type: "string" },
      "offer-delay-ms": { type: "string" },
      "auto-counselor": { type: "boolean" },
      quiet: { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return "help";
  const flavour = values.flavour ?? env.RAPIDPRO_SIM_FLAVOUR ?? "weni";
  if (flavour !== "v7" && flavour !== "weni" && flavour !== "nyaruka") {
    throw new TypeError("--flavour / RAPIDPRO_SIM_FLAVOUR must be v7, weni or nyaruka");
  }
  const bridgeUrl = values["bridge-url"] ?? env.SANDBOX_BRIDGE_URL ?? "http://127.0.0.1:8080/api/";
  try {
    const url = new URL(bridgeUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
  } catch {
    throw new TypeError("--bridge-url / SANDBOX_BRIDGE_URL must be an http(s) URL such as http://127.0.0.1:8080/api/");
  }
  return {
    host: values.host ?? env.SANDBOX_HOST ?? "127.0.0.1",
    helplinePort: int(
      "--helpline-port / HELPLINE_SIM_PORT",
      values["helpline-port"] ?? env.HELPLINE_SIM_PORT,
      8091,
      65535,
    ),
    rapidproPort: int(
      "--rapidpro-port / RAPIDPRO_SIM_PORT",
      values["rapidpro-port"] ?? env.RAPIDPRO_SIM_PORT,
      8092,
      65535,
    ),
    flavour,
    bridgeUrl: bridgeUrl.endsWith("/") ? bridgeUrl : `${bridgeUrl}/`,
    helplineConsumer: pair(
      "SANDBOX_HELPLINE_CONSUMER",
      env.SANDBOX_HELPLINE_CONSUMER,
      "helpline",
      "sandbox-helpline-consumer",
    ),
    chatbotConsumer: pair(
      "SANDBOX_CHATBOT_CONSUMER",
      env.SANDBOX_CHATBOT_CONSUMER,
      "chatbot",
      "sandbox-chatbot-consumer",
    ),
    helplineUser: pair(
      "SANDBOX_HELPLINE_USER",
      env.SANDBOX_HELPLINE_USER,
      DEFAULT_HELPLINE_USER.username,
      DEFAULT_HELPLINE_USER.password,
    ),
    rapidproToken: nonEmpty(env.SANDBOX_RAPIDPRO_TOKEN) ?? DEFAULT_RAPIDPRO_TOKEN,
    ackToken: nonEmpty(env.SANDBOX_ACK_TOKEN) ?? "sandbox-ack-token-0123456789",
    ignoreFirstOffers: int(
      "--ignore-first-offers / SANDBOX_IGNORE_FIRST_OFFERS",
      values["ignore-first-offers"] ?? env.SANDBOX_IGNORE_FIRST_OFFERS,
      0,
      100,
    ),
    offerDelayMs: int(
      "--offer-delay-ms / SANDBOX_OFFER_DELAY_MS",
      values["offer-delay-ms"] ?? env.SANDBOX_OFFER_DELAY_MS,
      500,
      600_000,
    ),
    autoCounselor: values["auto-counselor"] ?? ["1", "true", "yes"].includes(env.SANDBOX_AUTO_COUNSELOR ?? ""),
    transcript: !values.quiet,
  };
}

/** Both simulators, started and wired to the bridge of the config. */
export interface Sandbox {
  helpline: HelplineSimulator;
  rapidpro: RapidProSimulator;
  /** The `export NAME='value'` lines that configure `openchs-bridge serve` against the simulators. */
  envLines: string[];
  close(): Promise<void>;
}

/** Starts both simulators from a {@link SandboxConfig}. */
export async function startSandbox(config: SandboxConfig): Promise<Sandbox> {
  const helpline = await startHelplineSimulator({
    host: config.host,
    port: config.helplinePort,
    users: [config.helplineUser],
    ignoreFirstOffers: config.ignoreFirstOffers,
    offerDelayMs: config.offerDelayMs,
    autoCounselor: config.autoCounselor,
    includeText: config.transcript,
    bridge: { url: config.bridgeUrl, ...config.helplineConsumer },
  });
  let rapidpro: RapidProSimulator;
  try {
    rapidpro = await startRapidProSimulator({
      host: config.host,
      port: config.rapidproPort,
      flavour: config.flavour,
      token: config.rapidproToken,
      ackToken: config.ackToken,
      includeText: config.transcript,
      bridge: { url: config.bridgeUrl, ...config.chatbotConsumer },
    });
  } catch (error) {
    await helpline.close();
    throw error;
  }
  return {
    helpline,
    rapidpro,
    envLines: bridgeEnvLines(config, helpline, rapidpro),
    async close() {
      await Promise.all([helpline.close(), rapidpro.close()]);
    },
  };
}

/** The environment of `openchs-bridge serve` that points it at the simulators. */
export function bridgeEnvLines(
  config: SandboxConfig,
  helpline: HelplineSimulator,
  rapidpro: RapidProSimulator,
): string[] {
  const bridge = new URL(config.bridgeUrl);
  const consumers = [
    { ...config.helplineConsumer, sources: ["OUTBOX", "HELPLINE"] },
    { ...config.chatbotConsumer, sources: ["WENI"] },
  ];
  const vars: Array<[string, string]> = [
    ["HOST", bridge.hostname],
    ["PORT", bridge.port || (bridge.protocol === "https:" ? "443" : "80")],
    ["BRIDGE_BASE_PATH", bridge.pathname],
    ["BRIDGE_CONSUMERS", JSON.stringify(consumers)],
    ["HELPLINE_URL", helpline.url],
    ["HELPLINE_USERNAME", config.helplineUser.username],
    ["HELPLINE_PASSWORD", config.helplineUser.password],
    ["RAPIDPRO_URL", rapidpro.url],
    ["RAPIDPRO_TOKEN", rapidpro.token],
    ["RAPIDPRO_FLAVOUR", rapidpro.flavour],
    ["RAPIDPRO_CLOSE_FLOW", rapidpro.closeFlow],
    ["CHATBOT_ACK_URL", rapidpro.ackUrl],
    ["CHATBOT_ACK_TOKEN", config.ackToken],
  ];
  return vars.map(([name, value]) => `export ${name}=${shellQuote(value)}`);
}

/** Single-quotes a value for POSIX shells. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replaceAll("'", `'"'"'`)}'`;
}

function int(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new TypeError(`${name} must be a whole number 0..${max}`);
  return n;
}

function pair(name: string, value: string | undefined, user: string, password: string) {
  if (value === undefined || value === "") return { username: user, password };
  const colon = value.indexOf(":");
  if (colon <= 0 || colon === value.length - 1) throw new TypeError(`${name} must be user:password`);
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
