import { describe, expect, it } from "vitest";
import { parseSandboxConfig, type SandboxConfig, shellQuote, startSandbox } from "./sandbox";
import { formatEvent } from "./transcript";

describe("sandbox configuration", () => {
  it("has working defaults", () => {
    const config = parseSandboxConfig([], {}) as SandboxConfig;
    expect(config).toMatchObject({
      host: "127.0.0.1",
      helplinePort: 8091,
      rapidproPort: 8092,
      flavour: "weni",
      bridgeUrl: "http://127.0.0.1:8080/api/",
      ignoreFirstOffers: 0,
      autoCounselor: false,
      transcript: true,
    });
  });

  it("takes flags over the environment", () => {
    const config = parseSandboxConfig(
      [
        "--flavour",
        "nyaruka",
        "--helpline-port",
        "0",
        "--auto-counselor",
        "--bridge-url",
        "http://127.0.0.1:9000/open/api",
      ],
      { RAPIDPRO_SIM_FLAVOUR: "v7", HELPLINE_SIM_PORT: "7000", SANDBOX_CHATBOT_CONSUMER: "bot:bot-password-1" },
    ) as SandboxConfig;
    expect(config).toMatchObject({
      flavour: "nyaruka",
      helplinePort: 0,
      autoCounselor: true,
      bridgeUrl: "http://127.0.0.1:9000/open/api/",
      chatbotConsumer: { username: "bot", password: "bot-password-1" },
    });
  });

  it("names the bad value", () => {
    expect(() => parseSandboxConfig(["--flavour", "x"], {})).toThrow(/flavour/);
    expect(() => parseSandboxConfig([], { HELPLINE_SIM_PORT: "70000" })).toThrow(/HELPLINE_SIM_PORT/);
    expect(() => parseSandboxConfig([], { SANDBOX_BRIDGE_URL: "ftp://x" })).toThrow(/SANDBOX_BRIDGE_URL/);
    expect(() => parseSandboxConfig([], { SANDBOX_HELPLINE_CONSUMER: "nocolon" })).toThrow(/user:password/);
    expect(() => parseSandboxConfig(["--unknown"], {})).toThrow();
    expect(parseSandboxConfig(["--help"], {})).toBe("help");
  });

  it("starts both simulators and prints the bridge's environment pointing at them", async () => {
    const config = parseSandboxConfig(["--helpline-port", "0", "--rapidpro-port", "0", "--quiet"], {}) as SandboxConfig;
    const sandbox = await startSandbox(config);
    try {
      const env = Object.fromEntries(
        sandbox.envLines.map((line) => {
          const [, name, value] = /^export ([A-Z_]+)=(.*)$/.exec(line)!;
          return [name, value!.replace(/^'(.*)'$/, "$1")];
        }),
      );
      expect(env).toMatchObject({
        PORT: "8080",
        BRIDGE_BASE_PATH: "/api/",
        HELPLINE_URL: sandbox.helpline.url,
        RAPIDPRO_URL: sandbox.rapidpro.url,
        RAPIDPRO_CLOSE_FLOW: sandbox.rapidpro.closeFlow,
        CHATBOT_ACK_URL: sandbox.rapidpro.ackUrl,
        RAPIDPRO_FLAVOUR: "weni",
      });
      expect(JSON.parse(env.BRIDGE_CONSUMERS!)).toEqual([
        { username: "helpline", password: "sandbox-helpline-consumer", sources: ["OUTBOX", "HELPLINE"] },
        { username: "chatbot", password: "sandbox-chatbot-consumer", sources: ["WENI"] },
      ]);
      // The helpline answers the printed credentials, RapidPro the printed token.
      const basic = Buffer.from(`${env.HELPLINE_USERNAME}:${env.HELPLINE_PASSWORD}`).toString("base64");
      expect((await fetch(env.HELPLINE_URL!, { headers: { authorization: `Basic ${basic}` } })).status).toBe(200);
      const contacts = await fetch(`${env.RAPIDPRO_URL}contacts.json`, {
        headers: { authorization: `Token ${env.RAPIDPRO_TOKEN}` },
      });
      expect(contacts.status).toBe(200);
    } finally {
      await sandbox.close();
    }
  });

  it("quotes values for the shell", () => {
    expect(shellQuote("http://127.0.0.1:8091/helpline/api/")).toBe("http://127.0.0.1:8091/helpline/api/");
    expect(shellQuote(`[{"a":"it's"}]`)).toBe(`'[{"a":"it'"'"'s"}]'`);
  });

  it("formats transcript lines", () => {
    expect(
      formatEvent(1000, "helpline", "message.stored", { sessionId: "s1", text: "I need help", x: undefined }, 2500),
    ).toBe(`   +1.500s helpline message.stored       sessionId=s1 text="I need help"`);
  });
});
