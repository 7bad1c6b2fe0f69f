import { ConsumerAuth, type IssuedToken } from "./auth/consumer-auth";
import {
  type AckInput,
  type AckResult,
  ConversationService,
  type InboundClientMessage,
  type InboundCounselorMessage,
} from "./conversations/conversation-service";
import { type BridgeDeadLetters, createDeadLetters } from "./conversations/dead-letters";
import { DeliveryOutcomes } from "./conversations/delivery-outcomes";
import { type BridgeEvents, createBridgeEvents } from "./conversations/events";
import { type Readiness, readReadiness } from "./conversations/readiness";
import type { Conversation, Message } from "./domain/model";
import { BridgeError } from "./errors/bridge-error";
import { type BridgeHandler, createGatewayHandler } from "./gateway/handler";
import { openApiDocument } from "./gateway/openapi";
import { DeliveryWorker } from "./loops/delivery-worker";
import { RetentionSweeper } from "./loops/housekeeping";
import { HuntScheduler } from "./loops/hunt-scheduler";
import { type BridgeOptions, type ResolvedOptions, resolveOptions } from "./options";
import type { ConversationsPort } from "./ports/conversations-port";
import { verifyStandardWebhook } from "./signing/standard-webhooks";
import { isWebhookVerificationError } from "./signing/verification-error";
import type { PurgeResult } from "./store/store";

/** The bridge's programmatic API: everything the HTTP surface does, without HTTP. */
export interface BridgeConversations extends ConversationsPort {
  get(id: string): Promise<(Conversation & { messages: Message[] }) | undefined>;
  acceptCounselorMessage(input: InboundCounselorMessage): ReturnType<ConversationService["acceptCounselorMessage"]>;
  ack(input: AckInput): Promise<AckResult>;
  /** Erasure on request: deletes the conversation, its messages and pending jobs. */
  erase(id: string): Promise<boolean>;
  /**
   * Retention: deletes conversations closed before the given time (never one with a pending job);
   * returns how many, with the dead letters purged with them and the conversations kept.
   */
  purgeClosedBefore(date: Date): Promise<PurgeResult>;
}

export interface Bridge {
  /** The whole HTTP surface (style A, and style B under `{basePath}ticketer/` when enabled). */
  handler: BridgeHandler;
  /** Typed events (eventemitter3). */
  events: BridgeEvents;
  conversations: BridgeConversations;
  tokens: {
    issue(username: string): Promise<IssuedToken>;
    revoke(token: string): Promise<boolean>;
    revokeConsumer(username: string): Promise<number>;
  };
  /** Dead letters (jobs out of retries, kept): list them, replay one or all. */
  deadLetters: BridgeDeadLetters;
  /**
   * Whether this instance should get traffic: `ready` when the store answers and `stop()` has not
   * begun, with the outbox figures (`GET {basePath}ready`).
   */
  readiness(): Promise<Readiness>;
  /** True from the moment `stop()` is called: readiness answers `stopping`. */
  readonly stopping: boolean;
  /**
   * Starts background work: the delivery loop (resuming deliveries left unfinished by a previous
   * run), the hunting deadlines, and the retention sweep when `retention` is set. `releaseLeases`
   * frees claims left by a crashed process; it defaults to true, or false when the store says it
   * is `shared` by several instances.
   */
  start(options?: { releaseLeases?: boolean }): Promise<void>;
  /**
   * Stops background work: no new claims; attempts in flight may finish for up to `graceMs`
   * (default 10 000), then the rest are aborted and stay pending, due at once, for the next start
   * (or another instance). `stopping` is true from the first moment.
   */
  stop(options?: { graceMs?: number | undefined }): Promise<void>;
  /**
   * Fires due hunting deadlines and delivers every due job, waiting until nothing due is left.
   * For tests and hosts that drive time themselves (a manual `clock`); `start()` does this continuously.
   */
  runDue(): Promise<void>;
  /**
   * Tells the delivery loop and hunting that work may be due now: work queued by another bridge on
   * the same store (see the `onWorkQueued` option). Does nothing before `start()`.
   */
  wake(): void;
  /** The options in effect, with defaults filled in. */
  readonly options: Readonly<ResolvedOptions>;
}

/**
 * Builds the bridge. Options are validated here, once: a bad option throws `BridgeConfigError`
 * naming it. Nothing runs in the background until `start()`.
 */
