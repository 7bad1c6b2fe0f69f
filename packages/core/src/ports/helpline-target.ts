import type { Attachment } from "../domain/model";
import type { AckNotice, CloseNotice, DeliveryContext } from "./notices";

/** A client message to deliver to the helpline. */
export interface HelplineMessage {
  conversationId: string;
  /** The idempotency key upstream: the sender's `message_id`, or the one the bridge assigned. */
  messageId: string;
  text?: string | undefined;
  attachments: Attachment[];
  /** The client's address as the helpline knows it: the conversation's contact. */
  from: string;
  /**
   * The conversation's channel (its first message's `chat_channel`, `WENI` by default): what the
   * legacy gateway gave the helpline as `channel`. The helpline echoes it back as `chat_channel` on
   * counselor replies.
   */
  channel: string;
  senderName?: string | undefined;
  /** `chat_receiver` of the inbound message: a helpline or routing key. */
  receiver?: string | undefined;
  location?: string | undefined;
  risk?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  /** ISO time the bridge accepted the message. */
  sentAt: string;
  /** Hunting re-notification: the message was delivered before and no counselor read it. */
  renotify?: { round: number; of: number } | undefined;
}

/**
 * The helpline side, as the core needs it. Default implementation: the OpenCHS helpline target of
 * `@openchs-bridge/openchs-client`. A method that throws is retried when the error says it is
 * retriable (`error.retriable === true`, e.g. an `UpstreamError` for a 5xx), and dead-lettered
 * otherwise; `error.retryAfterMs` is honoured.
 */
export interface HelplineTarget {
  deliverMessage(message: HelplineMessage, context: DeliveryContext): Promise<void>;
  /** The chatbot (or the system) closed the conversation. */
  notifyClose(close: CloseNotice, context: DeliveryContext): Promise<void>;
  /** Forwards the chatbot's acks of counselor messages, where the helpline has an ack endpoint. */
  sendAck?(ack: AckNotice, context: DeliveryContext): Promise<void>;
}
