import type { HelplineSimulator, RapidProSimulator } from "@openchs-bridge/simulators";
import type { BridgeClient } from "./bridge-client";

/** A message a test had accepted by the gateway (201, or 200 duplicate of an earlier try). */
export interface Accepted {
  session: string;
  contact: string;
  messageId: string;
  /** The text as sent; unique per message, so it can be found upstream. */
  text: string;
}

/** What arrived at the helpline, compared with what was accepted for it. */
export interface HelplineReport {
  accepted: number;
  /** Accepted and stored by the helpline exactly once. */
  deliveredOnce: number;
  /** Accepted but not stored (yet). */
  missing: string[];
  /** Stored more than once (the helpline dedupes by message_id, so this must stay empty). */
  storedTwice: string[];
  /** Copies that reached the helpline, retries included (dedupe made them take effect once). */
  copiesReceived: number;
  /** Sessions whose accepted messages were stored in another order than they were accepted. */
  outOfOrder: string[];
  /** Stored with another text than the one accepted. */
  altered: string[];
}

export function helplineReport(helpline: HelplineSimulator, accepted: readonly Accepted[]): HelplineReport {
  const report: HelplineReport = {
    accepted: accepted.length,
    deliveredOnce: 0,
    missing: [],
    storedTwice: [],
    copiesReceived: 0,
    outOfOrder: [],
    altered: [],
  };
  const bySession = groupBy(accepted, (a) => a.session);
  for (const [session, list] of bySession) {
    const stored = helpline.state.messages(session).filter((m) => m.kind === "message");
    for (const a of list) {
      const copies = stored.filter((m) => m.messageId === a.messageId);
      report.copiesReceived += helpline.state.received(session, a.messageId);
      if (copies.length === 0) report.missing.push(a.messageId);
      else if (copies.length > 1) report.storedTwice.push(a.messageId);
      else report.deliveredOnce++;
      if (copies.some((m) => m.text !== a.text)) report.altered.push(a.messageId);
    }
    const wanted = new Set(list.map((a) => a.messageId));
    const order = stored.map((m) => m.messageId).filter((id) => wanted.has(id));
    const expected = list.map((a) => a.messageId).filter((id) => order.includes(id));
    if (order.join("\n") !== expected.join("\n")) report.outOfOrder.push(session);
  }
  return report;
}

/** What reached RapidPro's contacts, compared with the counselor replies accepted for them. */
export interface ChatbotReport {
  accepted: number;
  deliveredOnce: number;
  missing: string[];
  /** Texts that reached the contact more than once (RapidPro has no dedupe: see docs/reliability.md). */
  deliveredTwice: string[];
  outOfOrder: string[];
}

export function chatbotReport(rapidpro: RapidProSimulator, accepted: readonly Accepted[]): ChatbotReport {
  const report: ChatbotReport = {
    accepted: accepted.length,
    deliveredOnce: 0,
    missing: [],
    deliveredTwice: [],
    outOfOrder: [],
  };
  for (const [contact, list] of groupBy(accepted, (a) => a.contact)) {
    const texts = rapidpro.state.texts(contact);
    const positions: number[] = [];
    for (const a of list) {
      const hits = texts.filter((t) => t.endsWith(a.text));
      if (hits.length === 0) report.missing.push(a.messageId);
      else if (hits.length > 1) report.deliveredTwice.push(a.messageId);
      else report.deliveredOnce++;
      const first = texts.findIndex((t) => t.endsWith(a.text));
      if (first >= 0) positions.push(first);
    }
    if (positions.some((p, i) => i > 0 && p < positions[i - 1]!)) report.outOfOrder.push(contact);
  }
  return report;
}

/** The conversation as `GET chat/{session}/` shows it. */
export interface ConversationView {
  conversation_id: string;
  state: string;
  closed_by: string | null;
  close_reason: string | null;
  hunt_count: number;
  messages: Array<{ message_id: string; direction: string; status: string; last_error: { code: string } | null }>;
}

export async function getConversation(client: BridgeClient, session: string): Promise<ConversationView> {
  const answer = await client.call("GET", `chat/${session}/`);
  if (answer.status !== 200) throw new Error(`GET chat/${session}/ answered ${answer.status}`);
  return answer.body as ConversationView;
}

export function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k) ?? [];
    list.push(item);
    map.set(k, list);
  }
  return map;
}

/** The p-th percentile (0..100) of some numbers, by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
