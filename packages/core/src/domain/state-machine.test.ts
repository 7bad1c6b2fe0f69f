import { describe, expect, it } from "vitest";
import type { Conversation, ConversationState, MessageStatus } from "./model";
import {
  applyConversationEvent,
  CONVERSATION_TRANSITIONS,
  type ConversationEvent,
  canTransition,
  messageTransition,
  NO_COUNSELOR,
} from "./state-machine";

const AT = "2026-01-01T00:00:00.000Z";
const STATES: ConversationState[] = ["requested", "hunting", "connected", "closed"];

function conv(state: ConversationState, extra: Partial<Conversation> = {}): Conversation {
  return {
    id: "c1",
    state,
    origin: "webhook",
    helpline: "default",
    contact: "contact-1",
    huntCount: 0,
    huntDeadline: state === "hunting" ? 1000 : undefined,
    createdAt: AT,
    updatedAt: AT,
    version: 1,
    ...(state === "closed" ? { closedBy: "chatbot" as const, closeReason: "done", closedAt: AT } : {}),
    ...extra,
  };
}

const EVENTS: Record<string, ConversationEvent> = {
  client_message: { type: "client_message" },
  counselor_reply: { type: "counselor_reply", counselorName: "Amina", counselorExtension: "101" },
  delivered_to_helpline: { type: "delivered_to_helpline", huntDeadline: 5000 },
  counselor_read: { type: "counselor_read", counselorName: "Amina" },
  hunt_timeout: { type: "hunt_timeout", nextDeadline: 9000, huntMax: 2, onExhausted: "close", at: AT },
  close_chatbot: { type: "close", closedBy: "chatbot", reason: "child left", at: AT },
  close_helpline: { type: "close", closedBy: "helpline", at: AT },
};

// Expected next state for every (state, event): "409" = refused as conversation_closed.
const TABLE: Record<ConversationState, Record<keyof typeof EVENTS, ConversationState | "409">> = {
  requested: {
    client_message: "requested",
    counselor_reply: "connected",
    delivered_to_helpline: "hunting",
    counselor_read: "connected",
    hunt_timeout: "requested",
    close_chatbot: "closed",
    close_helpline: "closed",
  },
  hunting: {
    client_message: "hunting",
    counselor_reply: "connected",
    delivered_to_helpline: "hunting",
    counselor_read: "connected",
    hunt_timeout: "hunting",
    close_chatbot: "closed",
    close_helpline: "closed",
  },
  connected: {
    client_message: "connected",
    counselor_reply: "connected",
    delivered_to_helpline: "connected",
    counselor_read: "connected",
    hunt_timeout: "connected",
    close_chatbot: "closed",
    close_helpline: "closed",
  },
  closed: {
    client_message: "409",
    counselor_reply: "409",
    delivered_to_helpline: "closed",
    counselor_read: "closed",
    hunt_timeout: "closed",
    close_chatbot: "closed",
    close_helpline: "closed",
  },
};

