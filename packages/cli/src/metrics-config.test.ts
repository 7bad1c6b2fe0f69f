import { describe, expect, it } from "vitest";
import { composeGateway } from "./compose";
import { ConfigError, loadConfig } from "./config";

const BASE = {
  BRIDGE_STORE: "memory",
  HELPLINE_URL: "http://127.0.0.1:9/helpline/api/",
  HELPLINE_USERNAME: "bridge",
  HELPLINE_PASSWORD: "x",
  RAPIDPRO_URL: "http://127.0.0.1:9/api/v2/",
  RAPIDPRO_TOKEN: "x",
  RAPIDPRO_CLOSE_FLOW: "x",
  BRIDGE_CONSUMERS: JSON.stringify([{ username: "weni", password: "weni-password", sources: ["WENI"] }]),
};
const TOKEN = "scrape-token-0123456789";

async function scrape(env: Record<string, string>, authorization?: string) {
  const { bridge, store } = composeGateway(loadConfig(env));
  try {
    const response = await bridge.handler(
      new Request("http://bridge.test/api/metrics", { headers: authorization ? { authorization } : {} }),
    );
    return { status: response.status, text: await response.text() };
  } finally {
    await store.close();
  }
}

describe("BRIDGE_METRICS_TOKEN", () => {
  it("unset: GET {base}metrics is 404", async () => {
    expect((await scrape(BASE, `Bearer ${TOKEN}`)).status).toBe(404);
  });

  it("set: the Prometheus text with the bridge's families and the Node.js defaults, for that Bearer token only", async () => {
    const env = { ...BASE, BRIDGE_METRICS_TOKEN: TOKEN };
    expect((await scrape(env)).status).toBe(401);
    expect((await scrape(env, "Bearer not-the-token-0123456789")).status).toBe(401);
    const ok = await scrape(env, `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain("# TYPE openchs_bridge_outbox_pending gauge");
    expect(ok.text).toContain('openchs_bridge_conversations{state="requested"} 0');
    expect(ok.text).toContain("# TYPE nodejs_heap_size_used_bytes gauge");
  });

  it("refuses a token shorter than 16 characters, without echoing it", () => {
    let error: unknown;
    try {
      loadConfig({ ...BASE, BRIDGE_METRICS_TOKEN: "short-tok" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe("BRIDGE_METRICS_TOKEN");
    expect((error as ConfigError).message).not.toContain("short-tok");
  });
});
