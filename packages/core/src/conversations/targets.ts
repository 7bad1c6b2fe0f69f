import type { Conversation, OutboxLane } from "../domain/model";
import type { ChatbotTarget } from "../ports/chatbot-target";
import type { HelplineTarget } from "../ports/helpline-target";

/** The ports a conversation is delivered through. */
export interface TargetOptions {
  helplines: ReadonlyMap<string, HelplineTarget>;
  chatbot: ChatbotTarget;
  ticketerChatbot: ChatbotTarget | undefined;
}

/**
 * Which target serves a conversation, written once for the service (which acks to queue) and the
 * delivery loop (where to send): its helpline by routing key; style B (ticketer) conversations answer
 * through the ticketer's chatbot target when there is one.
 */
export class ConversationTargets {
  constructor(private readonly options: TargetOptions) {}

  helplineFor(conversation: Conversation): HelplineTarget | undefined {
    return this.options.helplines.get(conversation.helpline);
  }

  hasHelpline(key: string): boolean {
    return this.options.helplines.has(key);
  }

  chatbotFor(conversation: Conversation): ChatbotTarget {
    return conversation.origin === "ticketer" && this.options.ticketerChatbot
      ? this.options.ticketerChatbot
      : this.options.chatbot;
  }

  /** Whether the target behind an ack lane takes acks at all (`sendAck` is optional). */
  hasAckEndpoint(conversation: Conversation, lane: OutboxLane): boolean {
    const target = lane === "ack:chatbot" ? this.chatbotFor(conversation) : this.helplineFor(conversation);
    return typeof target?.sendAck === "function";
  }
}
