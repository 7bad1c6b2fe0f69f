import type { BridgeEventMap } from "../src/conversations/events";
import { createBridge } from "../src/create-bridge";
import { UpstreamError } from "../src/errors/upstream-error";
import type { BridgeOptions } from "../src/options";
import type { ChatbotMessage, ChatbotTarget } from "../src/ports/chatbot-target";
import { manualClock } from "../src/ports/clock";
import type { HelplineMessage, HelplineTarget } from "../src/ports/helpline-target";
import type { AckNotice, CloseNotice } from "../src/ports/notices";
import { createMemoryStore } from "../src/store/memory-store";
import type { Store } from "../src/store/store";

/** What a scripted target does on its next calls: succeed, or throw the given error. */
type Outcome = "ok" | Error;

/** An upstream failure as the real clients raise it. */
export function upstreamFailure(status: number, retryAfterMs?: number): UpstreamError {
  const code = status === 429 ? "rate_limited" : status >= 500 ? "unavailable" : status === 401 ? "auth" : "validation";
  return new UpstreamError("test-upstream", { code, status, message: `upstream answered ${status}`, retryAfterMs });
}

/**
 * A port implementation that records what the bridge delivered, and fails on demand. It stands in
 * for the OpenCHS and RapidPro clients, which have their own msw tests.
 */
function recordingTarget<M>(options: { withAck?: boolean }) {
  const messages: M[] = [];
  const closes: CloseNotice[] = [];
  const acks: AckNotice[] = [];
  const script: Outcome[] = [];
  const next = () => {
    const outcome = script.shift() ?? "ok";
    if (outcome !== "ok") throw outcome;
  };
  const target = {
    async deliverMessage(message: M) {
      next();
      messages.push(message);
    },
    async notifyClose(close: CloseNotice) {
      next();
      closes.push(close);
    },
    ...(options.withAck
      ? {
          async sendAck(ack: AckNotice) {
            acks.push(ack);
          },
        }
      : {}),
  };
  return { target, messages, closes, acks, failNext: (...outcomes: Outcome[]) => script.push(...outcomes) };
}

/** A recording helpline target (see `recordingTarget`). */
export function recordingHelpline(options: { withAck?: boolean } = {}) {
  const recorder = recordingTarget<HelplineMessage>(options);
  return { ...recorder, target: recorder.target as HelplineTarget };
}

/** A recording chatbot target (see `recordingTarget`). */
export function recordingChatbot(options: { withAck?: boolean } = {}) {
  const recorder = recordingTarget<ChatbotMessage>(options);
  return { ...recorder, target: recorder.target as ChatbotTarget };
}

export const CHATBOT_USER = { username: "weni", password: "weni-password-1" };
export const HELPLINE_USER = { username: "helpline", password: "helpline-password-1" };

/** A bridge on a memory store, a manual clock and recording targets, with HTTP helpers. */
export function bridgeHarness(overrides: Partial<BridgeOptions> & { store?: Store } = {}) {
  const clock = manualClock();
  const store = overrides.store ?? createMemoryStore();
  const helpline = recordingHelpline({ withAck: true });
  const chatbot = recordingChatbot({ withAck: true });
  const bridge = createBridge({
    store,
    clock,
    helplines: helpline.target,
    chatbot: chatbot.target,
    consumers: [
      { ...CHATBOT_USER, sources: ["WENI"] },
      { ...HELPLINE_USER, sources: ["OUTBOX", "HELPLINE"] },
    ],
    hunting: { timeoutS: 60, max: 2 },
    delivery: { burstRetries: 1, burstMinDelayMs: 1, burstMaxDelayMs: 5, schedule: [1_000, 2_000, 4_000] },
    ...overrides,
  });
  const events: Array<{ name: keyof BridgeEventMap; payload: unknown }> = [];
  for (const name of [
    "conversation.requested",
    "conversation.hunting",
    "conversation.connected",
    "conversation.closed",
    "message.accepted",
    "message.duplicate",
    "message.sent",
    "message.delivered",
    "message.read",
    "message.failed",
    "delivery.retry",
    "delivery.dead_letter",
    "hunt.timeout",
    "retention.purged",
    "auth.failure",
    "error",
  ] as const) {
    bridge.events.on(name, (payload: unknown) => events.push({ name, payload }));
  }

  async function call(
    method: string,
    path: string,
    init: { body?: unknown; raw?: string; token?: string; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token) headers.authorization = `Token ${init.token}`;
    let body: string | undefined;
    if (init.raw !== undefined) body = init.raw;
    else if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers["content-type"] ??= "application/json";
    }
    const response = await bridge.handler(
      new Request(`http://bridge.test/api/${path}`, { method, headers, ...(body !== undefined ? { body } : {}) }),
      { remoteAddress: "127.0.0.1" },
    );
    const text = await response.text();
    // biome-ignore lint/suspicious/noExplicitAny: tests read answers of many documented shapes
    return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as any) : undefined };
  }

  async function login(user: { username: string; password: string }) {
    const res = await call("POST", "token/", { body: user });
    if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
    return res.json.token as string;
  }

  return { bridge, store, clock, helpline, chatbot, events, call, login };
}

/** A client message body as a RapidPro flow sends it. */
export function clientMessage(session: string, text: string, extra: Record<string, unknown> = {}) {
  return {
    chat_session: session,
    chat_message: text,
    chat_sender: "6b0f4e3c-1c1a-4a5e-9f7e-0a1b2c3d4e5f",
    chat_source: "WENI",
    ...extra,
  };
}
