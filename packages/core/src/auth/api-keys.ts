import { sha256HexSync } from "../signing/hash";
import { timingSafeEqualStrings } from "../signing/timing-safe-equal";
import type { ConsumerConfig } from "./consumer-config";

/** How a consumer's API key is configured: its SHA-256, never the key itself. */
export const API_KEY_HASH_PATTERN = /^sha256:[0-9a-fA-F]{64}$/;

/** The configured form of `key`: `sha256:<64 hex>`. */
export function apiKeyHash(key: string): string {
  return `sha256:${sha256HexSync(key)}`;
}

/**
 * The consumers' API keys: credentials sent like a token (`Authorization: Token <key>`) that never
 * expire, for callers that cannot keep a token between calls (a RapidPro flow only sees the last
 * webhook's answer). Checked in memory against the configured hashes, with no store access, so
 * every instance answers alike; revoked by removing the hash from the configuration.
 */
export class ApiKeys {
  private readonly keys: Array<{ hex: string; consumer: string }>;

  constructor(consumers: readonly ConsumerConfig[]) {
    this.keys = consumers.flatMap((c) =>
      (c.apiKeys ?? []).map((hash) => ({ hex: hash.slice("sha256:".length).toLowerCase(), consumer: c.username })),
    );
  }

  /**
   * The consumer whose key has SHA-256 `hex`, or undefined. Every configured hash is compared,
   * in constant time, whatever matches: the time says nothing of which key, or whether one did.
   */
  consumerOf(hex: string): string | undefined {
    let found: string | undefined;
    for (const key of this.keys) {
      if (timingSafeEqualStrings(hex, key.hex)) found ??= key.consumer;
    }
    return found;
  }
}
