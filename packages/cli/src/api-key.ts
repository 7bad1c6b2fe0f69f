import { createHash, randomBytes } from "node:crypto";

/** A new consumer API key and the line that configures it. */
export interface NewApiKey {
  /** `obk_` and 43 base64url characters: 256 random bits. Shown once; the bridge never stores it. */
  key: string;
  /** `sha256:<64 hex>`: what goes in the consumer's `api_keys` in BRIDGE_CONSUMERS. */
  hash: string;
}

/** Makes an API key for `openchs-bridge api-key` (the bridge's `apiKeys` option takes its hash). */
export function newApiKey(): NewApiKey {
  const key = `obk_${randomBytes(32).toString("base64url")}`;
  return { key, hash: `sha256:${createHash("sha256").update(key).digest("hex")}` };
}

/** What `openchs-bridge api-key` prints: the key, and where its hash goes. */
export function apiKeyText({ key, hash }: NewApiKey): string {
  return [
    "New API key (give it to the flow; it is shown only this once and never expires):",
    "",
    `  ${key}`,
    "",
    'Add its hash to the consumer\'s "api_keys" in BRIDGE_CONSUMERS, then restart the gateway:',
    "",
    `  "${hash}"`,
    "",
    "The flow sends it as the header  Authorization: Token <key>",
    "To revoke it, remove the hash and restart.",
  ].join("\n");
}
