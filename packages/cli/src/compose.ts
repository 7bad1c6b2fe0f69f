import { type Bridge, type Clock, createBridge, type Store } from "@openchs-bridge/core";
import { createUndiciTransport } from "@openchs-bridge/core/node";
import { prometheusExporter } from "@openchs-bridge/core/prometheus";
import { createOpenChsHelplineClient, createOpenChsHelplineTarget } from "@openchs-bridge/openchs-client";
import {
  createRapidProChatbotTarget,
  createRapidProClient,
  createTicketerCallbackClient,
  createTicketerChatbotTarget,
  createTicketerHandler,
} from "@openchs-bridge/rapidpro-adapter";
import type { GatewayConfig } from "./config";
import { openStore } from "./store";

export interface ComposedGateway {
  bridge: Bridge;
  store: Store;
  storeDescription: string;
}

/**
 * Builds the bridge a configuration describes: the store, the OpenCHS helpline client and target,
 * the RapidPro client and target, and style B when `TICKETER_API_TOKEN` is set. Only composition:
 * no protocol logic lives here. The upstream clients do not retry by themselves: the bridge's
 * durable outbox owns retries, so a failed attempt is never retried twice over.
 */
export function composeGateway(
  config: GatewayConfig,
  overrides: { store?: Store; fetch?: typeof fetch; clock?: Clock; onWorkQueued?: () => void } = {},
): ComposedGateway {
  const opened = overrides.store ? { store: overrides.store, description: "provided" } : openStore(config.BRIDGE_STORE);
  const upstreamTimeoutMs = config.BRIDGE_UPSTREAM_TIMEOUT_S * 1000;
  const transport = {
    retry: false as const,
    timeoutMs: upstreamTimeoutMs,
    // Tests inject `fetch`; else undici's pooled `request`, several times cheaper per call than `fetch`.
    ...(overrides.fetch ? { fetch: overrides.fetch } : { transport: createUndiciTransport() }),
  };

  const helplineClient = createOpenChsHelplineClient({
    baseUrl: config.HELPLINE_URL,
    username: config.HELPLINE_USERNAME,
    password: config.HELPLINE_PASSWORD,
    messageEncoding: config.HELPLINE_MESSAGE_ENCODING,
    ...transport,
  });
  const rapidpro = createRapidProClient({
    baseUrl: config.RAPIDPRO_URL,
    token: config.RAPIDPRO_TOKEN,
    // RapidPro serves its API over https only; plain http is allowed for a sandbox on this machine.
    allowHttp: isLoopback(config.RAPIDPRO_URL),
    ...(config.RAPIDPRO_FLAVOUR ? { flavour: config.RAPIDPRO_FLAVOUR } : {}),
    ...transport,
  });
  const chatbot = createRapidProChatbotTarget({
    client: rapidpro,
    closeFlow: config.RAPIDPRO_CLOSE_FLOW,
    ...(config.RAPIDPRO_UNAVAILABLE_FLOW ? { unavailableFlow: config.RAPIDPRO_UNAVAILABLE_FLOW } : {}),
    ...(config.CHATBOT_ACK_URL
      ? {
          ack: {
            url: config.CHATBOT_ACK_URL,
            ...(config.CHATBOT_ACK_TOKEN ? { token: config.CHATBOT_ACK_TOKEN } : {}),
          },
        }
      : {}),
    ...(overrides.fetch ? { fetch: overrides.fetch } : {}),
  });

  const ticketer =
    config.TICKETER_API_TOKEN && config.TICKETER_CALLBACK_URL && config.TICKETER_WEBHOOK_SECRET
      ? {
          token: config.TICKETER_API_TOKEN,
          target: createTicketerChatbotTarget({
            callback: createTicketerCallbackClient({
              callbackUrl: config.TICKETER_CALLBACK_URL,
              secret: config.TICKETER_WEBHOOK_SECRET,
              ...transport,
            }),
            ...(config.BRIDGE_UNAVAILABLE_TEXT ? { unavailableText: config.BRIDGE_UNAVAILABLE_TEXT } : {}),
          }),
        }
      : undefined;

  const bridge = createBridge({
    store: opened.store,
    helplines: createOpenChsHelplineTarget({ client: helplineClient }),
    chatbot,
    ...(ticketer
      ? {
          ticketerChatbot: ticketer.target,
          ticketer: (conversations) => createTicketerHandler({ apiToken: ticketer.token, conversations }),
        }
      : {}),
    consumers: config.BRIDGE_CONSUMERS,
    basePath: config.BRIDGE_BASE_PATH,
    tokenTtlS: config.BRIDGE_TOKEN_TTL,
    loginRateLimit: {
      max: config.BRIDGE_LOGIN_MAX_FAILURES,
      maxPerAddress: config.BRIDGE_LOGIN_MAX_FAILURES_PER_ADDRESS,
      windowS: config.BRIDGE_LOGIN_WINDOW_S,
    },
    ...(config.BRIDGE_TRUSTED_PROXIES ? { trustedProxies: config.BRIDGE_TRUSTED_PROXIES } : {}),
    forwardedHeader: config.BRIDGE_FORWARDED_HEADER,
    maxBodyBytes: config.BRIDGE_MAX_BODY_BYTES,
    ...(config.BRIDGE_COUNSELOR_NAME_TEMPLATE !== undefined
      ? { counselorNameTemplate: config.BRIDGE_COUNSELOR_NAME_TEMPLATE }
      : {}),
    hunting: { timeoutS: config.HUNT_TIMEOUT_S, max: config.HUNT_MAX },
    unavailableNotice: { afterS: config.BRIDGE_UNAVAILABLE_NOTICE_S },
    delivery: {
      // Unset, the bridge's defaults: the growing schedule, and a 72 h horizon (or the sum of a set schedule).
      ...(config.BRIDGE_RETRY_SCHEDULE_S ? { schedule: config.BRIDGE_RETRY_SCHEDULE_S.map((s) => s * 1000) } : {}),
      ...(config.BRIDGE_RETRY_HORIZON_S !== undefined ? { retryHorizonMs: config.BRIDGE_RETRY_HORIZON_S * 1000 } : {}),
      maxWaitMs: config.BRIDGE_RETRY_MAX_WAIT_S * 1000,
      // Longer than the clients' own per-call timeout, so an upstream that does not answer is
      // reported as the client's timeout (default 10 s per call, 15 s per attempt).
      attemptTimeoutMs: upstreamTimeoutMs + 5_000,
    },
    ...(config.BRIDGE_RETENTION_DAYS !== undefined
      ? { retention: { closedAfterDays: config.BRIDGE_RETENTION_DAYS } }
      : {}),
    ...(overrides.clock ? { clock: overrides.clock } : {}),
    ...(overrides.onWorkQueued ? { onWorkQueued: overrides.onWorkQueued } : {}),
    // GET {base}metrics, with prom-client's process and Node.js metrics in the bridge's own registry.
    ...(config.BRIDGE_METRICS_TOKEN
      ? { metrics: { token: config.BRIDGE_METRICS_TOKEN, exporter: prometheusExporter() } }
      : {}),
    // BRIDGE_LOG_TEXT: text (and client addresses) in events, hence in logs and admin answers.
    events: { includeText: config.BRIDGE_LOG_TEXT },
  });
  return { bridge, store: opened.store, storeDescription: opened.description };
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "[::1]" || host.startsWith("127.");
}
