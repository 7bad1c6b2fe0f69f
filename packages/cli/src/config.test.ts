import { describe, expect, it } from "vitest";
import { ConfigError, helpText, loadConfig, parseDotEnv, VARIABLES } from "./config";

const valid = {
  BRIDGE_CONSUMERS: JSON.stringify([
    { username: "weni", password: "weni-password", sources: ["WENI"] },
    { username: "helpline", password: "helpline-password", sources: ["OUTBOX", "HELPLINE"] },
  ]),
  HELPLINE_URL: "http://127.0.0.1:9001/helpline/api/",
  HELPLINE_USERNAME: "bridge",
  HELPLINE_PASSWORD: "helpline-api-secret",
  RAPIDPRO_URL: "http://127.0.0.1:9002/api/v2/",
  RAPIDPRO_TOKEN: "rapidpro-api-token",
  RAPIDPRO_CLOSE_FLOW: "5a5c3c4e-0000-4000-8000-000000000001",
};

const failure = (env: Record<string, string | undefined>) => {
  try {
    loadConfig(env);
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
};

describe("loadConfig", () => {
  it("applies PROTOCOL.md's defaults", () => {
    const config = loadConfig(valid);
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: "127.0.0.1",
      BRIDGE_BASE_PATH: "/api/",
      BRIDGE_STORE: "sqlite:./data/bridge.db",
      BRIDGE_TOKEN_TTL: 3600,
      HUNT_TIMEOUT_S: 120,
      HUNT_MAX: 3,
      HELPLINE_MESSAGE_ENCODING: "plain",
    });
    expect(config.BRIDGE_CONSUMERS).toHaveLength(2);
  });

  it.each([
    ["HELPLINE_URL", { HELPLINE_URL: undefined }, /HELPLINE_URL is required/],
    ["HELPLINE_URL", { HELPLINE_URL: "ftp://x" }, /HELPLINE_URL must be an http\(s\) URL/],
    ["PORT", { PORT: "eighty" }, /PORT must be a number/],
    ["PORT", { PORT: "70000" }, /PORT must be at most 65535/],
    ["BRIDGE_STORE", { BRIDGE_STORE: "mysql://x" }, /BRIDGE_STORE must be sqlite:<file>, memory or postgres/],
    ["BRIDGE_CONSUMERS", { BRIDGE_CONSUMERS: "[{" }, /BRIDGE_CONSUMERS must be JSON/],
    ["BRIDGE_CONSUMERS", { BRIDGE_CONSUMERS: undefined }, /BRIDGE_CONSUMERS is required/],
    ["BRIDGE_BASE_PATH", { BRIDGE_BASE_PATH: "api" }, /leading and trailing slash/],
    [
      "TICKETER_CALLBACK_URL",
      { TICKETER_API_TOKEN: "t".repeat(20) },
      /TICKETER_CALLBACK_URL is required when TICKETER_API_TOKEN/,
    ],
  ])("names %s when it is missing or invalid", (variable, change, message) => {
    const error = failure({ ...valid, ...change });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(message);
  });

  it("never shows a password in the error about BRIDGE_CONSUMERS", () => {
    const error = failure({
      ...valid,
      BRIDGE_CONSUMERS: JSON.stringify([{ username: "a", password: "short", sources: ["WENI"] }]),
    });
    expect(error.message).toMatch(/BRIDGE_CONSUMERS\[0\]\.password/);
    expect(error.message).not.toContain('short"');
    expect(error.message).not.toMatch(/"short"/);
  });

  it("reads the retry schedule and the retention period", () => {
    // Unset: the bridge's growing schedule up to the hourly cap, for a 72 h horizon.
    expect(loadConfig(valid).BRIDGE_RETRY_SCHEDULE_S).toBeUndefined();
    expect(loadConfig(valid).BRIDGE_RETENTION_DAYS).toBeUndefined();
    const set = loadConfig({ ...valid, BRIDGE_RETRY_SCHEDULE_S: "1, 2,60", BRIDGE_RETENTION_DAYS: "30.5" });
    expect(set.BRIDGE_RETRY_SCHEDULE_S).toEqual([1, 2, 60]);
    expect(set.BRIDGE_RETENTION_DAYS).toBe(30.5);
    expect(failure({ ...valid, BRIDGE_RETRY_SCHEDULE_S: "5,,30" }).variable).toBe("BRIDGE_RETRY_SCHEDULE_S");
    expect(failure({ ...valid, BRIDGE_RETRY_SCHEDULE_S: "5m" }).message).toMatch(/whole seconds/);
    expect(failure({ ...valid, BRIDGE_RETENTION_DAYS: "0" }).message).toMatch(
      /BRIDGE_RETENTION_DAYS must be more than 0/,
    );
    expect(failure({ ...valid, BRIDGE_RETENTION_DAYS: "week" }).variable).toBe("BRIDGE_RETENTION_DAYS");
  });

  it("reads the retry horizon, the longest wait and the helpline-unavailable notice", () => {
    const defaults = loadConfig(valid);
    expect(defaults.BRIDGE_RETRY_HORIZON_S).toBeUndefined();
    expect(defaults.BRIDGE_RETRY_MAX_WAIT_S).toBe(3600);
    expect(defaults.BRIDGE_UNAVAILABLE_NOTICE_S).toBe(120);
    expect(defaults.BRIDGE_UNAVAILABLE_TEXT).toBeUndefined();
    expect(defaults.RAPIDPRO_UNAVAILABLE_FLOW).toBeUndefined();
    const set = loadConfig({
      ...valid,
      BRIDGE_RETRY_HORIZON_S: "86400",
      BRIDGE_RETRY_MAX_WAIT_S: "600",
      BRIDGE_UNAVAILABLE_NOTICE_S: "0",
      BRIDGE_UNAVAILABLE_TEXT: "Call 116 if you are in danger.",
      RAPIDPRO_UNAVAILABLE_FLOW: "0e1d2c3b-4a59-4687-9a8b-7c6d5e4f3a2b",
    });
    expect(set).toMatchObject({
      BRIDGE_RETRY_HORIZON_S: 86_400,
      BRIDGE_RETRY_MAX_WAIT_S: 600,
      BRIDGE_UNAVAILABLE_NOTICE_S: 0,
      BRIDGE_UNAVAILABLE_TEXT: "Call 116 if you are in danger.",
      RAPIDPRO_UNAVAILABLE_FLOW: "0e1d2c3b-4a59-4687-9a8b-7c6d5e4f3a2b",
    });
    expect(failure({ ...valid, BRIDGE_RETRY_HORIZON_S: "3d" }).variable).toBe("BRIDGE_RETRY_HORIZON_S");
    expect(failure({ ...valid, BRIDGE_RETRY_MAX_WAIT_S: "0" }).message).toMatch(/at least 1/);
    expect(failure({ ...valid, BRIDGE_UNAVAILABLE_NOTICE_S: "-1" }).variable).toBe("BRIDGE_UNAVAILABLE_NOTICE_S");
    expect(failure({ ...valid, BRIDGE_UNAVAILABLE_TEXT: "x".repeat(641) }).variable).toBe("BRIDGE_UNAVAILABLE_TEXT");
  });

  it("reads the upstream timeout, in whole seconds", () => {
    expect(loadConfig(valid).BRIDGE_UPSTREAM_TIMEOUT_S).toBe(10);
    expect(loadConfig({ ...valid, BRIDGE_UPSTREAM_TIMEOUT_S: "30" }).BRIDGE_UPSTREAM_TIMEOUT_S).toBe(30);
    for (const bad of ["0", "2.5", "301", "soon"]) {
      expect(failure({ ...valid, BRIDGE_UPSTREAM_TIMEOUT_S: bad }).variable).toBe("BRIDGE_UPSTREAM_TIMEOUT_S");
    }
  });

  it("reads login throttling and trusted proxies, refusing what would let one consumer lock the others out", () => {
    expect(loadConfig(valid)).toMatchObject({
      BRIDGE_LOGIN_MAX_FAILURES: 5,
      BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS: 100,
      BRIDGE_LOGIN_WINDOW_S: 300,
      BRIDGE_TRUSTED_PROXIES: undefined,
      BRIDGE_FORWARDED_HEADER: "x-forwarded-for",
    });
    const set = loadConfig({
      ...valid,
      BRIDGE_LOGIN_MAX_FAILURES: "3",
      BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS: "30",
      BRIDGE_LOGIN_WINDOW_S: "60",
      BRIDGE_TRUSTED_PROXIES: "127.0.0.1, ::1,10.0.0.0/8, ::ffff:172.17.0.1 ,fd00::/8",
      BRIDGE_FORWARDED_HEADER: "forwarded",
    });
    expect(set.BRIDGE_TRUSTED_PROXIES).toEqual(["127.0.0.1", "::1", "10.0.0.0/8", "::ffff:172.17.0.1", "fd00::/8"]);
    expect(set).toMatchObject({ BRIDGE_LOGIN_MAX_FAILURES: 3, BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS: 30 });
    expect(failure({ ...valid, BRIDGE_TRUSTED_PROXIES: "127.0.0.1,proxy.internal" }).message).toMatch(
      /BRIDGE_TRUSTED_PROXIES must list IP addresses or CIDRs/,
    );
    expect(failure({ ...valid, BRIDGE_FORWARDED_HEADER: "x-real-ip" }).variable).toBe("BRIDGE_FORWARDED_HEADER");
    expect(failure({ ...valid, BRIDGE_LOGIN_WINDOW_S: "0" }).variable).toBe("BRIDGE_LOGIN_WINDOW_S");
    const inverted = failure({ ...valid, BRIDGE_LOGIN_MAX_FAILURES: "10", BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS: "5" });
    expect(inverted.variable).toBe("BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS");
    expect(inverted.message).toMatch(/at least BRIDGE_LOGIN_MAX_FAILURES/);
  });

  it("reads a consumer's api_keys as the bridge's apiKeys, and names a malformed one without showing it", () => {
    const hash = `sha256:${"ab".repeat(32)}`;
    const consumers = (apiKeys: unknown) =>
      JSON.stringify([{ username: "weni", password: "weni-password", sources: ["WENI"], api_keys: apiKeys }]);
    expect(loadConfig({ ...valid, BRIDGE_CONSUMERS: consumers([hash]) }).BRIDGE_CONSUMERS).toEqual([
      { username: "weni", password: "weni-password", sources: ["WENI"], apiKeys: [hash] },
    ]);
    expect(loadConfig(valid).BRIDGE_CONSUMERS[0]).not.toHaveProperty("apiKeys");
    // The usual mistake: the key itself instead of its hash.
    const pasted = failure({ ...valid, BRIDGE_CONSUMERS: consumers([hash, "obk_the-key-itself-pasted-here"]) });
    expect(pasted.variable).toBe("BRIDGE_CONSUMERS");
    expect(pasted.message).toMatch(
      /BRIDGE_CONSUMERS\[0\]\.api_keys\[1\]: expected sha256:<64 hex>: run `openchs-bridge api-key`/,
    );
    expect(pasted.message).not.toContain("obk_the-key");
  });

  it("reports every missing or invalid variable at once, one per line, naming each and showing no value", () => {
    const error = failure({
      BRIDGE_STORE: "memory",
      PORT: "SENTINEL-eighty",
      HELPLINE_URL: "SENTINEL-not-a-url",
      HELPLINE_USERNAME: "bridge",
      HELPLINE_PASSWORD: "SENTINEL-password",
      TICKETER_API_TOKEN: "SENTINEL-ticketer-token",
      BRIDGE_LOGIN_MAX_FAILURES: "10",
      BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS: "5",
    });
    expect(error.problems.map((p) => p.variable)).toEqual([
      "PORT",
      "BRIDGE_CONSUMERS",
      "HELPLINE_URL",
      "RAPIDPRO_URL",
      "RAPIDPRO_TOKEN",
      "RAPIDPRO_CLOSE_FLOW",
      "TICKETER_CALLBACK_URL",
      "TICKETER_WEBHOOK_SECRET",
      "BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS",
    ]);
    expect(error.variable).toBe("PORT");
    const lines = error.message.split("\n");
    expect(lines).toHaveLength(error.problems.length);
    expect(lines.map((line) => /^[A-Z_]+/.exec(line)?.[0])).toEqual(error.problems.map((p) => p.variable));
    expect(lines[1]).toMatch(/^BRIDGE_CONSUMERS is required: JSON/);
    expect(error.message).not.toContain("SENTINEL");
  });

  it("treats blank values as unset", () => {
    expect(loadConfig({ ...valid, PORT: "  " }).PORT).toBe(8080);
  });
});

