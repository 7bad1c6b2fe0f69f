import type { ChatSource } from "../domain/model";
import { BridgeError } from "../errors/bridge-error";
import { rateLimitKey } from "../net/client-address";
import type { Clock } from "../ports/clock";
import { sha256HexSync } from "../signing/hash";
import { timingSafeEqualStrings } from "../signing/timing-safe-equal";
import type { Store } from "../store/store";
import { ApiKeys } from "./api-keys";
import type { ConsumerConfig } from "./consumer-config";
import { type LoginRateLimit, LoginThrottle } from "./login-throttle";

/** The caller of a request, once authenticated. */
export interface AuthenticatedConsumer {
  username: string;
  sources: readonly ChatSource[];
  signingSecrets?: string[] | undefined;
  /** An operator: may call `{basePath}admin/…`. */
  admin: boolean;
}

export interface IssuedToken {
  token: string;
  expires_in: number;
  expires_at: string;
}

/**
 * Told of every refusal: `consumer` only when it names a configured consumer (a username typed
 * wrong may be a password), `address` (the client's) for refused logins.
 */
type AuthFailure = (reason: string, consumer?: string, address?: string) => void;

/**
 * How long a token the store has confirmed is trusted without asking the store again. A revocation
 * through this process (`revoke`, `revokeConsumer`) takes effect at once; one made by another process
 * sharing the store (or directly in the store) within this long.
 */
export const VERIFIED_TOKEN_CACHE_MS = 5_000;
/** Most verified tokens remembered; the oldest is forgotten first. */
const VERIFIED_TOKEN_CACHE_SIZE = 1_000;

interface VerifiedToken {
  consumer: string;
  /** Trusted until then (epoch ms, never past the token's expiry); then the store is asked again. */
  until: number;
}

/**
 * Consumers and their credentials: `token/` logins (constant-time password check, failures rate
 * limited per (username, address) pair and per address), random time-bound tokens stored only as
 * SHA-256 hashes, revocation, API keys that never expire (checked in memory), and the
 * `Authorization: Token|Bearer` check of every other call.
 */
export class ConsumerAuth {
  private readonly consumers: Map<string, ConsumerConfig & { passwordHash: string }>;
  private readonly throttle: LoginThrottle;
  private readonly apiKeys: ApiKeys;
  /** Token hash → what the store said of it, for {@link VERIFIED_TOKEN_CACHE_MS}: no store round trip per request. */
  private readonly verified = new Map<string, VerifiedToken>();
  /** Bumped by every revocation: a lookup that overlapped one does not fill the cache. */
  private revocations = 0;

  constructor(
    consumers: ConsumerConfig[],
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly ttlMs: number,
    limit: LoginRateLimit,
    private readonly onFailure: AuthFailure,
  ) {
    this.consumers = new Map(consumers.map((c) => [c.username, { ...c, passwordHash: sha256HexSync(c.password) }]));
    this.throttle = new LoginThrottle(limit, () => clock.now());
    this.apiKeys = new ApiKeys(consumers);
  }

  /**
   * A `token/` login. `address` is the client's (after trusted proxies): failures are counted per
   * (username, address) and per address, so one caller's wrong password never refuses another's
   * right one until the address as a whole is over its ceiling. Costs one store write (the token).
   */
  async login(username: string, password: string, address: string | undefined): Promise<IssuedToken> {
    const key = address === undefined ? undefined : rateLimitKey(address);
    const consumer = this.consumers.get(username);
    const known = consumer ? username : undefined;
    const refused = this.throttle.check(username, key);
    if (refused) {
      this.onFailure("rate_limited", known, address);
      throw new BridgeError("rate_limited", "too many failed logins; try again later", {
        retryAfterS: refused.retryAfterS,
      });
    }
    // Hash both sides so the comparison takes the same time whatever the lengths, and compare
    // even for an unknown user so its timing does not reveal which usernames exist.
    const given = sha256HexSync(password);
    const expected = consumer ? consumer.passwordHash : sha256HexSync(`unknown-user:${username}`);
    const ok = timingSafeEqualStrings(given, expected) && consumer !== undefined;
    if (!ok) {
      this.throttle.failed(username, key);
      this.onFailure("invalid_credentials", known, address);
      throw new BridgeError("invalid_credentials", "unable to log in with the credentials given");
    }
    this.throttle.succeeded(username, key);
    return this.issue(username);
  }

