import type { ChatSource } from "../domain/model";

/** An API consumer: who may log in at `token/`, and which `chat_source` values it may speak for. */
export interface ConsumerConfig {
  username: string;
  password: string;
  /** e.g. `["WENI"]` for the chatbot, `["OUTBOX", "HELPLINE"]` for the helpline. */
  sources: ChatSource[];
  /**
   * Standard Webhooks secrets (`whsec_…`; several during rotation). When set, every request of this
   * consumer must carry a valid `webhook-signature` over its raw body.
   */
  signingSecrets?: string[] | undefined;
  /**
   * API keys, as `sha256:<64 hex>` of each key (several during rotation): sent like a token
   * (`Authorization: Token <key>`), they never expire; removing one revokes it. For callers that
   * cannot keep a token between calls, such as RapidPro flows. `openchs-bridge api-key` makes one.
   */
  apiKeys?: string[] | undefined;
  /**
   * An operator: its tokens and keys open `{basePath}admin/…` (dead letters, replay). Its `sources`
   * may then be empty: an admin with no sources may not post messages, closes or acks.
   */
  admin?: boolean | undefined;
}