describe("conversation state machine", () => {
  for (const from of STATES) {
    for (const [name, event] of Object.entries(EVENTS)) {
      const expected = TABLE[from][name as keyof typeof EVENTS]!;
      it(`${from} + ${name} → ${expected}`, () => {
        const before = conv(from);
        const result = applyConversationEvent(before, event);
        if (expected === "409") {
          expect(result).toMatchObject({ ok: false, code: "conversation_closed", state: "closed" });
          return;
        }
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        expect(result.conversation.state).toBe(expected);
        expect(canTransition(from, expected)).toBe(true);
        expect(before.state).toBe(from); // the input is never modified
      });
    }
  }

  it("lists exactly the allowed transitions", () => {
    const allowed = STATES.flatMap((from) =>
      STATES.filter((to) => canTransition(from, to)).map((to) => `${from}>${to}`),
    );
    expect(allowed.sort()).toEqual(
      [
        "requested>requested",
        "requested>hunting",
        "requested>connected",
        "requested>closed",
        "hunting>hunting",
        "hunting>connected",
        "hunting>closed",
        "connected>connected",
        "connected>closed",
        "closed>closed",
      ].sort(),
    );
    expect(CONVERSATION_TRANSITIONS.closed).toEqual([]);
  });

  it("starts hunting with the given deadline on the first delivery only", () => {
    const r = applyConversationEvent(conv("requested"), EVENTS.delivered_to_helpline!);
    expect(r).toMatchObject({ ok: true, changed: true, conversation: { state: "hunting", huntDeadline: 5000 } });
    const again = applyConversationEvent(conv("hunting", { huntDeadline: 1234 }), EVENTS.delivered_to_helpline!);
    expect(again).toMatchObject({ ok: true, changed: false, conversation: { huntDeadline: 1234 } });
  });

  it("a read or reply connects, records the counselor and clears the hunt deadline", () => {
    for (const e of [EVENTS.counselor_read!, EVENTS.counselor_reply!]) {
      const r = applyConversationEvent(conv("hunting"), e);
      expect(r).toMatchObject({
        ok: true,
        changed: true,
        conversation: { state: "connected", counselorName: "Amina" },
      });
      if (r.ok) expect(r.conversation.huntDeadline).toBeUndefined();
    }
    const reply = applyConversationEvent(conv("hunting"), EVENTS.counselor_reply!);
    expect(reply.ok && reply.conversation.counselorExtension).toBe("101");
  });

  it("keeps the known pseudonym when a later event has none", () => {
    const r = applyConversationEvent(conv("connected", { counselorName: "Amina" }), { type: "counselor_reply" });
    expect(r).toMatchObject({ ok: true, changed: false, conversation: { counselorName: "Amina" } });
  });

  it("re-notifies on hunt timeout up to huntMax, then closes as no_counselor", () => {
    let c = conv("hunting", { huntDeadline: 1000 });
    const rounds: number[] = [];
    for (let i = 0; i < 2; i++) {
      const r = applyConversationEvent(c, EVENTS.hunt_timeout!);
      if (!r.ok) throw new Error("refused");
      expect(r.effects).toEqual([{ type: "renotify", round: i + 1, of: 2 }]);
      expect(r.conversation.huntDeadline).toBe(9000);
      rounds.push(r.conversation.huntCount);
      c = r.conversation;
    }
    expect(rounds).toEqual([1, 2]);
    const last = applyConversationEvent(c, EVENTS.hunt_timeout!);
    expect(last).toMatchObject({
      ok: true,
      changed: true,
      conversation: { state: "closed", closedBy: "system", closeReason: NO_COUNSELOR, closedAt: AT },
      effects: [{ type: "notify_close", closedBy: "system", reason: NO_COUNSELOR }],
    });
  });

  it("keeps waiting without a deadline when hunting is exhausted and the option says wait", () => {
    const r = applyConversationEvent(conv("hunting", { huntCount: 2 }), {
      type: "hunt_timeout",
      nextDeadline: 9000,
      huntMax: 2,
      onExhausted: "wait",
      at: AT,
    });
    expect(r).toMatchObject({ ok: true, changed: true, effects: [], conversation: { state: "hunting" } });
    if (r.ok) expect(r.conversation.huntDeadline).toBeUndefined();
  });

  it("ignores a hunt timeout when no deadline is set", () => {
    const r = applyConversationEvent(conv("hunting", { huntDeadline: undefined }), EVENTS.hunt_timeout!);
    expect(r).toMatchObject({ ok: true, changed: false, effects: [] });
  });

  it("close records who and why and asks to notify the other side; closing twice is a no-op", () => {
    const r = applyConversationEvent(conv("connected"), EVENTS.close_chatbot!);
    expect(r).toMatchObject({
      ok: true,
      changed: true,
      conversation: { state: "closed", closedBy: "chatbot", closeReason: "child left" },
      effects: [{ type: "notify_close", closedBy: "chatbot", reason: "child left" }],
    });
    const twice = applyConversationEvent(conv("closed"), EVENTS.close_helpline!);
    expect(twice).toMatchObject({ ok: true, changed: false, effects: [], conversation: { closedBy: "chatbot" } });
  });
});

describe("message status machine", () => {
  const ALL: MessageStatus[] = ["accepted", "sent", "delivered", "read", "failed"];
  // [from, to] pairs that apply; every other pair is a no-op.
  const APPLY = new Set([
    "accepted>sent",
    "accepted>delivered",
    "accepted>read",
    "accepted>failed",
    "sent>delivered",
    "sent>read",
    "sent>failed",
    "delivered>read",
    "failed>delivered",
    "failed>read",
  ]);
  for (const from of ALL) {
    for (const to of ALL) {
      const expected = APPLY.has(`${from}>${to}`) ? "apply" : "noop";
      it(`${from} → ${to}: ${expected}`, () => {
        expect(messageTransition(from, to)).toBe(expected);
      });
    }
  }
});
