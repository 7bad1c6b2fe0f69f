import { randomUUID } from "node:crypto";
import { type Answer, clientMessage, counselorReply } from "./bridge-client";
import type { Accepted } from "./checks";
import type { System } from "./system";

/** Throws unless the gateway accepted the message: 201, or 200 `duplicate` (an earlier try was stored). */
export function assertAccepted(answer: Answer, what: string): void {
  const ok = answer.status === 201 || (answer.status === 200 && answer.body?.duplicate === true);
  if (!ok) throw new Error(`${what} answered ${answer.status}: ${answer.text}`);
}

/** A new conversation: a session id (`[A-Za-z0-9_]`, so the helpline's close route reaches it) and a contact. */
export function newConversation(prefix: string, i: number): { session: string; contact: string } {
  return { session: `${prefix}_${i}_${randomUUID().slice(0, 8)}`, contact: randomUUID() };
}

/**
 * Client messages: `conversations` conversations in parallel, `messages` each, one after another
 * within a conversation (a child writes in order). Returns what was accepted, in order.
 */
export async function sendClientMessages(
  system: System,
  options: { prefix: string; conversations: number; messages: number; gapMs?: number; deadlineMs?: number },
): Promise<Accepted[]> {
  const conversations = Array.from({ length: options.conversations }, (_, i) => newConversation(options.prefix, i));
  const accepted: Accepted[][] = await Promise.all(
    conversations.map(async ({ session, contact }) => {
      const list: Accepted[] = [];
      for (let m = 1; m <= options.messages; m++) {
        list.push(await sendClient(system, session, contact, m, options.deadlineMs));
        if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
      }
      return list;
    }),
  );
  return accepted.flat();
}

/** One client message, sent until accepted. */
export async function sendClient(
  system: System,
  session: string,
  contact: string,
  m: number,
  deadlineMs?: number,
): Promise<Accepted> {
  const messageId = `${session}-c${m}`;
  const text = `child ${session} says ${m}`;
  const answer = await system.chatbot.send(
    "POST",
    "chat/",
    clientMessage(session, contact, messageId, text),
    deadlineMs,
  );
  assertAccepted(answer, messageId);
  return { session, contact, messageId, text };
}

/** One counselor reply, sent until accepted. */
export async function sendReply(
  system: System,
  session: string,
  contact: string,
  r: number,
  deadlineMs?: number,
): Promise<Accepted> {
  const messageId = `${session}-r${r}`;
  const text = `counselor ${session} answers ${r}`;
  const answer = await system.counselor.send(
    "POST",
    "chat/",
    counselorReply(session, contact, messageId, text),
    deadlineMs,
  );
  assertAccepted(answer, messageId);
  return { session, contact, messageId, text };
}

/** Counselor replies to conversations that exist already, `replies` each, in order within a conversation. */
export async function sendReplies(
  system: System,
  conversations: ReadonlyArray<{ session: string; contact: string }>,
  replies: number,
): Promise<Accepted[]> {
  const all = await Promise.all(
    conversations.map(async ({ session, contact }) => {
      const list: Accepted[] = [];
      for (let r = 1; r <= replies; r++) list.push(await sendReply(system, session, contact, r));
      return list;
    }),
  );
  return all.flat();
}

/** The distinct conversations of some accepted messages. */
export function conversationsOf(accepted: readonly Accepted[]): Array<{ session: string; contact: string }> {
  const seen = new Map<string, string>();
  for (const a of accepted) seen.set(a.session, a.contact);
  return [...seen].map(([session, contact]) => ({ session, contact }));
}
