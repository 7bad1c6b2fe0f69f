import { z } from "zod";
import { API_KEY_HASH_PATTERN } from "./auth/api-keys";
import type { ConsumerConfig } from "./auth/consumer-config";
import type { RouteInput } from "./conversations/conversation-service";
import { ConfigError } from "./errors/config-error";
import type { DeliverySettings } from "./loops/delivery-worker";
import {
  DEFAULT_RETRY_HORIZON_MS,
  DEFAULT_RETRY_JITTER,
  DEFAULT_RETRY_MAX_WAIT_MS,
  DEFAULT_RETRY_STEPS,
  scheduleSpan,
} from "./loops/retry-schedule";
import type { MetricsExporterFactory } from "./metrics/exporter";
import { type AddressRange, type ForwardedHeader, parseAddressRange } from "./net/client-address";
import type { ChatbotTarget } from "./ports/chatbot-target";
import type { Clock } from "./ports/clock";
import type { ConversationsPort } from "./ports/conversations-port";
import type { HelplineTarget } from "./ports/helpline-target";
import type { DeliveryContext, RenotifyNotice } from "./ports/notices";
import { decodeStandardWebhookSecret } from "./signing/standard-webhooks";
import type { Store } from "./store/store";

export type { ConsumerConfig, RenotifyNotice, RouteInput };

