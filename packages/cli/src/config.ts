import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { ConfigError as CoreConfigError } from "@openchs-bridge/core";
import { z } from "zod";

/** One environment variable of `openchs-bridge serve`: what `serve --help` lists. */
export interface VariableDoc {
  name: string;
  description: string;
  default?: string;
  required?: boolean;
  secret?: boolean;
}

/** Every variable, in the order `--help` and docs/configuration.md list them. */
export const VARIABLES: VariableDoc[] = [
  { name: "PORT", description: "listen port", default: "8080" },
  { name: "HOST", description: "listen address", default: "127.0.0.1" },
  { name: "BRIDGE_BASE_PATH", description: "mount point of the gateway API", default: "/api/" },
  {
    name: "BRIDGE_STORE",
    description: "sqlite:<file>, memory, or postgres://…[?schema=<name>] (several instances on one database)",
    default: "sqlite:./data/bridge.db",
    secret: true,
  },
  {
    name: "BRIDGE_CONSUMERS",
    description:
      'JSON: [{"username","password","sources":["WENI"],"api_keys"?:["sha256:…"],"admin"?:true}, …] (password ≥ 8 chars; api_keys from `openchs-bridge api-key`; an admin opens admin/… and may have no sources)',
    required: true,
    secret: true,
  },
  { name: "BRIDGE_TOKEN_TTL", description: "token lifetime, seconds", default: "3600" },
  {
    name: "BRIDGE_LOGIN_MAX_FAILURES",
    description: "failed logins per (username, client address) pair in the window; then 429",
    default: "5",
  },
  {
    name: "BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS",
    description: "failed logins per client address, any username, in the window; then 429 for all",
    default: "100",
  },
  { name: "BRIDGE_LOGIN_WINDOW_S", description: "the failed-login window, seconds", default: "300" },
  {
    name: "BRIDGE_TRUSTED_PROXIES",
    description: "reverse proxies whose forwarding header gives the client address: IPs and CIDRs, comma-separated",
  },
  {
    name: "BRIDGE_FORWARDED_HEADER",
    description: "the header those proxies write: x-forwarded-for, or forwarded (RFC 7239)",
    default: "x-forwarded-for",
  },
  { name: "BRIDGE_MAX_BODY_BYTES", description: "largest request body", default: "1048576" },
  { name: "HELPLINE_URL", description: "OpenCHS core API, e.g. https://host/helpline/api/", required: true },
  { name: "HELPLINE_USERNAME", description: "helpline API user", required: true },
  { name: "HELPLINE_PASSWORD", description: "helpline API password", required: true, secret: true },
  {
    name: "HELPLINE_MESSAGE_ENCODING",
    description: "plain, or base64 (2025 gateways: message base64 + mime)",
    default: "plain",
  },
  { name: "RAPIDPRO_URL", description: "RapidPro API v2, e.g. https://host/api/v2/", required: true },
  { name: "RAPIDPRO_TOKEN", description: "RapidPro API token", required: true, secret: true },
  { name: "RAPIDPRO_FLAVOUR", description: "v7, weni or nyaruka (else detected once from the server)" },
  {
    name: "RAPIDPRO_CLOSE_FLOW",
    description: "flow UUID started when the helpline closes or hunting is given up",
    required: true,
  },
  {
    name: "RAPIDPRO_UNAVAILABLE_FLOW",
    description:
      "flow UUID started (params.reason helpline_unavailable) when the helpline has not taken a new conversation in time; unset: RAPIDPRO_CLOSE_FLOW",
  },
  {
    name: "BRIDGE_UNAVAILABLE_NOTICE_S",
    description:
      "seconds after which a new conversation whose first message the helpline has not accepted is reported to the chatbot, once; 0: off",
    default: "120",
  },
  {
    name: "BRIDGE_UNAVAILABLE_TEXT",
    description:
      "style B: the text mailroom sends the child then (style A starts a flow instead); unset: nothing is sent",
  },
  { name: "CHATBOT_ACK_URL", description: "where delivery acks for the chatbot go (optional)" },
  { name: "CHATBOT_ACK_TOKEN", description: "Authorization token for CHATBOT_ACK_URL", secret: true },
  { name: "HUNT_TIMEOUT_S", description: "seconds to wait for a counselor before re-notifying", default: "120" },
  { name: "HUNT_MAX", description: "re-notifications before giving up (no_counselor)", default: "3" },
  {
    name: "BRIDGE_COUNSELOR_NAME_TEMPLATE",
    description: "the counselor's pseudonym when the helpline names none; {extension} is its chat_receiver",
    default: "Counselor {extension}",
  },
  {
    name: "BRIDGE_RETRY_SCHEDULE_S",
    description:
      "waits between delivery retry rounds, seconds, comma-separated, the last repeated until the horizon; unset: 5,30,120,300,600,1800, then BRIDGE_RETRY_MAX_WAIT_S, each ±10 %",
  },
  {
    name: "BRIDGE_RETRY_HORIZON_S",
    description:
      "how long after a message's first failed round it is still retried, seconds; then the dead letter (kept, replayable). Unset while BRIDGE_RETRY_SCHEDULE_S is set: the schedule's sum",
    default: "259200",
  },
  { name: "BRIDGE_RETRY_MAX_WAIT_S", description: "longest wait between two retry rounds, seconds", default: "3600" },
  {
    name: "BRIDGE_UPSTREAM_TIMEOUT_S",
    description: "per-attempt timeout of each call to the helpline and RapidPro, seconds",
    default: "10",
  },
  {
    name: "BRIDGE_RETENTION_DAYS",
    description: "delete conversations closed longer ago than this many days (fractions allowed); unset: keep",
  },
  {
    name: "TICKETER_API_TOKEN",
    description: "style B: the Bearer token mailroom sends; style B is off when unset",
    secret: true,
  },
  { name: "TICKETER_CALLBACK_URL", description: "style B: mailroom's …/event_callback/{ticketer_uuid}" },
  { name: "TICKETER_WEBHOOK_SECRET", description: "style B: HMAC secret for signing callbacks", secret: true },
  { name: "BRIDGE_LOG", description: "request log: json (one line per request), or off", default: "json" },
  {
    name: "BRIDGE_METRICS_TOKEN",
    description:
      "turns on GET {base}metrics (Prometheus text format) for a scraper sending this Bearer token; unset: 404",
    secret: true,
  },
  {
    name: "BRIDGE_LOG_LEVEL",
    description: "least severe log line written: debug, info, warn or error (JSON lines on stdout)",
    default: "info",
  },
  {
    name: "BRIDGE_LOG_TEXT",
    description:
      "true: message text, free-text reasons, client addresses and upstream error messages appear in events and logs (personal data); false: never",
    default: "false",
  },
  {
    name: "BRIDGE_SHUTDOWN_S",
    description: "on SIGTERM, how long delivery attempts in flight may finish, seconds; the rest stay queued",
    default: "10",
  },
  {
    name: "BRIDGE_DELIVERY_THREAD",
    description:
      "on: delivery, hunting and housekeeping run in a second thread on their own store connection, so answering and delivering use two cores; off: one thread; auto: on for a sqlite file or PostgreSQL on a machine with 2+ cores",
    default: "auto",
  },
];

