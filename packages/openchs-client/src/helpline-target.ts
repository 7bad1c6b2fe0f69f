import type { CloseNotice, DeliveryContext, HelplineMessage, HelplineTarget } from "@openchs-bridge/core";
import type { OpenChsHelplineClient } from "./helpline/client";

/** A hunting re-notification: round `round` of `of`. */
export interface RenotifyRound {
  round: number;
  of: number;
}

/** Options of {@link createOpenChsHelplineTarget}. */
export interface OpenChsHelplineTargetOptions {
  /** The helpline client the target sends with (only `sendMessage` is used). */
  client: Pick<OpenChsHelplineClient, "sendMessage">;
  /**
   * Overrides the `channel` of every message. Default: the conversation's channel (its first
   * message's `chat_channel`, `WENI` by default), as the legacy gateway sent it. The helpline echoes
   * the channel back as `chat_channel` on counselor replies.
   */
  channel?: string | undefined;
  /**
   * The text of the message that tells the counselor the conversation was closed. A template with
   * `{closedBy}`, `{reason}`, `{conversationId}`, or a function. Default
   * `"[conversation closed by {closedBy}: {reason}]"` (without `: {reason}` when there is none).
   */
  closeText?: string | ((close: CloseNotice) => string) | undefined;
  /**
   * Put before the text of a hunting re-notification. A template with `{round}` and `{of}`, or a
   * function. Default `"[re-notify {round}/{of}] "`.
   */
  renotifyPrefix?: string | ((round: RenotifyRound) => string) | undefined;
}

/** The channel the legacy gateway gave the helpline, when nothing says otherwise. */
const LEGACY_CHANNEL = "WENI";

/** The default re-notification marker. */
export const DEFAULT_RENOTIFY_PREFIX = "[re-notify {round}/{of}] ";

/**
 * The bridge's `HelplineTarget` (from `@openchs-bridge/core`) for OpenCHS: every client message and close notice becomes a
 * `msg/` message in the helpline session named by the conversation id.
 *
 * - A message keeps its `message_id`; a hunting re-notification uses
 *   `<message_id>#renotify-<round>` (so the helpline stores it as a new message) and its text is
 *   prefixed with the re-notify marker.
 * - A close becomes a system text with `message_id` `<conversation id>#close`.
 * - Failures propagate as `OpenChsError`; the bridge retries when `error.retriable` says so.
 *
 * The helpline has no delivery-ack endpoint, so `sendAck` is not implemented.
 */
export function createOpenChsHelplineTarget(options: OpenChsHelplineTargetOptions): HelplineTarget {
  const { client } = options;
  const renotifyPrefix = options.renotifyPrefix ?? DEFAULT_RENOTIFY_PREFIX;
  const closeText = options.closeText ?? defaultCloseText;

  return {
    async deliverMessage(message: HelplineMessage, context: DeliveryContext) {
      const renotify = message.renotify;
      const text = message.text ?? "";
      await client.sendMessage(
        {
          channel: options.channel ?? (message.channel || LEGACY_CHANNEL),
          session_id: message.conversationId,
          message_id: renotify ? `${message.messageId}#renotify-${renotify.round}` : message.messageId,
          from: message.from,
          message: renotify ? `${render(renotifyPrefix, renotify)}${text}` : text,
          timestamp: message.sentAt,
          attachments: message.attachments,
        },
        { signal: context.signal },
      );
    },

    async notifyClose(close: CloseNotice, context: DeliveryContext) {
      await client.sendMessage(
        {
          channel: options.channel ?? close.channel ?? LEGACY_CHANNEL,
          session_id: close.conversationId,
          message_id: `${close.conversationId}#close`,
          from: close.contact || "system",
          message: render(closeText, close),
          timestamp: close.closedAt,
        },
        { signal: context.signal },
      );
    },
  };
}

function defaultCloseText(close: CloseNotice): string {
  return close.reason
    ? `[conversation closed by ${close.closedBy}: ${close.reason}]`
    : `[conversation closed by ${close.closedBy}]`;
}

function render<T extends object>(template: string | ((value: T) => string), value: T): string {
  if (typeof template === "function") return template(value);
  const values = value as Record<string, unknown>;
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const v = values[key];
    return v === undefined || v === null ? (key in values || key === "reason" ? "" : whole) : String(v);
  });
}