/** Options of `createBridge`. Validated once at construction; a bad option throws `BridgeConfigError`. */
export interface BridgeOptions {
  /** The durable outbox and conversation store. Use the sqlite store in production. */
  store: Store;
  /** Where client messages go: one target, or several keyed by routing key (e.g. per country). */
  helplines: HelplineTarget | Record<string, HelplineTarget>;
  /** Picks the helpline key for a new conversation. Default: `receiver`, then `location`, when they name a helpline; else the first one. */
  route?: ((input: RouteInput) => string | undefined) | undefined;
  /** Where counselor replies and closes go for conversations opened by webhook (style A). */
  chatbot: ChatbotTarget;
  /** Where replies go for conversations opened by the Weni generic ticketer (style B). */
  ticketerChatbot?: ChatbotTarget | undefined;
  /** Builds the style-B ticketer handler, mounted under `{basePath}ticketer/`. */
  ticketer?: ((conversations: ConversationsPort) => (request: Request) => Promise<Response>) | undefined;
  consumers: ConsumerConfig[];
  /** Mount point of the gateway API. Default `/api/`. */
  basePath?: string | undefined;
  /** Lifetime of tokens issued by `token/`, in seconds. Default 3600. */
  tokenTtlS?: number | undefined;
  /** Largest request body accepted, in bytes. Default 1 MiB. */
  maxBodyBytes?: number | undefined;
  /** Without `message_id`, identical text in the same conversation within this window is a duplicate. Default 5000 ms. */
  duplicateWindowMs?: number | undefined;
  /**
   * The counselor's pseudonym when the helpline gives none: its PHP sends counselor replies without
   * `sender_name`, and no `read` ack named one. A template with `{extension}` (the reply's
   * `chat_receiver`), or a function of it. Default `"Counselor {extension}"`.
   */
  counselorNameTemplate?: string | ((extension: string) => string) | undefined;
  hunting?:
    | {
        /** Seconds to wait for a counselor to read before re-notifying. Default 120. */
        timeoutS?: number | undefined;
        /** Re-notifications before giving up. Default 3. */
        max?: number | undefined;
        /** When re-notifications run out: close with `no_counselor` (default) or keep waiting. */
        onExhausted?: "close" | "wait" | undefined;
        /**
         * How to re-notify: by default the pending message is re-sent to the helpline with a
         * re-notify marker. A function replaces that (e.g. an SMS to the supervisor); it runs as an
         * outbox job, so it is retried like a delivery.
         */
        renotify?: ((notice: RenotifyNotice, context: DeliveryContext) => Promise<void>) | undefined;
      }
    | undefined;
  delivery?:
    | {
        /** Per-attempt timeout, ms. Default 15000. */
        attemptTimeoutMs?: number | undefined;
        /** Quick retries within one claim (p-retry), after the first attempt. Default 2. */
        burstRetries?: number | undefined;
        /** First quick-retry delay, ms (doubles, with jitter). Default 250. */
        burstMinDelayMs?: number | undefined;
        /** Largest quick-retry delay, ms. Default 2000. */
        burstMaxDelayMs?: number | undefined;
        /**
         * Durable waits between bursts, ms; the last one repeats until `retryHorizonMs`. Default 5 s,
         * 30 s, 2 min, 5 min, 10 min, 30 min, then `maxWaitMs`, each jittered ±10 %. A schedule given
         * without `retryHorizonMs` keeps its old meaning: exact waits, dead-lettered when used up.
         */
        schedule?: number[] | undefined;
        /**
         * How long after a job's first failed round it is still retried, ms; then its next failure
         * dead-letters it (kept, listed, replayable). Default 72 h; with a `schedule` given, its sum.
         */
        retryHorizonMs?: number | undefined;
        /** Longest wait between two rounds, ms. Default 1 h. */
        maxWaitMs?: number | undefined;
        /** Each wait is jittered by this fraction both ways. Default 0.1 (±10 %); 0 with a `schedule` given. */
        jitter?: number | undefined;
        /**
         * How long a claim holds a job, ms; renewed every third of it while the job runs, so a crashed
         * instance's work is picked up by another (or by it, restarted) within about this. Default 10 000.
         */
        leaseMs?: number | undefined;
        /** Lanes delivered at once. Default 16. */
        concurrency?: number | undefined;
        /** Longest sleep of the idle loop, ms. Default 1000. */
        pollMs?: number | undefined;
      }
    | undefined;
  /**
   * The helpline-unavailable notice: when a new conversation's first message has not been accepted
   * by the helpline `afterS` seconds after it arrived, because delivery keeps failing, the chatbot is
   * told once (`ChatbotTarget.notifyUnavailable`) while delivery goes on.
   */
  unavailableNotice?:
    | {
        /** Seconds. Default 120; 0 turns the notice off. */
        afterS?: number | undefined;
        /** Text for targets that send one (the Weni ticketer callback), when they have none configured. */
        text?: string | undefined;
      }
    | undefined;
  /**
   * Retention: conversations closed longer ago than `closedAfterDays` are deleted (with their
   * messages and dead letters) by the housekeeping sweep, at `start()` and then every `sweepIntervalS`;
   * one that still has a pending job is kept until it is delivered or dead-lettered. Default: kept
   * until erased (`bridge.conversations.erase`). The period must be longer than the delivery retry
   * horizon (`delivery.retryHorizonMs`, 72 h by default).
   */
  retention?:
    | {
        /** Days after its close a conversation is deleted (fractions allowed). */
        closedAfterDays: number;
        /** Seconds between sweeps. Default 3600, or a quarter of the period when that is shorter (at least 1). */
        sweepIntervalS?: number | undefined;
      }
    | undefined;
  /**
   * Failed logins allowed within `windowS` (default 300): `max` per (username, client address) pair
   * (default 5), `maxPerAddress` per client address whatever the username (default 100, at least `max`).
   */
  loginRateLimit?:
    | { max?: number | undefined; maxPerAddress?: number | undefined; windowS?: number | undefined }
    | undefined;
  /**
   * Reverse proxies whose forwarding header is believed (IPs and CIDRs, IPv4 and IPv6): when a
   * request comes from one, the client address is read from `forwardedHeader`, walking from the
   * right past trusted hops. Default none: the connection's peer is the client.
   */
  trustedProxies?: string[] | undefined;
  /** The header the trusted proxies write: `x-forwarded-for` (default) or `forwarded` (RFC 7239). */
  forwardedHeader?: ForwardedHeader | undefined;
  events?: { /** Put message text in event payloads. Default false. */ includeText?: boolean | undefined } | undefined;
  /**
   * `GET {basePath}metrics` (PROTOCOL.md "Metrics"), for a scraper sending `Authorization: Bearer
   * <token>`. `exporter` renders them: `prometheusExporter()` from `@openchs-bridge/core/prometheus`.
   * Default: no metrics route (404).
   */
  metrics?: { token: string; exporter: MetricsExporterFactory } | undefined;
  clock?: Clock | undefined;
  /** This instance's id in leases. Default a random id. */
  workerId?: string | undefined;
  /**
   * Called, synchronously, each time this bridge queues work for its delivery loop or hunting (a
   * message accepted, a conversation requested or closed, a dead letter replayed). For a host that
   * runs those loops elsewhere, on another bridge over the same store (another thread or process,
   * started with `start()`), and passes the news on to its `wake()`; without it, the other bridge
   * still finds the work on its next poll (`delivery.pollMs`).
   */
  onWorkQueued?: (() => void) | undefined;
}