export function createBridge(input: BridgeOptions): Bridge {
  const options = resolveOptions(input);
  const events = createBridgeEvents();
  let worker: DeliveryWorker | undefined;
  let hunts: HuntScheduler | undefined;
  const { store, clock } = options;
  // Each part gets the options it needs, no more.
  const service = new ConversationService(
    {
      store,
      clock,
      helplines: options.helplines,
      chatbot: options.chatbot,
      ticketerChatbot: options.ticketerChatbot,
      route: options.route,
      duplicateWindowMs: options.duplicateWindowMs,
      includeText: options.includeText,
    },
    events,
    () => {
      worker?.wake();
      hunts?.wake();
      options.onWorkQueued?.();
    },
  );
  const outcomes = new DeliveryOutcomes(
    { store, clock, hunting: options.hunting, unavailableNotice: options.unavailableNotice },
    service,
    events,
  );
  worker = new DeliveryWorker(
    {
      store,
      clock,
      workerId: options.workerId,
      delivery: options.delivery,
      hunting: options.hunting,
      counselorNameFor: options.counselorNameFor,
      unavailableNotice: options.unavailableNotice,
    },
    service.targets,
    outcomes,
    events,
  );
  hunts = new HuntScheduler(
    { store, clock, hunting: options.hunting, delivery: options.delivery, includeText: options.includeText },
    service,
    events,
    () => worker?.wake(),
  );
  const housekeeping = new RetentionSweeper({ store, clock, retention: options.retention }, events);
  // Set first thing in stop(): readiness turns 503 before anything is wound down.
  let stopping = false;
  const deadLetters = createDeadLetters({
    options: { store, clock },
    service,
    events,
    wake: () => {
      worker?.wake();
      options.onWorkQueued?.();
    },
  });
  const readiness = () => readReadiness(options.store, options.clock.now(), stopping);
  const auth = new ConsumerAuth(
    options.consumers,
    options.store,
    options.clock,
    options.tokenTtlMs,
    options.loginRateLimit,
    // The client's address is personal data: in the event only when text is on.
    (reason, consumer, address) =>
      events.emit("auth.failure", { reason, consumer, ...(options.includeText && address ? { address } : {}) }),
  );

  const conversations: BridgeConversations = {
    async get(id) {
      const conversation = await options.store.getConversation(id);
      if (!conversation) return undefined;
      return { ...conversation, messages: await options.store.conversationMessages(id) };
    },
    open: (input) => service.open(input),
    acceptClientMessage: (input: InboundClientMessage) => service.acceptClientMessage(input),
    acceptCounselorMessage: (input) => service.acceptCounselorMessage(input),
    close: async (input) => service.close(input.conversationId, input.closedBy, input.reason),
    reopen: (input) => service.reopen(input),
    current: (id) => service.current(id),
    ack: (input) => service.ack(input),
    erase: (id) => options.store.deleteConversation(id),
    purgeClosedBefore: (date) => options.store.purgeClosedBefore(date.toISOString()),
  };

  const handler = createGatewayHandler({
    options: {
      store,
      basePath: options.basePath,
      maxBodyBytes: options.maxBodyBytes,
      trustedProxies: options.trustedProxies,
      forwardedHeader: options.forwardedHeader,
    },
    service,
    auth,
    events,
    ticketer: options.ticketer?.(conversations),
    openapi: () => openApiDocument(options.basePath),
    // The exporter starts counting now, before any request or delivery.
    metrics: options.metrics && {
      token: options.metrics.token,
      exporter: options.metrics.exporter({ events, options }),
      events,
    },
    deadLetters,
    readiness,
    async verifySignature(consumer, request, raw) {
      try {
        await verifyStandardWebhook({
          headers: request.headers,
          body: raw,
          secrets: consumer.signingSecrets ?? [],
          now: options.clock.now(),
        });
      } catch (error) {
        if (!isWebhookVerificationError(error)) throw error;
        events.emit("auth.failure", { reason: error.code, consumer: consumer.username });
        throw new BridgeError("invalid_signature", error.message, { field: error.header });
      }
    },
  });

  return {
    handler,
    events,
    conversations,
    tokens: {
      issue: (username) => auth.issue(username),
      revoke: (token) => auth.revoke(token),
      revokeConsumer: (username) => auth.revokeConsumer(username),
    },
    async start(startOptions = {}) {
      stopping = false;
      await worker.start(startOptions.releaseLeases ?? !options.store.shared);
      hunts.start();
      housekeeping.start();
    },
    deadLetters,
    readiness,
    get stopping() {
      return stopping;
    },
    async stop(stopOptions = {}) {
      stopping = true;
      await housekeeping.stop();
      await hunts.stop();
      await worker.stop(stopOptions.graceMs ?? 10_000);
    },
    wake() {
      worker.wake();
      hunts.wake();
    },
    async runDue() {
      for (let i = 0; i < 1000; i++) {
        const fired = await hunts.fireDue();
        await worker.drain();
        if (fired === 0) return;
      }
    },
    options,
  };
}
