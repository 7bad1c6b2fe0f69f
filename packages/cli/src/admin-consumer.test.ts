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
};
const OPERATOR = { username: "operator", password: "operator-password" };

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe('"admin": true in BRIDGE_CONSUMERS', () => {
  it("lets an admin have no sources, and its token opens admin/ (others' do not)", async () => {
    const config = loadConfig({
      ...BASE,
      BRIDGE_CONSUMERS: JSON.stringify([
        { username: "weni", password: "weni-password", sources: ["WENI"] },
        { ...OPERATOR, sources: [], admin: true },
      ]),
    });
    const { bridge, store } = composeGateway(config);
    try {
      const call = async (path: string, user: { username: string; password: string }) => {
        const login = await bridge.handler(
          new Request("http://bridge.test/api/token/", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(user),
          }),
        );
        const { token } = (await login.json()) as { token: string };
        return (
          await bridge.handler(
            new Request(`http://bridge.test/api/${path}`, { headers: { authorization: `Token ${token}` } }),
          )
        ).status;
      };
      expect(await call("admin/dead-letters", OPERATOR)).toBe(200);
      expect(await call("admin/dead-letters", { username: "weni", password: "weni-password" })).toBe(403);
    } finally {
      await store.close();
    }
  });

  it("refuses a consumer with no sources that is not an admin, naming the entry, not the password", () => {
    const error = configError({
      ...BASE,
      BRIDGE_CONSUMERS: JSON.stringify([{ username: "weni", password: "secret-password-9", sources: [] }]),
    });
    expect(error.variable).toBe("BRIDGE_CONSUMERS");
    expect(error.message).toContain("BRIDGE_CONSUMERS[0].sources");
    expect(error.message).toContain('"admin": true');
    expect(error.message).not.toContain("secret-password-9");
  });
});

describe("BRIDGE_SHUTDOWN_S", () => {
  const consumers = JSON.stringify([{ username: "weni", password: "weni-password", sources: ["WENI"] }]);
  it("defaults to 10 seconds and takes whole seconds up to an hour", () => {
    expect(loadConfig({ ...BASE, BRIDGE_CONSUMERS: consumers }).BRIDGE_SHUTDOWN_S).toBe(10);
    expect(loadConfig({ ...BASE, BRIDGE_CONSUMERS: consumers, BRIDGE_SHUTDOWN_S: "0" }).BRIDGE_SHUTDOWN_S).toBe(0);
    expect(configError({ ...BASE, BRIDGE_CONSUMERS: consumers, BRIDGE_SHUTDOWN_S: "soon" }).message).toBe(
      "BRIDGE_SHUTDOWN_S must be a number",
    );
    expect(configError({ ...BASE, BRIDGE_CONSUMERS: consumers, BRIDGE_SHUTDOWN_S: "7200" }).variable).toBe(
      "BRIDGE_SHUTDOWN_S",
    );
  });
});