/**
 * A `createBridge` option is missing or invalid: the message names the option and what was expected.
 * A {@link ConfigError}, like the clients' and the CLI's configuration errors.
 */
export class BridgeConfigError extends ConfigError {
  override name = "BridgeConfigError";
  constructor(option: string, message: string) {
    super(option, `Invalid bridge option \`${option}\`: ${message}`);
  }
}

const hasMethods = (...names: string[]) =>
  z.custom<object>(
    (v) =>
      typeof v === "object" &&
      v !== null &&
      names.every((n) => typeof (v as Record<string, unknown>)[n] === "function"),
    { message: `expected an object with methods ${names.join(", ")}` },
  );
const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", { message: "expected a function" });
const helplineTarget = hasMethods("deliverMessage", "notifyClose");
const chatbotTarget = hasMethods("deliverMessage", "notifyClose");
const positive = z.number().finite().positive();
const nonNegativeInt = z.number().int().nonnegative();

const consumerSchema = z
  .object({
    username: z.string().min(1),
    password: z.string().min(8, "passwords must be at least 8 characters"),
    sources: z.array(z.enum(["WENI", "OUTBOX", "HELPLINE"])),
    signingSecrets: z.array(z.string().min(1)).min(1).optional(),
    apiKeys: z
      .array(
        z.string().regex(API_KEY_HASH_PATTERN, "expected sha256:<64 hex> (make one with `openchs-bridge api-key`)"),
      )
      .optional(),
    admin: z.boolean().optional(),
  })
  .refine((c) => c.admin === true || c.sources.length > 0, {
    path: ["sources"],
    message: "expected at least one source (only an admin consumer may have none)",
  });

const optionsSchema = z.object({
  store: hasMethods("transaction", "claimDueJobs", "getConversation", "ping"),
  helplines: z.union([helplineTarget, z.record(z.string().min(1), helplineTarget)]),
  route: fn.optional(),
  chatbot: chatbotTarget,
  ticketerChatbot: chatbotTarget.optional(),
  ticketer: fn.optional(),
  consumers: z
    .array(consumerSchema)
    .min(1, "at least one consumer is needed to call the API")
    .refine((list) => new Set(list.map((c) => c.username)).size === list.length, "usernames must be unique"),
  basePath: z
    .string()
    .regex(/^\/([A-Za-z0-9._~-]+\/)*$/, "expected a path like /api/ or /open/api/ (leading and trailing slash)")
    .optional(),
  tokenTtlS: positive.optional(),
  maxBodyBytes: z.number().int().positive().optional(),
  duplicateWindowMs: nonNegativeInt.optional(),
  counselorNameTemplate: z.union([z.string().min(1).max(100), fn]).optional(),
  hunting: z
    .object({
      timeoutS: positive.optional(),
      max: nonNegativeInt.optional(),
      onExhausted: z.enum(["close", "wait"]).optional(),
    })
    .optional(),
  delivery: z
    .object({
      attemptTimeoutMs: positive.optional(),
      burstRetries: nonNegativeInt.optional(),
      burstMinDelayMs: nonNegativeInt.optional(),
      burstMaxDelayMs: nonNegativeInt.optional(),
      schedule: z.array(nonNegativeInt).optional(),
      retryHorizonMs: nonNegativeInt.optional(),
      maxWaitMs: z.number().int().positive().optional(),
      jitter: z.number().min(0).max(1).optional(),
      leaseMs: z.number().int().min(1000, "expected at least 1000 ms").optional(),
      concurrency: z.number().int().positive().optional(),
      pollMs: positive.optional(),
    })
    .optional(),
  unavailableNotice: z
    .object({ afterS: z.number().finite().nonnegative().optional(), text: z.string().min(1).max(640).optional() })
    .optional(),
  retention: z.object({ closedAfterDays: positive, sweepIntervalS: positive.optional() }).optional(),
  loginRateLimit: z
    .object({
      max: z.number().int().positive().optional(),
      maxPerAddress: z.number().int().positive().optional(),
      windowS: positive.optional(),
    })
    .optional(),
  trustedProxies: z.array(z.string()).optional(),
  forwardedHeader: z.enum(["x-forwarded-for", "forwarded"]).optional(),
  events: z.object({ includeText: z.boolean().optional() }).optional(),
  metrics: z
    .object({
      token: z.string().min(16, "expected at least 16 characters (e.g. `openssl rand -hex 16`)"),
      exporter: fn,
    })
    .optional(),
  clock: hasMethods("now").optional(),
  workerId: z.string().min(1).optional(),
  onWorkQueued: fn.optional(),
});