describe("parseDotEnv", () => {
  it("reads NAME=value lines, comments and export", () => {
    expect(
      parseDotEnv(
        "# comment\nPORT=9000\nexport HOST=0.0.0.0\n  export  BRIDGE_LOG=off\nC=value # trailing\n\nbad line",
      ),
    ).toEqual({ PORT: "9000", HOST: "0.0.0.0", BRIDGE_LOG: "off", C: "value" });
  });

  it("takes quoted values without their quotes, even with a comment after them", () => {
    expect(parseDotEnv("KEY=\"a b\" # note\nB='x#y'\nC=\"line 1\\nline 2\"\nD='single \\n stays'")).toEqual({
      KEY: "a b",
      B: "x#y",
      C: "line 1\nline 2",
      D: "single \\n stays",
    });
  });

  it("keeps empty values empty (loadConfig then counts them as unset)", () => {
    const env = parseDotEnv('EMPTY=\nQUOTED=""\nPORT=');
    expect(env).toEqual({ EMPTY: "", QUOTED: "", PORT: "" });
    expect(loadConfig({ ...valid, ...env }).PORT).toBe(8080);
  });
});

describe("helpText", () => {
  it("lists every variable", () => {
    const text = helpText();
    for (const v of VARIABLES) expect(text).toContain(v.name);
  });
});

describe("docs/configuration.md", () => {
  it("documents every variable with its default", async () => {
    const { readFileSync } = await import("node:fs");
    const doc = readFileSync(new URL("../../../docs/configuration.md", import.meta.url), "utf8");
    for (const v of VARIABLES) {
      expect(doc).toContain(`| \`${v.name}\` |`);
      if (v.default !== undefined) expect(doc).toContain(`\`${v.default}\``);
    }
  });
});

describe("docs/configuration.md descriptions", () => {
  it("matches each variable's description", async () => {
    const { readFileSync } = await import("node:fs");
    const doc = readFileSync(new URL("../../../docs/configuration.md", import.meta.url), "utf8");
    for (const v of VARIABLES) expect(doc).toContain(`| \`${v.name}\` | ${v.description.replace(/\|/g, "\\|")} |`);
  });
});
