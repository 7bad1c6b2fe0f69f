import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { type ChatbotTarget, createBridge, createMemoryStore, type HelplineTarget } from "@openchs-bridge/core";
import { describe, expect, it } from "vitest";
import { apiKeyText, newApiKey } from "./api-key";
import { loadConfig } from "./config";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** `openchs-bridge api-key …` from source, as the published binary runs it. */
function runCli(...args: string[]) {
  return spawnSync(
    process.execPath,
    ["--conditions=@openchs-bridge/source", "--import", "tsx", "packages/cli/src/bin.ts", ...args],
    { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" } },
  );
}

/** A bridge configured the way `serve` is, from BRIDGE_CONSUMERS with the given api_keys. */
function bridgeWithKeys(apiKeys: string[]) {
  const config = loadConfig({
    BRIDGE_CONSUMERS: JSON.stringify([
      { username: "flows", password: "flows-password", sources: ["WENI"], api_keys: apiKeys },
    ]),
    HELPLINE_URL: "http://127.0.0.1:9/helpline/api/",
    HELPLINE_USERNAME: "bridge",
    HELPLINE_PASSWORD: "x",
    RAPIDPRO_URL: "http://127.0.0.1:9/api/v2/",
    RAPIDPRO_TOKEN: "x",
    RAPIDPRO_CLOSE_FLOW: "x",
  });
  const noop = async () => {};
  const target: HelplineTarget & ChatbotTarget = { deliverMessage: noop, notifyClose: noop };
  const bridge = createBridge({
    store: createMemoryStore(),
    helplines: target,
    chatbot: target,
    consumers: config.BRIDGE_CONSUMERS,
  });
  return async (key: string) =>
    (await bridge.handler(new Request("http://bridge.test/api/chat/", { headers: { authorization: `Token ${key}` } })))
      .status;
}

describe("newApiKey", () => {
  it("makes a long random key and the SHA-256 line that configures it", () => {
    const keys = Array.from({ length: 50 }, () => newApiKey());
    for (const { key, hash } of keys) {
      expect(key).toMatch(/^obk_[A-Za-z0-9_-]{43}$/);
      expect(hash).toBe(`sha256:${createHash("sha256").update(key).digest("hex")}`);
    }
    expect(new Set(keys.map((k) => k.key)).size).toBe(50);
    const text = apiKeyText(keys[0]!);
    expect(text).toContain(keys[0]!.key);
    expect(text).toContain(`"${keys[0]!.hash}"`);
    expect(text).toContain("api_keys");
  });
});

describe("openchs-bridge api-key", () => {
  it("prints a key that a bridge configured with the printed hash accepts, and no other", async () => {
    const json = runCli("api-key", "--json");
    expect(json.status).toBe(0);
    const made = JSON.parse(json.stdout) as { key: string; hash: string };
    const text = runCli("api-key");
    expect(text.status).toBe(0);
    const [key] = text.stdout.match(/obk_[A-Za-z0-9_-]{43}/) ?? [];
    const [hash] = text.stdout.match(/"(sha256:[0-9a-f]{64})"/)?.slice(1) ?? [];
    expect(key).not.toBe(made.key);
    const status = bridgeWithKeys([made.hash, hash!]);
    expect(await status(made.key)).toBe(200);
    expect(await status(key!)).toBe(200);
    expect(await status(newApiKey().key)).toBe(401);
    expect(await status(made.hash)).toBe(401);
  }, 30_000);

  it("refuses unknown flags, and is listed in the usage text", () => {
    const bad = runCli("api-key", "--length=10");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/api-key takes only --json/);
    expect(runCli("--help").stdout).toMatch(/openchs-bridge api-key \[--json\]/);
  }, 30_000);
});