/** Options with every default filled in. */
export interface ResolvedOptions {
  store: Store;
  helplines: Map<string, HelplineTarget>;
  route: (input: RouteInput) => string | undefined;
  chatbot: ChatbotTarget;
  ticketerChatbot: ChatbotTarget | undefined;
  ticketer: BridgeOptions["ticketer"];
  consumers: ConsumerConfig[];
  basePath: string;
  tokenTtlMs: number;
  maxBodyBytes: number;
  duplicateWindowMs: number;
  /** The counselor's pseudonym from an extension (`counselorNameTemplate` rendered). */
  counselorNameFor: (extension: string) => string;
  hunting: {
    timeoutMs: number;
    max: number;
    onExhausted: "close" | "wait";
    renotify: ((notice: RenotifyNotice, context: DeliveryContext) => Promise<void>) | undefined;
  };
  delivery: DeliverySettings;
  /** `afterMs` 0: off. */
  unavailableNotice: { afterMs: number; text: string | undefined };
  /** Undefined when conversations are kept until erased. */
  retention: { closedAfterMs: number; sweepIntervalMs: number } | undefined;
  loginRateLimit: { max: number; maxPerAddress: number; windowMs: number };
  trustedProxies: AddressRange[];
  forwardedHeader: ForwardedHeader;
  includeText: boolean;
  metrics: BridgeOptions["metrics"];
  clock: Clock;
  workerId: string;
  onWorkQueued: (() => void) | undefined;
}

