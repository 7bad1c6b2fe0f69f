import { randomUUID } from "node:crypto";
import { loadConfig, type RunningGateway, startGateway } from "@openchs-bridge/cli";
import type { BridgeEventMap } from "@openchs-bridge/core";
import { DEFAULT_HELPLINE_USER, type HelplineSimulator, startHelplineSimulator } from "./helpline-simulator";
import { type RapidProSimulator, startRapidProSimulator } from "./rapidpro-simulator";

/** What the demo prints at the end, and returns (tests check it). */
export interface DemoSummary {
  conversationId: string;
  /** Client messages the helpline stored (re-notifications excluded), and duplicates it saw. */
  toHelpline: number;
  duplicatesAtHelpline: number;
  /** Counselor messages the child received through RapidPro. */
  toChild: number;
  reNotifications: number;
  retries: number;
  deadLetters: number;
  acksToChatbot: number;
  finalState: string;
  closedBy: string | undefined;
  handedBackToBot: boolean;
  ms: number;
}

export interface DemoOptions {
  /** Where the transcript goes. Default: stdout. */
  out?: (line: string) => void;
  /** Seconds before the bridge re-notifies the helpline. Default 2. */
  huntTimeoutS?: number;
}

const CHATBOT = { username: "chatbot", password: "demo-chatbot-password" };
const HELPLINE = { username: "helpline", password: "demo-helpline-password" };

