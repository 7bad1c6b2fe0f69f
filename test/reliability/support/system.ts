import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type HelplineSimulator,
  type HelplineSimulatorOptions,
  type RapidProSimulator,
  type RapidProSimulatorOptions,
  startHelplineSimulator,
  startRapidProSimulator,
} from "@openchs-bridge/simulators";
import { type AnswerSink, BridgeClient } from "./bridge-client";
import { GatewayProcess } from "./gateway-process";

/** Every credential of a run: defaults are plain test values; the secrets test passes sentinels. */
export interface Credentials {
  chatbotPassword: string;
  helplineConsumerPassword: string;
  helplineApiPassword: string;
  rapidproToken: string;
  ackToken: string;
}

export const TEST_CREDENTIALS: Credentials = {
  chatbotPassword: "reliability-chatbot-pass",
  helplineConsumerPassword: "reliability-helpline-pass",
  helplineApiPassword: "reliability-helpline-api",
  rapidproToken: "reliability-rapidpro-token-0123456789",
  ackToken: "reliability-ack-token-0123456789",
};

export interface SystemOptions {
  /** Extra environment of the gateway (e.g. `HUNT_TIMEOUT_S`, `BRIDGE_RETRY_SCHEDULE_S`). */
  env?: Record<string, string>;
  helpline?: HelplineSimulatorOptions;
  rapidpro?: RapidProSimulatorOptions;
  credentials?: Partial<Credentials>;
  /** Sees every answer of the two clients. */
  sink?: AnswerSink;
  /** Start the gateway now (default true). */
  start?: boolean;
}

/** The simulators, the real gateway process on a sqlite file, and a client for each side. */
export interface System {
  helpline: HelplineSimulator;
  rapidpro: RapidProSimulator;
  gateway: GatewayProcess;
  /** The chatbot's consumer (`WENI`). */
  chatbot: BridgeClient;
  /** The helpline's consumer (`OUTBOX`, `HELPLINE`). */
  counselor: BridgeClient;
  credentials: Credentials;
  env: Record<string, string>;
  dir: string;
  dbFile: string;
  close(): Promise<void>;
}

export async function startSystem(options: SystemOptions = {}): Promise<System> {
  const credentials = { ...TEST_CREDENTIALS, ...options.credentials };
  const helpline = await startHelplineSimulator({
    users: [{ username: "bridge", password: credentials.helplineApiPassword }],
    offerDelayMs: 20,
    readDelayMs: 10,
    ...options.helpline,
  });
  const rapidpro = await startRapidProSimulator({
    flavour: "weni",
    token: credentials.rapidproToken,
    ackToken: credentials.ackToken,
    ...options.rapidpro,
  });
  const dir = mkdtempSync(join(tmpdir(), "bridge-reliability-"));
  const dbFile = join(dir, "bridge.db");
  const env: Record<string, string> = {
    BRIDGE_STORE: `sqlite:${dbFile}`,
    BRIDGE_CONSUMERS: JSON.stringify([
      { username: "chatbot", password: credentials.chatbotPassword, sources: ["WENI"] },
      { username: "helpline", password: credentials.helplineConsumerPassword, sources: ["OUTBOX", "HELPLINE"] },
    ]),
    HELPLINE_URL: helpline.url,
    HELPLINE_USERNAME: "bridge",
    HELPLINE_PASSWORD: credentials.helplineApiPassword,
    RAPIDPRO_URL: rapidpro.url,
    RAPIDPRO_TOKEN: credentials.rapidproToken,
    RAPIDPRO_FLAVOUR: rapidpro.flavour,
    RAPIDPRO_CLOSE_FLOW: rapidpro.closeFlow,
    CHATBOT_ACK_URL: rapidpro.ackUrl,
    CHATBOT_ACK_TOKEN: credentials.ackToken,
    ...options.env,
  };
  const gateway = new GatewayProcess(env);
  const base = () => gateway.url;
  const chatbot = new BridgeClient(base, "chatbot", credentials.chatbotPassword, options.sink);
  const counselor = new BridgeClient(base, "helpline", credentials.helplineConsumerPassword, options.sink);
  const system: System = {
    helpline,
    rapidpro,
    gateway,
    chatbot,
    counselor,
    credentials,
    env,
    dir,
    dbFile,
    async close() {
      await gateway.kill("SIGKILL");
      await Promise.allSettled([helpline.close(), rapidpro.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (options.start !== false) await startAndConnect(system);
  return system;
}

/** Starts (or restarts) the gateway; on its first start, points the simulators' counselors and flow at it. */
export async function startAndConnect(system: System): Promise<void> {
  await system.gateway.start();
  // A restart keeps the port, and the tokens live in the store: the simulators' clients stay valid.
  if (system.gateway.starts > 1) return;
  system.helpline.connectBridge({
    url: system.gateway.url,
    username: "helpline",
    password: system.credentials.helplineConsumerPassword,
  });
  system.rapidpro.connectBridge({
    url: system.gateway.url,
    username: "chatbot",
    password: system.credentials.chatbotPassword,
  });
}