const int = (name: string, min: number, max: number) =>
  z.coerce
    .number({ message: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`);

const url = (name: string) => z.url({ message: `${name} must be an http(s) URL`, protocol: /^https?$/ });

const consumersSchema = z.array(
  z
    .object({
      username: z.string().min(1),
      password: z.string().min(8, "passwords must be at least 8 characters"),
      sources: z.array(z.enum(["WENI", "OUTBOX", "HELPLINE"])),
      signingSecrets: z.array(z.string().min(1)).optional(),
      api_keys: z
        .array(z.string().regex(/^sha256:[0-9a-fA-F]{64}$/, "expected sha256:<64 hex>: run `openchs-bridge api-key`"))
        .optional(),
      admin: z.boolean().optional(),
    })
    // An operator may speak for no side; everyone else must speak for one.
    .refine((c) => c.admin === true || c.sources.length > 0, {
      path: ["sources"],
      message: 'at least one source is needed (only an "admin": true consumer may have none)',
    }),
);

/** The schema of the environment `openchs-bridge serve` reads (every variable of {@link VARIABLES}). */
export const envSchema = z.object({
  PORT: int("PORT", 0, 65535).default(8080),
  HOST: z.string().min(1).default("127.0.0.1"),
  BRIDGE_BASE_PATH: z
    .string()
    .regex(/^\/([A-Za-z0-9._~-]+\/)*$/, "BRIDGE_BASE_PATH must look like /api/ (leading and trailing slash)")
    .default("/api/"),
  BRIDGE_STORE: z
    .string()
    .regex(/^(sqlite:.+|memory|postgres(ql)?:\/\/.+)$/, "BRIDGE_STORE must be sqlite:<file>, memory or postgres://…")
    .default("sqlite:./data/bridge.db"),
  BRIDGE_CONSUMERS: z.string({ message: "BRIDGE_CONSUMERS is required" }).transform((text, ctx) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      ctx.addIssue({ code: "custom", message: "BRIDGE_CONSUMERS must be JSON" });
      return z.NEVER;
    }
    const parsed = consumersSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      // Name the path, never the value: it holds passwords.
      ctx.addIssue({
        code: "custom",
        message: `BRIDGE_CONSUMERS${issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${issue.message.replace(/, received .*/, "")}`,
      });
      return z.NEVER;
    }
    // The bridge's option is `apiKeys`; the JSON says `api_keys`.
    return parsed.data.map(({ api_keys, ...consumer }) => (api_keys ? { ...consumer, apiKeys: api_keys } : consumer));
  }),
  BRIDGE_TOKEN_TTL: int("BRIDGE_TOKEN_TTL", 1, 31_536_000).default(3600),
  BRIDGE_LOGIN_MAX_FAILURES: int("BRIDGE_LOGIN_MAX_FAILURES", 1, 1_000_000).default(5),
  BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS: int("BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS", 1, 1_000_000).default(100),
  BRIDGE_LOGIN_WINDOW_S: int("BRIDGE_LOGIN_WINDOW_S", 1, 86_400).default(300),
  BRIDGE_TRUSTED_PROXIES: z
    .string()
    .transform((text) => text.split(",").map((s) => s.trim()))
    .refine(
      // The bridge checks each entry exactly; this catches names and typos with the variable named.
      (list) =>
        list.every((entry) => /^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)(\/\d{1,3})?$/.test(entry)),
      "BRIDGE_TRUSTED_PROXIES must list IP addresses or CIDRs separated by commas, e.g. 127.0.0.1,10.0.0.0/8,::1",
    )
    .optional(),
  BRIDGE_FORWARDED_HEADER: z.enum(["x-forwarded-for", "forwarded"]).default("x-forwarded-for"),
  BRIDGE_MAX_BODY_BYTES: int("BRIDGE_MAX_BODY_BYTES", 1024, 100 * 1024 * 1024).default(1_048_576),
  HELPLINE_URL: url("HELPLINE_URL"),
  HELPLINE_USERNAME: z.string({ message: "HELPLINE_USERNAME is required" }).min(1),
  HELPLINE_PASSWORD: z.string({ message: "HELPLINE_PASSWORD is required" }).min(1),
  HELPLINE_MESSAGE_ENCODING: z.enum(["plain", "base64"]).default("plain"),
  RAPIDPRO_URL: url("RAPIDPRO_URL"),
  RAPIDPRO_TOKEN: z.string({ message: "RAPIDPRO_TOKEN is required" }).min(1),
  RAPIDPRO_FLAVOUR: z.enum(["v7", "weni", "nyaruka"]).optional(),
  RAPIDPRO_CLOSE_FLOW: z.string({ message: "RAPIDPRO_CLOSE_FLOW is required" }).min(1),
  RAPIDPRO_UNAVAILABLE_FLOW: z.string().min(1).optional(),
  BRIDGE_UNAVAILABLE_NOTICE_S: int("BRIDGE_UNAVAILABLE_NOTICE_S", 0, 86_400).default(120),
  BRIDGE_UNAVAILABLE_TEXT: z.string().max(640, "BRIDGE_UNAVAILABLE_TEXT must be at most 640 characters").optional(),
  CHATBOT_ACK_URL: url("CHATBOT_ACK_URL").optional(),
  CHATBOT_ACK_TOKEN: z.string().min(1).optional(),
  HUNT_TIMEOUT_S: int("HUNT_TIMEOUT_S", 1, 86_400).default(120),
  HUNT_MAX: int("HUNT_MAX", 0, 100).default(3),
  BRIDGE_COUNSELOR_NAME_TEMPLATE: z
    .string()
    .max(100, "BRIDGE_COUNSELOR_NAME_TEMPLATE must be at most 100 characters")
    .default("Counselor {extension}"),
  BRIDGE_RETRY_SCHEDULE_S: z
    .string()
    .regex(
      /^\s*\d{1,7}\s*(,\s*\d{1,7}\s*){0,49}$/,
      "BRIDGE_RETRY_SCHEDULE_S must list whole seconds separated by commas, e.g. 5,30,120",
    )
    .transform((text) => text.split(",").map((s) => Number(s.trim())))
    .optional(),
  // No default here: unset, the bridge's own (72 h, or the sum of a schedule that is set).
  BRIDGE_RETRY_HORIZON_S: int("BRIDGE_RETRY_HORIZON_S", 0, 30 * 86_400).optional(),
  BRIDGE_RETRY_MAX_WAIT_S: int("BRIDGE_RETRY_MAX_WAIT_S", 1, 86_400).default(3600),
  BRIDGE_UPSTREAM_TIMEOUT_S: int("BRIDGE_UPSTREAM_TIMEOUT_S", 1, 300).default(10),
  BRIDGE_RETENTION_DAYS: z.coerce
    .number({ message: "BRIDGE_RETENTION_DAYS must be a number" })
    .positive("BRIDGE_RETENTION_DAYS must be more than 0")
    .max(36_500, "BRIDGE_RETENTION_DAYS must be at most 36500")
    .optional(),
  TICKETER_API_TOKEN: z.string().min(16, "TICKETER_API_TOKEN must be at least 16 characters").optional(),
  TICKETER_CALLBACK_URL: url("TICKETER_CALLBACK_URL").optional(),
  TICKETER_WEBHOOK_SECRET: z.string().min(16, "TICKETER_WEBHOOK_SECRET must be at least 16 characters").optional(),
  BRIDGE_LOG: z.enum(["json", "off"]).default("json"),
  BRIDGE_METRICS_TOKEN: z.string().min(16, "BRIDGE_METRICS_TOKEN must be at least 16 characters").optional(),
  BRIDGE_LOG_LEVEL: z
    .enum(["debug", "info", "warn", "error"], { message: "BRIDGE_LOG_LEVEL must be debug, info, warn or error" })
    .default("info"),
  BRIDGE_LOG_TEXT: z
    .enum(["true", "false"], { message: "BRIDGE_LOG_TEXT must be true or false" })
    .default("false")
    .transform((value) => value === "true"),
  BRIDGE_SHUTDOWN_S: int("BRIDGE_SHUTDOWN_S", 0, 3600).default(10),
  BRIDGE_DELIVERY_THREAD: z
    .enum(["auto", "on", "off"], { message: "BRIDGE_DELIVERY_THREAD must be auto, on or off" })
    .default("auto"),
});

/** The validated configuration: every variable, with defaults filled in. */
export type GatewayConfig = z.output<typeof envSchema>;

/** One missing or invalid variable: its name, and what is wrong (never its value). */
export interface ConfigProblem {
  variable: string;
  message: string;
}

/**
 * Missing or invalid variables: the message names each one, one per line, and never shows a value.
 * `variable` is the first of them; `problems` lists them all.
 */
export class ConfigError extends CoreConfigError {
  override name = "ConfigError";
  readonly problems: readonly ConfigProblem[];
  constructor(
    readonly variable: string,
    message: string,
    problems: readonly ConfigProblem[] = [{ variable, message }],
  ) {
    // The one configuration error of the packages (core's `ConfigError`): `option` is the variable.
    super(variable, message);
    this.problems = problems;
  }
}

/**
 * Reads the configuration from an environment (blank values count as unset). Every missing or
 * invalid variable is reported at once, so that one run of `serve` lists everything to fix.
 */
export function loadConfig(env: Record<string, string | undefined>): GatewayConfig {
  const cleaned = Object.fromEntries(
    VARIABLES.map((v) => [v.name, env[v.name]?.trim() === "" ? undefined : env[v.name]?.trim()]),
  );
  const problems = [...variableProblems(cleaned), ...combinationProblems(cleaned)];
  const parsed = envSchema.safeParse(cleaned);
  if (problems.length > 0 || !parsed.success) {
    // A schema failure always has a per-variable problem; the fallback only guards that invariant.
    const all = problems.length > 0 ? problems : [{ variable: "environment", message: "invalid environment" }];
    throw new ConfigError(all[0]!.variable, all.map((p) => p.message).join("\n"), all);
  }
  return parsed.data;
}

/** Each variable checked alone against its schema: the first issue of each, in {@link VARIABLES} order. */
function variableProblems(cleaned: Record<string, string | undefined>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const { name: variable } of VARIABLES) {
    const result = envSchema.shape[variable as keyof typeof envSchema.shape].safeParse(cleaned[variable]);
    if (result.success) continue;
    const issue = result.error.issues[0]!;
    const missing = issue.code === "invalid_type" && cleaned[variable] === undefined;
    const message = missing
      ? `${variable} is required: ${describe(variable)}`
      : issue.message.includes(variable)
        ? issue.message
        : `${variable}: ${issue.message}`;
    problems.push({ variable, message });
  }
  return problems;
}

/** The rules between variables; each is checked only when the variables it compares are valid alone. */
function combinationProblems(cleaned: Record<string, string | undefined>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const valid = <K extends keyof GatewayConfig>(name: K): GatewayConfig[K] | undefined => {
    const result = envSchema.shape[name].safeParse(cleaned[name]);
    return result.success ? (result.data as GatewayConfig[K]) : undefined;
  };
  if (valid("TICKETER_API_TOKEN")) {
    for (const variable of ["TICKETER_CALLBACK_URL", "TICKETER_WEBHOOK_SECRET"] as const) {
      if (cleaned[variable] !== undefined) continue;
      problems.push({
        variable,
        message: `${variable} is required when TICKETER_API_TOKEN is set (style B): ${describe(variable)}`,
      });
    }
  }
  const perPair = valid("BRIDGE_LOGIN_MAX_FAILURES");
  const perAddress = valid("BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS");
  if (perPair !== undefined && perAddress !== undefined && perAddress < perPair) {
    problems.push({
      variable: "BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS",
      message:
        "BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS must be at least BRIDGE_LOGIN_MAX_FAILURES: else one consumer's failures lock every consumer of its address out",
    });
  }
  return problems;
}

function describe(name: string): string {
  return VARIABLES.find((v) => v.name === name)?.description ?? "";
}

/**
 * Parses a `.env` file with Node's own parser (the one behind `node --env-file`): `NAME=value` lines,
 * `#` comments (also after a value), single, double and backtick quotes (`KEY="a b" # note` is `a b`),
 * `\n` in double quotes, empty values, and an optional `export ` prefix. Existing variables win: the
 * caller merges.
 */
export function parseDotEnv(text: string): Record<string, string> {
  // `export NAME=…` (a file written to be `source`d by a shell): the prefix is stripped here, since
  // not every Node version of the supported range skips it.
  const parsed = parseEnv(text.replace(/^([ \t]*)export[ \t]+/gm, "$1"));
  return Object.fromEntries(
    Object.entries(parsed).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

/** `serve --help`. */
export function helpText(): string {
  const width = Math.max(...VARIABLES.map((v) => v.name.length));
  const lines = VARIABLES.map((v) => {
    const tags = [v.required ? "required" : undefined, v.default !== undefined ? `default ${v.default}` : undefined]
      .filter(Boolean)
      .join(", ");
    return `  ${v.name.padEnd(width)}  ${v.description}${tags ? ` (${tags})` : ""}`;
  });
  return [
    "Usage: openchs-bridge serve",
    "       openchs-bridge demo",
    "       openchs-bridge erase <conversation_id>…",
    "       openchs-bridge api-key [--json]",
    "       openchs-bridge dead-letters [--conversation ID] [--json]",
    "       openchs-bridge replay <id> | --all [--conversation ID]",
    "       openchs-bridge --version",
    "",
    "serve runs the gateway, configured from the environment (a .env file in the working directory is",
    "read when present; variables already set win). erase deletes conversations, with their messages",
    "and pending deliveries, from the same BRIDGE_STORE (erasure on request). api-key prints a new",
    "API key for a consumer (a RapidPro flow sends it as `Authorization: Token <key>`; it never",
    'expires) and the "sha256:…" hash to add to that consumer\'s "api_keys" in BRIDGE_CONSUMERS.',
    "dead-letters lists the deliveries that ran out of retries (a table; --json: one JSON object per",
    "line), and replay queues one (by its id) or all of them again; both work on the BRIDGE_STORE of",
    "a running serve (sqlite or PostgreSQL, not memory), which delivers what they queue.",
    "On SIGTERM, serve answers ready with 503, stops listening, lets deliveries in flight finish",
    "within BRIDGE_SHUTDOWN_S (the rest stay queued) and exits 0.",
    "",
    "Variables:",
    ...lines,
    "",
    "demo plays a whole conversation between simulated systems (in the repository, where the",
    "simulators are; `npm run demo` there too), and `npm start --workspace examples/simulators`",
    "runs the simulators for you to point this gateway at.",
  ].join("\n");
}

/**
 * The environment as `openchs-bridge serve` reads it: the process's variables, with those of a `.env`
 * file in the working directory added under them (a variable already set wins).
 */
export function environmentWithDotEnv(
  env: Record<string, string | undefined> = process.env,
  file = ".env",
): Record<string, string | undefined> {
  const merged = { ...env };
  if (existsSync(file)) {
    for (const [name, value] of Object.entries(parseDotEnv(readFileSync(file, "utf8")))) merged[name] ??= value;
  }
  return merged;
}

/** What `serve` prints for a configuration error: one line per problem (names, never values), then where to look. */
/**
 * The configuration from the environment (and `.env`); when a variable is missing or invalid, the
 * same lines `serve` prints go to stderr and the process exits 1. For hosts that embed the gateway
 * (the example hosts).
 */
export function loadConfigOrExit(env: Record<string, string | undefined> = environmentWithDotEnv()): GatewayConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(configErrorText(error));
    process.exit(1);
  }
}

export function configErrorText(error: ConfigError): string {
  const lines = error.problems.map((p) => `openchs-bridge: ${p.message}\n`).join("");
  return `${lines}Run "openchs-bridge serve --help" for every variable.\n`;
}
