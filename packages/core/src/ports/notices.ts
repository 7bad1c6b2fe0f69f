import type { Attachment, ClosedBy, Conversation } from "../domain/model";
import type { HelplineMessage } from "./helpline-target";

/** What a delivery port is handed besides the payload. */
export interface DeliveryContext {
  /** Fires when the per-attempt timeout passes or the bridge stops. Pass it to fetch/ky. */
  signal: AbortSignal;
  /** 1 for the first attempt. */
  attempt: number;
}

/** A conversation ended: tells the side that did not end it. */
export interface CloseNotice {
  conversationId: string;
  /** The chatbot's reply address (RapidPro contact UUID). */
  contact: string;
  closedBy: ClosedBy;
  reason?: string | undefined;
  closedAt: string;
  /** The conversation's channel, as given to the helpline on `msg/` (`WENI` by default). */
  channel?: string | undefined;
  /** Style B: the ticket to close in mailroom. */
  ticket?: Conversation["ticket"];
}

/**
 * The helpline has not accepted a new conversation's first message in time because delivery keeps
 * failing: the chatbot is told once, so the bot can give the child another way to get help. The
 * conversation stays open and delivery goes on.
 */
export interface UnavailableNotice {
  conversationId: string;
  /** The chatbot's reply address (RapidPro contact UUID, URN or phone number). */
  contact: string;
  reason: "helpline_unavailable";
  /** When the child's first message arrived (ISO): how long the helpline has been out of reach. */
  since: string;
  /** The bridge's `unavailableNotice.text`, for targets that send a text and have none of their own. */
  text?: string | undefined;
  /** Style B: the ticket this conversation answers. */
  ticket?: Conversation["ticket"];
}

/** A delivery acknowledgement forwarded to a side's ack endpoint. */
export interface AckNotice {
  conversationId: string;
  /** The `message_id` of the message acknowledged, as its sender gave it. */
  messageId: string;
  status: "delivered" | "read" | "failed";
  timestamp: string;
  /** Set on a helpline `read`: the counselor's pseudonym. */
  counselorName?: string | undefined;
  /** For `failed`: a stable reason code (never message text). */
  reason?: string | undefined;
}

export type { Attachment };

/** What a custom hunting re-notification is told. */
export interface RenotifyNotice {
  conversationId: string;
  helpline: string;
  round: number;
  of: number;
  /** The message that is waiting for a counselor. */
  message: HelplineMessage;
}