/**
 * `npm run demo`: starts a simulated OpenCHS helpline and a simulated Weni, the gateway between
 * them (configured from the environment exactly as `openchs-bridge serve` is), and plays one whole
 * conversation as a live transcript: escalation, hunting with one timeout and a re-hunt, the
 * counselor's read, replies both ways with pseudonyms, acks, one failed delivery retried, and the
 * helpline's close handing the child back to the bot.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const started = Date.now();
  const stamp = () => `+${((Date.now() - started) / 1000).toFixed(2)}s`.padStart(8);
  const say = (who: string, text: string) => out(`${stamp()}  ${who.padEnd(10)} ${text}`);

  const helpline = await startHelplineSimulator({
    port: 0,
    ignoreFirstOffers: 1, // the first counselor offered the chat does not pick up: the bridge's hunt times out
    offerDelayMs: 150,
    readDelayMs: 150,
    includeText: true,
  });
  const rapidpro = await startRapidProSimulator({
    port: 0,
    flavour: "weni",
    includeText: true,
    ackToken: "demo-ack-token",
  });
  let gateway: RunningGateway | undefined;
  try {
    const config = loadConfig({
      PORT: "0",
      BRIDGE_STORE: "memory",
      BRIDGE_LOG: "off",
      BRIDGE_CONSUMERS: JSON.stringify([
        { ...CHATBOT, sources: ["WENI"] },
        { ...HELPLINE, sources: ["OUTBOX", "HELPLINE"] },
      ]),
      HELPLINE_URL: helpline.url,
      HELPLINE_USERNAME: DEFAULT_HELPLINE_USER.username,
      HELPLINE_PASSWORD: DEFAULT_HELPLINE_USER.password,
      RAPIDPRO_URL: rapidpro.url,
      RAPIDPRO_TOKEN: rapidpro.token,
      RAPIDPRO_FLAVOUR: "weni",
      RAPIDPRO_CLOSE_FLOW: rapidpro.closeFlow,
      CHATBOT_ACK_URL: rapidpro.ackUrl,
      CHATBOT_ACK_TOKEN: "demo-ack-token",
      HUNT_TIMEOUT_S: String(options.huntTimeoutS ?? 2),
      HUNT_MAX: "2",
    });
    gateway = await startGateway(config);
    const bridge = gateway.bridge;
    helpline.connectBridge({ url: gateway.url, ...HELPLINE });
    rapidpro.connectBridge({ url: gateway.url, ...CHATBOT });

    out("openchs-bridge demo: a child escalated from a Weni bot to an OpenCHS helpline, all on loopback");
    out(`  helpline simulator ${helpline.url}`);
    out(`  RapidPro simulator ${rapidpro.url} (weni)`);
    out(`  gateway            ${gateway.url}`);
    out("");

    // The live transcript: what people say comes from the simulators, state from the bridge's events.
    const counts = { deadLetters: 0, reNotifications: 0 };
    const on = <K extends keyof BridgeEventMap>(name: K, fn: (p: BridgeEventMap[K]) => void) =>
      bridge.events.on(name, fn as never);
    on("conversation.requested", (e) =>
      say("bridge", `conversation ${e.conversationId}: requested (helpline "${e.helpline}")`),
    );
    on("conversation.hunting", () => say("bridge", "state → hunting: the helpline has it and looks for a counselor"));
    on("conversation.connected", (e) =>
      say("bridge", `state → connected: ${e.counselorName ?? "a counselor"} took the chat`),
    );
    on("conversation.closed", (e) =>
      say("bridge", `state → closed by ${e.closedBy}${e.reason ? ` (${e.reason})` : ""}`),
    );
    on("message.sent", (e) =>
      say(
        "bridge",
        `delivered ${e.direction === "to_helpline" ? "to the helpline" : "to the chatbot"}: ${e.messageId}${e.attempts > 1 ? ` after ${e.attempts} attempts` : ""}`,
      ),
    );
    on("message.read", (e) => say("bridge", `read by ${e.counselorName ?? "the counselor"}: ${e.messageId}`));
    on("message.delivered", (e) => say("bridge", `delivered to the child's phone: ${e.messageId}`));
    on("delivery.retry", (e) => {
      const status = e.error.status ? ` ${e.error.status}` : "";
      const when = e.quick
        ? "retrying in a moment"
        : `retrying in ${Math.round((e.nextAttemptAt - Date.now()) / 1000)} s`;
      say("bridge", `attempt failed (${e.error.code}${status}), ${when}`);
    });
    on("delivery.dead_letter", () => counts.deadLetters++);
    on("hunt.timeout", (e) => {
      if (!e.exhausted) counts.reNotifications++;
      say(
        "bridge",
        e.exhausted
          ? "hunting given up"
          : `no counselor read it in time: re-notifying the helpline (${e.round}/${e.of})`,
      );
    });
    helpline.events.on("hunt.offered", (e) =>
      say("helpline", `offers the chat to ${e.counselor} (ext ${e.extension})`),
    );
    helpline.events.on("hunt.ignored", (e) => say("helpline", `${e.counselor} does not pick up`));
    rapidpro.events.on("child.escalated", (e) =>
      say("child→bot", `"${e.text}"  — the flow judges the risk high and escalates`),
    );
    rapidpro.events.on("child.said", (e) => say("child", `"${e.text}"`));
    rapidpro.events.on("broadcast.received", (e) => say("bot→child", `"${e.text}"`));
    rapidpro.events.on("flow_start.received", (e) =>
      say("bot", `flow "${e.flow}" started for the child: ${JSON.stringify(e.params)}`),
    );
    rapidpro.events.on("ack.received", (e) => say("bot", `ack: ${e.messageId} is ${e.status}`));
    helpline.events.on("counselor.replied", (e) =>
      say("counselor", `${e.counselor}: "${(e as { text?: string }).text ?? ""}"`),
    );

    // The script.
    const session = `demo_${randomUUID().replace(/-/g, "").slice(0, 12)}`;
    await rapidpro.escalate({ session, name: "Child-7", text: "I am scared to go home tonight", location: "KE" });
    await bridgeEvent(bridge, "conversation.connected", (e) => e.conversationId === session, 30_000);
    await helpline.counselors.reply(session, "Hello, I am here with you. Are you somewhere safe right now?");
    await rapidpro.waitFor("broadcast.received", undefined, 10_000);
    await rapidpro.childSays(session, "Yes, I am at my aunt's house");
    await helpline.waitFor(
      "message.stored",
      (e) => (e as { sessionId?: string }).sessionId === session && (e as { kind?: string }).kind !== "renotify",
      10_000,
    );
    // One delivery fails once (RapidPro answers 503): the outbox retries it, in order, and it arrives once.
    rapidpro.faults.set({ mode: "5xx", status: 503, count: 1, paths: ["/api/v2/broadcasts.json"] });
    await helpline.counselors.reply(session, "Good. Stay there tonight; we will call your aunt in the morning.");
    await rapidpro.waitFor("broadcast.received", undefined, 20_000);
    await helpline.counselors.close(session, "referred to a social worker");
    await rapidpro.waitFor("flow_start.received", undefined, 10_000);

    const conversation = await bridge.conversations.get(session);
    const stored = helpline.state.messages(session);
    const retries = (conversation?.messages ?? []).reduce((sum, m) => sum + Math.max(0, m.attempts - 1), 0);
    const summary: DemoSummary = {
      conversationId: session,
      toHelpline: stored.filter((m) => m.kind === "message").length,
      duplicatesAtHelpline: helpline.state.duplicates.filter((d) => d.sessionId === session).length,
      toChild: rapidpro.state.broadcasts.length,
      reNotifications: counts.reNotifications,
      retries,
      deadLetters: counts.deadLetters,
      acksToChatbot: rapidpro.state.acks.length,
      finalState: conversation?.state ?? "unknown",
      closedBy: conversation?.closedBy,
      handedBackToBot: rapidpro.state.flowStarts.some((f) => f.params.conversation_id === session),
      ms: Date.now() - started,
    };
    out("");
    out("Summary");
    out(`  conversation      ${summary.conversationId}: ${summary.finalState}, closed by ${summary.closedBy}`);
    out(`  child → helpline  ${summary.toHelpline} messages, ${summary.duplicatesAtHelpline} duplicates`);
    out(
      `  counselor → child ${summary.toChild} messages (as "${conversation?.counselorName ?? "the counselor"}": a pseudonym)`,
    );
    out(`  hunting           ${summary.reNotifications} re-notification(s) before a counselor read it`);
    out(`  retries           ${summary.retries} (dead letters: ${summary.deadLetters})`);
    out(`  acks to the bot   ${summary.acksToChatbot}`);
    out(`  handed back       ${summary.handedBackToBot ? "yes: the bot's close flow was started" : "no"}`);
    out(`  time              ${(summary.ms / 1000).toFixed(1)} s`);
    if (summary.finalState !== "closed" || summary.closedBy !== "helpline" || !summary.handedBackToBot) {
      throw new Error("the demo conversation did not end as expected");
    }
    return summary;
  } finally {
    await gateway?.shutdown();
    await helpline.close();
    await rapidpro.close();
  }
}

function bridgeEvent<K extends keyof BridgeEventMap>(
  bridge: RunningGateway["bridge"],
  name: K,
  predicate: (payload: BridgeEventMap[K]) => boolean,
  timeoutMs: number,
): Promise<BridgeEventMap[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      bridge.events.off(name, listener as never);
      reject(new Error(`timed out waiting for ${name}`));
    }, timeoutMs);
    const listener = (payload: BridgeEventMap[K]) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      bridge.events.off(name, listener as never);
      resolve(payload);
    };
    bridge.events.on(name, listener as never);
  });
}

export type { HelplineSimulator, RapidProSimulator };
