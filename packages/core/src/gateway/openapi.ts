import { z } from "zod";
import {
  acceptAnswerSchema,
  ackAnswerSchema,
  closeAnswerSchema,
  conversationAnswerSchema,
  deadLetterListAnswerSchema,
  errorAnswerSchema,
  healthAnswerSchema,
  listAnswerSchema,
  overviewAnswerSchema,
  readinessAnswerSchema,
  recentConversationsAnswerSchema,
  replayAllAnswerSchema,
  replayAnswerSchema,
  tokenAnswerSchema,
} from "./answer-schemas";
import { ackBodySchema, chatBodySchema, closeBodySchema, replayAllBodySchema, tokenBodySchema } from "./schemas";

const schema = (s: z.ZodType) => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return rest;
};

const json = (ref: string) => ({
  content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { description: ERROR_TEXT[c] ?? "error", ...json("Error") }]));
const ERROR_TEXT: Record<number, string> = {
  400: "malformed JSON, or a field invalid or missing",
  401: "no credentials, wrong or expired token, bad signature",
  403: "consumer not allowed to speak for that chat_source",
  404: "unknown conversation, message or route",
  409: "conversation closed, or a transition not allowed in its state",
  413: "body over the limit",
  415: "a media type other than application/json, application/*+json, text/plain or none",
  429: "too many failed logins (Retry-After)",
  503: "the store is unavailable; nothing was accepted (Retry-After)",
};
const session = {
  name: "session",
  in: "path",
  required: true,
  schema: { type: "string", pattern: "^[A-Za-z0-9_-]{1,100}$" },
};
const security = [{ token: [] }];
/** The admin routes' own 403: the consumer is not an admin. */
const notAdmin = { "403": { description: "the consumer is not an admin (forbidden)", ...json("Error") } };