export function resolveOptions(input: BridgeOptions): ResolvedOptions {
  const parsed = optionsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BridgeConfigError(issue.path.map(String).join(".") || "(options)", issue.message);
  }
  input.consumers.forEach((consumer, i) => {
    for (const secret of consumer.signingSecrets ?? []) {
      try {
        decodeStandardWebhookSecret(secret);
      } catch {
        throw new BridgeConfigError(`consumers.${i}.signingSecrets`, "expected whsec_<base64> or base64 secrets");
      }
    }
  });
  const apiKeyOwners = new Map<string, string>();
  input.consumers.forEach((consumer, i) => {
    (consumer.apiKeys ?? []).forEach((hash, j) => {
      const owner = apiKeyOwners.get(hash.toLowerCase());
      if (owner !== undefined && owner !== consumer.username) {
        throw new BridgeConfigError(
          `consumers.${i}.apiKeys.${j}`,
          `this key is also ${owner}'s: each key is one consumer's`,
        );
      }
      apiKeyOwners.set(hash.toLowerCase(), consumer.username);
    });
  });
  const trustedProxies = (input.trustedProxies ?? []).map((entry, i) => {
    const range = parseAddressRange(entry);
    if (!range) {
      throw new BridgeConfigError(
        `trustedProxies.${i}`,
        "expected an IP address or a CIDR, e.g. 10.0.0.0/8 or fd00::/8",
      );
    }
    return range;
  });
  const loginRateLimit = {
    max: input.loginRateLimit?.max ?? 5,
    maxPerAddress: input.loginRateLimit?.maxPerAddress ?? 100,
    windowMs: (input.loginRateLimit?.windowS ?? 300) * 1000,
  };
  if (loginRateLimit.maxPerAddress < loginRateLimit.max) {
    throw new BridgeConfigError(
      "loginRateLimit.maxPerAddress",
      `must be at least loginRateLimit.max (${loginRateLimit.max}): else one consumer's failures lock every consumer of its address out`,
    );
  }
  const helplines = new Map<string, HelplineTarget>(
    isTarget(input.helplines) ? [["default", input.helplines]] : Object.entries(input.helplines),
  );
  if (helplines.size === 0) throw new BridgeConfigError("helplines", "expected at least one helpline target");
  const first = helplines.keys().next().value as string;
  const defaultRoute = (r: RouteInput) =>
    [r.receiver, r.location].find((key): key is string => key !== undefined && helplines.has(key)) ?? first;
  const d = input.delivery ?? {};
  const maxWaitMs = d.maxWaitMs ?? DEFAULT_RETRY_MAX_WAIT_MS;
  // The default schedule ends on `maxWaitMs`, which repeats until the horizon.
  const schedule = d.schedule ?? [...DEFAULT_RETRY_STEPS, maxWaitMs];
  const retryHorizonMs =
    d.retryHorizonMs ?? (d.schedule ? scheduleSpan(d.schedule, maxWaitMs) : DEFAULT_RETRY_HORIZON_MS);
  const retention = resolveRetention(input.retention, retryHorizonMs);
  return {
    store: input.store,
    helplines,
    route: input.route ?? defaultRoute,
    chatbot: input.chatbot,
    ticketerChatbot: input.ticketerChatbot,
    ticketer: input.ticketer,
    consumers: input.consumers,
    basePath: input.basePath ?? "/api/",
    tokenTtlMs: (input.tokenTtlS ?? 3600) * 1000,
    maxBodyBytes: input.maxBodyBytes ?? 1024 * 1024,
    duplicateWindowMs: input.duplicateWindowMs ?? 5000,
    counselorNameFor: counselorNameRenderer(input.counselorNameTemplate ?? DEFAULT_COUNSELOR_NAME_TEMPLATE),
    hunting: {
      timeoutMs: (input.hunting?.timeoutS ?? 120) * 1000,
      max: input.hunting?.max ?? 3,
      onExhausted: input.hunting?.onExhausted ?? "close",
      renotify: input.hunting?.renotify,
    },
    delivery: {
      attemptTimeoutMs: d.attemptTimeoutMs ?? 15_000,
      burstRetries: d.burstRetries ?? 2,
      burstMinDelayMs: d.burstMinDelayMs ?? 250,
      burstMaxDelayMs: d.burstMaxDelayMs ?? 2000,
      schedule,
      retryHorizonMs,
      maxWaitMs,
      jitter: d.jitter ?? (d.schedule ? 0 : DEFAULT_RETRY_JITTER),
      leaseMs: d.leaseMs ?? 10_000,
      concurrency: d.concurrency ?? 16,
      pollMs: d.pollMs ?? 1000,
    },
    unavailableNotice: {
      afterMs: (input.unavailableNotice?.afterS ?? 120) * 1000,
      text: input.unavailableNotice?.text,
    },
    retention,
    loginRateLimit,
    trustedProxies,
    forwardedHeader: input.forwardedHeader ?? "x-forwarded-for",
    includeText: input.events?.includeText ?? false,
    metrics: input.metrics,
    clock: input.clock ?? { now: () => Date.now() },
    workerId: input.workerId ?? `bridge-${crypto.randomUUID().slice(0, 8)}`,
    onWorkQueued: input.onWorkQueued,
  };
}

/**
 * The retention period must outlast the retry horizon: a conversation closed while its close notice
 * is still retried would otherwise be due for purging before the notice is delivered or dead-lettered
 * (the store keeps it while a job is pending, but then every sweep skips it).
 */
function resolveRetention(retention: BridgeOptions["retention"], retryHorizonMs: number): ResolvedOptions["retention"] {
  if (!retention) return undefined;
  const closedAfterMs = retention.closedAfterDays * 86_400_000;
  if (closedAfterMs <= retryHorizonMs) {
    throw new BridgeConfigError(
      "retention.closedAfterDays",
      `must be longer than the delivery retry horizon (${Math.ceil(retryHorizonMs / 1000)} s), so close notices still being retried are not purged`,
    );
  }
  const sweepIntervalMs =
    retention.sweepIntervalS !== undefined
      ? retention.sweepIntervalS * 1000
      : Math.max(1000, Math.min(3_600_000, closedAfterMs / 4));
  return { closedAfterMs, sweepIntervalMs };
}

/** The default of `counselorNameTemplate`. */
export const DEFAULT_COUNSELOR_NAME_TEMPLATE = "Counselor {extension}";

function counselorNameRenderer(template: string | ((extension: string) => string)): (extension: string) => string {
  if (typeof template === "function") return template;
  return (extension) => template.replaceAll("{extension}", extension);
}

function isTarget(value: BridgeOptions["helplines"]): value is HelplineTarget {
  return typeof (value as HelplineTarget).deliverMessage === "function";
}