  /** Issues a token for a configured consumer (also usable by a host without HTTP). */
  async issue(username: string): Promise<IssuedToken> {
    if (!this.consumers.has(username)) throw new BridgeError("invalid_credentials", "unknown consumer");
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const now = this.clock.now();
    const expiresAt = now + this.ttlMs;
    await this.store.putToken({
      hash: sha256HexSync(token),
      consumer: username,
      expiresAt,
      createdAt: new Date(now).toISOString(),
      revoked: false,
    });
    return { token, expires_in: Math.round(this.ttlMs / 1000), expires_at: new Date(expiresAt).toISOString() };
  }

  async revoke(token: string): Promise<boolean> {
    const hash = sha256HexSync(token);
    this.revocations++;
    this.verified.delete(hash);
    return this.store.revokeToken(hash);
  }

  async revokeConsumer(username: string): Promise<number> {
    this.revocations++;
    for (const [hash, entry] of this.verified) if (entry.consumer === username) this.verified.delete(hash);
    return this.store.revokeConsumerTokens(username);
  }

  /**
   * Checks `Authorization: Token <t>` (or `Bearer <t>`): an API key of a consumer (in memory, no
   * store access), else a token. A token the store confirmed is trusted for
   * {@link VERIFIED_TOKEN_CACHE_MS} (never past its expiry) without asking the store again.
   */
  async authenticate(header: string | null): Promise<AuthenticatedConsumer> {
    const match = header === null ? null : /^(Token|Bearer)\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      this.onFailure("unauthorized");
      throw new BridgeError(
        "unauthorized",
        "authentication credentials were not provided (Authorization: Token <token>)",
      );
    }
    // Lookup by hash: the stored value is never the token, and a hash lookup needs no comparison of secrets.
    const hash = sha256HexSync(match[2]!);
    const keyOwner = this.apiKeys.consumerOf(hash);
    const keyConsumer = keyOwner === undefined ? undefined : this.consumers.get(keyOwner);
    if (keyConsumer) return authenticated(keyConsumer);
    const now = this.clock.now();
    const cached = this.verified.get(hash);
    // `until` is never past the token's expiry.
    if (cached && cached.until > now) {
      const consumer = this.consumers.get(cached.consumer);
      if (consumer) return authenticated(consumer);
    }
    if (cached) this.verified.delete(hash);
    const revocations = this.revocations;
    const stored = await this.store.getToken(hash);
    if (!stored) {
      this.onFailure("unauthorized");
      throw new BridgeError("unauthorized", "invalid token");
    }
    if (stored.revoked) {
      this.onFailure("token_revoked", stored.consumer);
      throw new BridgeError("token_revoked", "the token was revoked");
    }
    if (stored.expiresAt <= this.clock.now()) {
      this.onFailure("token_expired", stored.consumer);
      throw new BridgeError("token_expired", "the token has expired; log in again at token/");
    }
    const consumer = this.consumers.get(stored.consumer);
    if (!consumer) {
      this.onFailure("unauthorized", stored.consumer);
      throw new BridgeError("unauthorized", "the token's consumer is no longer configured");
    }
    if (revocations === this.revocations) {
      if (this.verified.size >= VERIFIED_TOKEN_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
      const until = Math.min(stored.expiresAt, this.clock.now() + VERIFIED_TOKEN_CACHE_MS);
      this.verified.set(hash, { consumer: stored.consumer, until });
    }
    return authenticated(consumer);
  }
}

function authenticated(consumer: ConsumerConfig): AuthenticatedConsumer {
  return {
    username: consumer.username,
    sources: consumer.sources,
    signingSecrets: consumer.signingSecrets,
    admin: consumer.admin === true,
  };
}

/** 403 `forbidden` unless the consumer is an admin (`"admin": true`): only admins open `admin/…`. */
export function assertAdmin(consumer: AuthenticatedConsumer): void {
  if (!consumer.admin) throw new BridgeError("forbidden", "this consumer is not an admin");
}

/** 403 unless the consumer may speak for `source`. */
export function assertSource(consumer: AuthenticatedConsumer, source: ChatSource, field = "chat_source"): void {
  if (!consumer.sources.includes(source)) {
    throw new BridgeError("forbidden_source", `this consumer may not speak for chat_source ${source}`, { field });
  }
}

/**
 * The side a consumer speaks for when a call does not say (`close/` and `ack/` bodies of legacy
 * callers carry no `chat_source`): defined only when the consumer speaks for one side.
 */
export function impliedSide(consumer: AuthenticatedConsumer): "chatbot" | "helpline" | undefined {
  const chatbot = consumer.sources.includes("WENI");
  const helpline = consumer.sources.includes("OUTBOX") || consumer.sources.includes("HELPLINE");
  if (chatbot && !helpline) return "chatbot";
  if (helpline && !chatbot) return "helpline";
  return undefined;
}
