import type { Attachment, Conversation } from "../domain/model";
import type { AckNotice, CloseNotice, DeliveryContext, UnavailableNotice } from "./notices";

/** A counselor reply to deliver to the child through the chatbot. */
export interface ChatbotMessage {
  conversationId: string;
  messageId: string;
  /** RapidPro contact UUID. */
  contact: string;
  text?: string | undefined;
  attachments: Attachment[];
  /**
   * The counselor's pseudonym, resolved by the bridge: the reply's `sender_name`, else the
   * conversation's (from a `read` ack), else `counselorNameTemplate` applied to the extension. The
   * target renders it into the text (default `"{name}: {text}"`). Absent only when none is known.
   */
  counselorName?: string | undefined;
  counselorExtension?: string | undefined;
  sentAt: string;
  /** Style B: the ticket this conversation answers. */
  ticket?: Conversation["ticket"];
}

/**
 * The chatbot side, as the core needs it. Default implementations: the RapidPro chatbot target
 * (broadcasts/messages, flow start on close) and the Weni ticketer callback target, both in
 * `@openchs-bridge/rapidpro-adapter`. Errors are classified as for `HelplineTarget`.
 */
export interface ChatbotTarget {
  deliverMessage(message: ChatbotMessage, context: DeliveryContext): Promise<void>;
  /** The helpline closed, or hunting was given up: hand the child back to the bot. */
  notifyClose(close: CloseNotice, context: DeliveryContext): Promise<void>;
  /** Forwards the helpline's acks of client messages to the chatbot's ack endpoint. */
  sendAck?(ack: AckNotice, context: DeliveryContext): Promise<void>;
  /**
   * The helpline is out of reach for a new conversation: tell the bot (once per conversation), so it
   * can keep the child company and give other ways to get help. Optional: without it the notice is
   * skipped.
   */
  notifyUnavailable?(notice: UnavailableNotice, context: DeliveryContext): Promise<void>;
}