/** The OpenAPI 3.1 document of the gateway API, generated from the same zod schemas the handler uses. */
export function openApiDocument(basePath = "/api/"): Record<string, unknown> {
  const p = (path: string) => `${basePath}${path}`;
  return {
    openapi: "3.1.0",
    info: {
      title: "openchs-bridge gateway API",
      version: "0.1.0",
      description:
        "The bridge between RapidPro/Weni chatbots and OpenCHS helplines (style A, legacy-compatible). Paths are also accepted without their trailing slash.",
    },
    components: {
      securitySchemes: {
        token: {
          type: "apiKey",
          in: "header",
          name: "Authorization",
          description: "`Token <token>` (or `Bearer <token>`) from POST token/",
        },
        metricsToken: {
          type: "http",
          scheme: "bearer",
          description: "`Bearer <BRIDGE_METRICS_TOKEN>`: the scraper's own token, not one from POST token/",
        },
      },
      schemas: {
        TokenRequest: schema(tokenBodySchema),
        Token: schema(tokenAnswerSchema),
        ChatMessage: schema(chatBodySchema),
        Accepted: schema(acceptAnswerSchema),
        CloseRequest: schema(closeBodySchema),
        Closed: schema(closeAnswerSchema),
        AckRequest: schema(ackBodySchema),
        Ack: schema(ackAnswerSchema),
        MessageList: schema(listAnswerSchema),
        Conversation: schema(conversationAnswerSchema),
        Health: schema(healthAnswerSchema),
        Readiness: schema(readinessAnswerSchema),
        DeadLetterList: schema(deadLetterListAnswerSchema),
        Replayed: schema(replayAnswerSchema),
        ReplayAllRequest: schema(replayAllBodySchema),
        ReplayedAll: schema(replayAllAnswerSchema),
        Overview: schema(overviewAnswerSchema),
        RecentConversations: schema(recentConversationsAnswerSchema),
        Error: schema(errorAnswerSchema),
      },
    },
    paths: {
      [p("token/")]: {
        post: {
          summary: "Log in: a time-bound, revocable token",
          requestBody: { required: true, ...json("TokenRequest") },
          responses: { "200": { description: "the token", ...json("Token") }, ...errors(400, 401, 413, 415, 429) },
        },
      },
      [p("chat/")]: {
        get: {
          summary: "Chat messages, newest first, paginated",
          security,
          parameters: [
            { name: "session", in: "query", schema: { type: "string" } },
            { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 500, default: 50 } },
            { name: "cursor", in: "query", schema: { type: "integer" } },
          ],
          responses: { "200": { description: "a page", ...json("MessageList") }, ...errors(400, 401, 503) },
        },
        post: {
          summary: "A client message (chat_source WENI) or a counselor reply (OUTBOX)",
          security,
          requestBody: { required: true, ...json("ChatMessage") },
          responses: {
            "201": { description: "stored durably; delivery is reported by acks", ...json("Accepted") },
            "200": { description: "a duplicate: the first answer, with duplicate: true", ...json("Accepted") },
            ...errors(400, 401, 403, 404, 409, 413, 415, 503),
          },
        },
      },
      [p("chat/{session}/")]: {
        get: {
          summary: "A conversation with its messages and their delivery status",
          security,
          parameters: [session],
          responses: { "200": { description: "the conversation", ...json("Conversation") }, ...errors(401, 404, 503) },
        },
      },
      [p("chat/{session}/close/")]: {
        post: {
          summary: "End the conversation and tell the other side (closing twice is a no-op)",
          security,
          parameters: [session],
          requestBody: { required: false, ...json("CloseRequest") },
          responses: {
            "200": { description: "closed", ...json("Closed") },
            ...errors(400, 401, 403, 404, 413, 415, 503),
          },
        },
      },
      [p("chat/{session}/ack/")]: {
        post: {
          summary: "Acknowledge delivery or reading of a message received (status only moves forward)",
          security,
          parameters: [session],
          requestBody: { required: true, ...json("AckRequest") },
          responses: {
            "200": { description: "the message's status", ...json("Ack") },
            ...errors(400, 401, 403, 404, 413, 415, 503),
          },
        },
      },
      [p("health")]: {
        get: {
          summary: "Liveness: 200 when the store answers",
          responses: {
            "200": { description: "ok", ...json("Health") },
            "503": { description: "store unavailable", ...json("Health") },
          },
        },
      },
      [p("ready")]: {
        get: {
          summary: "Readiness: 200 when the store answers and the bridge is not stopping, with the outbox figures",
          responses: {
            "200": { description: "ready", ...json("Readiness") },
            "503": { description: "unavailable (the store does not answer) or stopping", ...json("Readiness") },
          },
        },
      },
      [p("metrics")]: {
        get: {
          summary: "Prometheus metrics (text format 0.0.4); only when metrics are on (BRIDGE_METRICS_TOKEN), else 404",
          security: [{ metricsToken: [] }],
          responses: {
            "200": { description: "the metrics", content: { "text/plain": { schema: { type: "string" } } } },
            "401": { description: "no or another Bearer token", ...json("Error") },
            "404": { description: "metrics are off", ...json("Error") },
          },
        },
      },
      [p("admin/dead-letters")]: {
        get: {
          summary: "Dead letters (deliveries out of retries, kept), newest first, paginated; admin consumers only",
          security,
          parameters: [
            { name: "conversation_id", in: "query", schema: { type: "string", pattern: "^[A-Za-z0-9_-]{1,100}$" } },
            { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 500, default: 50 } },
            { name: "cursor", in: "query", schema: { type: "integer" } },
          ],
          responses: {
            "200": { description: "a page; no message text, tokens or addresses", ...json("DeadLetterList") },
            ...errors(400, 401),
            ...notAdmin,
            ...errors(503),
          },
        },
      },
      [p("admin/dead-letters/{id}/replay")]: {
        post: {
          summary: "Queue a dead letter again, in its place in its conversation's lane; admin consumers only",
          security,
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "integer", minimum: 1 } }],
          responses: {
            "202": { description: "queued; a failed message is accepted again (replayed_at)", ...json("Replayed") },
            ...errors(401),
            ...notAdmin,
            "404": { description: "no dead letter with that id (dead_letter_not_found)", ...json("Error") },
            "409": { description: "the job is not dead: queued already (dead_letter_not_dead)", ...json("Error") },
            ...errors(503),
          },
        },
      },
      [p("admin/dead-letters/replay")]: {
        post: {
          summary: "Queue every dead letter again, or those of one conversation; admin consumers only",
          security,
          requestBody: { required: false, ...json("ReplayAllRequest") },
          responses: {
            "202": { description: "how many were queued", ...json("ReplayedAll") },
            ...errors(400, 401),
            ...notAdmin,
            ...errors(413, 415, 503),
          },
        },
      },
      [p("admin/overview")]: {
        get: {
          summary: "Conversations by state and the outbox figures (the console); admin consumers only",
          security,
          responses: {
            "200": { description: "counts only", ...json("Overview") },
            ...errors(401),
            ...notAdmin,
            ...errors(503),
          },
        },
      },
      [p("admin/conversations")]: {
        get: {
          summary:
            "The most recently updated conversations, with messages by status (the console); admin consumers only",
          security,
          parameters: [
            { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 100, default: 20 } },
          ],
          responses: {
            "200": {
              description: "newest activity first; no message text, contact addresses or tokens",
              ...json("RecentConversations"),
            },
            ...errors(400, 401),
            ...notAdmin,
            ...errors(503),
          },
        },
      },
      [p("console/")]: {
        get: {
          summary: "The operator console: one HTML page, no external assets; it signs in with an admin consumer",
          responses: { "200": { description: "text/html", content: { "text/html": {} } } },
        },
      },
      [p("openapi.json")]: {
        get: { summary: "This document", responses: { "200": { description: "OpenAPI 3.1" } } },
      },
    },
  };
}
