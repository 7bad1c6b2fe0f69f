import { apiKeyHash } from "@openchs-bridge/core";
import { type System, type SystemOptions, startSystem, TEST_CREDENTIALS } from "../../reliability/support/system";
import { loadFixture, type RenderedRequest, renderFixture } from "./fixtures";
import { exchange, type RawAnswer } from "./http-exchange";

/**
 * The real gateway process (`openchs-bridge serve`) with the simulated helpline and RapidPro, as the
 * reliability suite runs it (test/reliability/support/system.ts), plus what the fixtures need: the
 * values of their placeholders, and a way to send one over a raw socket.
 */
export interface CallerSystem extends System {
  /** Placeholder values known at start (secrets, address); tests add what the bridge assigns. */
  values: Record<string, string>;
  /** Renders a fixture with `values` and `extra`, writes it on a raw socket, returns the answer. */
  send(fixture: string, extra?: Record<string, string>): Promise<RawAnswer & { request: RenderedRequest }>;
}

/** The ticketer's bearer token mailroom sends (`TICKETER_API_TOKEN`) in the style B suite. */
export const TICKETER_TOKEN = "real-callers-ticketer-token-0123456789";
/** The HMAC secret of the ticketer callbacks (`TICKETER_WEBHOOK_SECRET`). */
export const TICKETER_SECRET = "real-callers-webhook-secret-0123456789";
/**
 * The chatbot consumer's API key: the flow's `@globals.bridge_key`, sent as `Authorization: Token
 * <key>` (`{{api_key}}` in the flow fixtures). Shaped as `openchs-bridge api-key` makes them
 * (`obk_` and 43 base64url characters); the gateway is given only its `sha256:` hash.
 */
export const CHATBOT_API_KEY = "obk_real-callers-chatbot-key-0123456789abcdefgh";

export async function startCallerSystem(options: SystemOptions = {}): Promise<CallerSystem> {
  const credentials = { ...TEST_CREDENTIALS, ...options.credentials };
  // The reliability suite's two consumers, the chatbot's with the flow's API key (docs/rapidpro.md,
  // "The flow template"), as an operator configures it: `"api_keys": ["sha256:<hex>"]`.
  const consumers = [
    {
      username: "chatbot",
      password: credentials.chatbotPassword,
      sources: ["WENI"],
      api_keys: [apiKeyHash(CHATBOT_API_KEY)],
    },
    { username: "helpline", password: credentials.helplineConsumerPassword, sources: ["OUTBOX", "HELPLINE"] },
  ];
  const system = await startSystem({
    ...options,
    env: { BRIDGE_CONSUMERS: JSON.stringify(consumers), ...options.env },
  });
  const values: Record<string, string> = {
    host: `127.0.0.1:${system.gateway.port}`,
    "helpline.username": system.counselor.username,
    "helpline.password": system.counselor.password,
    "chatbot.username": system.chatbot.username,
    "chatbot.password": system.chatbot.password,
    api_key: CHATBOT_API_KEY,
    "ticketer.token": TICKETER_TOKEN,
  };
  return Object.assign(system, {
    values,
    async send(fixture: string, extra: Record<string, string> = {}) {
      const request = renderFixture(loadFixture(fixture), { ...values, ...extra });
      const answer = await exchange(system.gateway.port, request.bytes);
      return { ...answer, request };
    },
  });
}

/** One line for the report of what a caller got: status and the start of the body. */
export function describeAnswer(answer: RawAnswer): string {
  return `${answer.status} ${answer.text.slice(0, 300)}`;
}
