/**
 * Fault switches: make a simulator misbehave on purpose, the way real upstreams do, so the bridge's
 * retries, timeouts and dedupe can be watched and tested.
 *
 * Every decision is deterministic: `count` limits a fault to the next n matching requests, and
 * `rate` draws from a seeded generator (the same seed gives the same sequence of hits and misses).
 */

/** What a faulty request suffers. */
export type FaultMode =
  /** No fault. */
  | "none"
  /** The socket is destroyed before the request is processed: nothing happened upstream. */
  | "drop"
  /** The request is processed (its effect is stored), then the socket is destroyed without an answer. */
  | "drop-after"
  /** An error status (`status`, default 503) without processing. */
  | "5xx"
  /** The answer waits `delayMs` before the request is processed and answered. */
  | "slow"
  /** 429 with `Retry-After: retryAfterS`, without processing. */
  | "429";

/** Every mode, for validation and docs. */
export const FAULT_MODES: readonly FaultMode[] = ["none", "drop", "drop-after", "5xx", "slow", "429"];

/** A fault switch setting, as `POST /__sim/faults` takes it. */
export interface FaultConfig {
  mode: FaultMode;
  /** Probability 0..1 that a matching request is hit. Default 1 (every one). */
  rate?: number | undefined;
  /** Only the next `count` hit requests; then the switch turns itself off. Default: unlimited. */
  count?: number | undefined;
  /**
   * Only requests whose path contains one of these strings (e.g. `"msg/"`, `"broadcasts.json"`,
   * `"/acks"`). Default: every request but the admin API (`/__sim/`), which is never faulted.
   */
  paths?: string[] | undefined;
  /** Only these methods (e.g. `["POST"]`). Default: every method. */
  methods?: string[] | undefined;
  /** `5xx`: the status to answer. Default 503. */
  status?: number | undefined;
  /** `slow`: how long to wait, in ms. Default 2000. */
  delayMs?: number | undefined;
  /** `429`: the `Retry-After` in seconds. Default 1. */
  retryAfterS?: number | undefined;
  /** Seed of the generator `rate` draws from. Default 1. */
  seed?: number | undefined;
}

/** The setting in force, with its defaults filled in and `count` counting down. */
export interface FaultSettings {
  mode: FaultMode;
  rate: number;
  /** Hits left; `null` when unlimited. */
  remaining: number | null;
  paths: string[] | null;
  methods: string[] | null;
  status: number;
  delayMs: number;
  retryAfterS: number;
  seed: number;
}

/** One fault to apply to one request. */
export interface FaultHit {
  mode: Exclude<FaultMode, "none">;
  status: number;
  delayMs: number;
  retryAfterS: number;
}

/** A fault switch: set it, read it, and ask it about each request. */
export interface FaultSwitch {
  /** Replaces the setting (and reseeds the generator). Throws a `TypeError` naming a bad field. */
  set(config: FaultConfig): FaultSettings;
  /** Turns faults off. */
  clear(): void;
  /** The setting in force. */
  readonly current: FaultSettings;
  /** How many requests were hit since the simulator started, by mode. */
  readonly injected: Readonly<Record<Exclude<FaultMode, "none">, number>>;
  /** Decides for one request; counts it when hit. Admin paths (`/__sim/`) are never hit. */
  pick(method: string, path: string): FaultHit | undefined;
}

const OFF: FaultSettings = {
  mode: "none",
  rate: 1,
  remaining: null,
  paths: null,
  methods: null,
  status: 503,
  delayMs: 2000,
  retryAfterS: 1,
  seed: 1,
};

/** Creates a fault switch, off. */
export function createFaultSwitch(): FaultSwitch {
  let settings: FaultSettings = { ...OFF };
  let random = seeded(settings.seed);
  const injected = { drop: 0, "drop-after": 0, "5xx": 0, slow: 0, "429": 0 };

  return {
    set(config) {
      settings = validateFaultConfig(config);
      random = seeded(settings.seed);
      return { ...settings };
    },
    clear() {
      settings = { ...OFF };
    },
    get current() {
      return { ...settings };
    },
    get injected() {
      return { ...injected };
    },
    pick(method, path) {
      const s = settings;
      if (s.mode === "none" || path.startsWith("/__sim/")) return undefined;
      if (s.methods && !s.methods.includes(method.toUpperCase())) return undefined;
      if (s.paths && !s.paths.some((p) => path.includes(p))) return undefined;
      // Draw for every matching request, so the sequence depends only on the seed and the requests.
      if (s.rate < 1 && random() >= s.rate) return undefined;
      if (s.remaining !== null) {
        s.remaining--;
        if (s.remaining <= 0) settings = { ...OFF };
      }
      injected[s.mode]++;
      return { mode: s.mode, status: s.status, delayMs: s.delayMs, retryAfterS: s.retryAfterS };
    },
  };
}

/** Checks a fault config and fills in its defaults. Throws a `TypeError` that names the field. */
export function validateFaultConfig(config: unknown): FaultSettings {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new TypeError('fault config must be an object such as {"mode":"5xx"}');
  }
  const c = config as Record<string, unknown>;
  if (!FAULT_MODES.includes(c.mode as FaultMode)) {
    throw new TypeError(`fault config: mode must be one of ${FAULT_MODES.join(", ")}`);
  }
  const rate = optionalNumber(c, "rate", 1);
  if (rate < 0 || rate > 1) throw new TypeError("fault config: rate must be between 0 and 1");
  const count = c.count === undefined || c.count === null ? null : optionalNumber(c, "count", 0);
  if (count !== null && (!Number.isInteger(count) || count < 1)) {
    throw new TypeError("fault config: count must be a whole number ≥ 1");
  }
  const status = optionalNumber(c, "status", 503);
  if (!Number.isInteger(status) || status < 500 || status > 599) {
    throw new TypeError("fault config: status must be a 5xx status");
  }
  const delayMs = optionalNumber(c, "delayMs", 2000);
  if (delayMs < 0 || delayMs > 600_000) throw new TypeError("fault config: delayMs must be 0..600000");
  const retryAfterS = optionalNumber(c, "retryAfterS", 1);
  if (!Number.isInteger(retryAfterS) || retryAfterS < 0) {
    throw new TypeError("fault config: retryAfterS must be a whole number of seconds ≥ 0");
  }
  const seed = optionalNumber(c, "seed", 1);
  return {
    mode: c.mode as FaultMode,
    rate,
    remaining: count,
    paths: stringList(c, "paths", (s) => s),
    methods: stringList(c, "methods", (s) => s.toUpperCase()),
    status,
    delayMs,
    retryAfterS,
    seed: Math.trunc(seed),
  };
}

function optionalNumber(c: Record<string, unknown>, key: string, fallback: number): number {
  const value = c[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value))
    throw new TypeError(`fault config: ${key} must be a number`);
  return value;
}

function stringList(c: Record<string, unknown>, key: string, map: (s: string) => string): string[] | null {
  const value = c[key];
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== "string" || v === "")) {
    throw new TypeError(`fault config: ${key} must be a non-empty array of non-empty strings`);
  }
  return value.map((v: string) => map(v));
}

/** mulberry32: a small, fast, seeded generator of numbers in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
