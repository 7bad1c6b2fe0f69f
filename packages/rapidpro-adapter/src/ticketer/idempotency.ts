/** An answer kept for replay under its `Idempotency-Key`. */
export interface StoredAnswer {
  status: number;
  /** The JSON body as sent. */
  body: string;
  /** SHA-256 of the request body the answer was for: the same key with another body is refused. */
  fingerprint: string;
}

/**
 * A small TTL cache of answers by `Idempotency-Key`, so a retried request gets the first answer
 * again. The durable dedupe is the bridge store's (by `message_id`); this only replays answers, so
 * an in-memory cache (the default) is enough for one process. Give a shared one (Redis, …) when
 * several instances serve the ticketer.
 */
export interface IdempotencyStore {
  get(key: string): StoredAnswer | undefined | Promise<StoredAnswer | undefined>;
  set(key: string, answer: StoredAnswer, ttlMs: number): void | Promise<void>;
}

/** Options of {@link createMemoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions {
  /** Most answers kept; the oldest go first. Default 10000. */
  maxEntries?: number | undefined;
  /** Time source, epoch ms (tests). Default `Date.now`. */
  now?: (() => number) | undefined;
}

/** The default {@link IdempotencyStore}: in memory, bounded, entries expire after their TTL. */
export function createMemoryIdempotencyStore(options: MemoryIdempotencyStoreOptions = {}): IdempotencyStore {
  const max = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { answer: StoredAnswer; expiresAt: number }>();
  return {
    get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.answer;
    },
    set(key, answer, ttlMs) {
      entries.delete(key);
      entries.set(key, { answer, expiresAt: now() + ttlMs });
      while (entries.size > max) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
    },
  };
}
