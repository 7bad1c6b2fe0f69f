import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type GoField, goUnmarshal } from "./go-json";

/** A callback the bridge made to mailroom, as mailroom's handler took it. */
export interface ReceivedCallback {
  kind: "messages" | "close";
  status: number;
  /** The decoded payload (Go semantics), when it was accepted. */
  payload?: Record<string, unknown>;
  /** Why it was refused, when it was. */
  error?: string;
}

/**
 * Mailroom's receiving end of the generic ticketer (`weni-ai/mailroom
 * services/tickets/generic/web.go`): `POST …/event_callback/{ticketer}/messages` and
 * `…/tickets/close`, checked as that handler checks them (body ≤ 1 MiB, `X-Webhook-Signature`
 * `sha256=<hex HMAC-SHA256>` of the raw body, `X-Webhook-Timestamp` RFC 3339 or unix seconds within
 * 5 minutes when present, the payload decoded into its Go struct, `external_id` required and a known
 * ticket, text or attachments for a message). A ticket closed already answers 200 again.
 */
export interface MailroomCallbacks {
  /** `TICKETER_CALLBACK_URL`: `http://127.0.0.1:PORT/mr/tickets/types/generic/event_callback/<ticketer>`. */
  url: string;
  received: ReceivedCallback[];
  /** Makes an external id known (mailroom looks tickets up by it). */
  knowTicket(externalId: string, ticketUuid: string): void;
  close(): Promise<void>;
}

const MESSAGE_FIELDS: Record<string, GoField> = {
  external_id: "string",
  message_external_id: "string",
  direction: "string",
  sender: "object",
  text: "string",
  metadata: "object",
  sent_at: "time",
};
const CLOSE_FIELDS: Record<string, GoField> = {
  external_id: "string",
  closed_by: "object",
  reason: "string",
  metadata: "object",
  closed_at: "time",
};

export async function startMailroomCallbacks(ticketerUuid: string, secret: string): Promise<MailroomCallbacks> {
  const received: ReceivedCallback[] = [];
  const tickets = new Map<string, { uuid: string; closed: boolean }>();
  const base = `/mr/tickets/types/generic/event_callback/${ticketerUuid}`;

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const kind =
      req.url === `${base}/messages` ? "messages" : req.url === `${base}/tickets/close` ? "close" : undefined;
    const answer = (status: number, json: Record<string, unknown>, record?: Partial<ReceivedCallback>) => {
      if (kind) received.push({ kind, status, ...record });
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(json));
    };
    const refuse = (status: number, error: string, message: string) => answer(status, { error, message }, { error });
    if (req.method !== "POST" || !kind) return refuse(404, "not_found", "no such route");
    if (body.length > 1 << 20) return refuse(413, "payload_too_large", "request body exceeds limit");
    if (!signatureMatches(secret, body, header(req.headers["x-webhook-signature"]))) {
      return refuse(401, "invalid_signature", "HMAC verification failed");
    }
    const timestamp = header(req.headers["x-webhook-timestamp"]);
    if (timestamp && !timestampFresh(timestamp)) {
      return refuse(401, "expired_request", "X-Webhook-Timestamp outside the accepted window");
    }
    const decoded = goUnmarshal(body.toString("utf8"), kind === "messages" ? MESSAGE_FIELDS : CLOSE_FIELDS);
    if (!decoded.ok) return refuse(400, "invalid_payload", decoded.error);
    const payload = decoded.value;
    if (kind === "messages") {
      const attachments = (JSON.parse(body.toString("utf8")) as { attachments?: unknown }).attachments;
      const hasAttachments = Array.isArray(attachments) && attachments.length > 0;
      if (String(payload.text ?? "").trim() === "" && !hasAttachments) {
        return refuse(400, "empty_message", "text or attachments are required");
      }
    }
    const externalId = String(payload.external_id ?? "").trim();
    if (externalId === "") return refuse(400, "invalid_payload", "external_id is required");
    const ticket = tickets.get(externalId);
    if (!ticket) return refuse(404, "ticket_not_found", "no such ticket for the given external_id");
    if (kind === "close") {
      ticket.closed = true;
      return answer(200, { status: "closed", ticket_uuid: ticket.uuid }, { payload });
    }
    return answer(200, { status: "sent", ticket_uuid: ticket.uuid }, { payload });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${base}`,
    received,
    knowTicket(externalId, ticketUuid) {
      tickets.set(externalId, { uuid: ticketUuid, closed: false });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function header(value: string | string[] | undefined): string {
  return Array.isArray(value) ? (value[0] ?? "") : (value ?? "");
}

function signatureMatches(secret: string, body: Buffer, signature: string): boolean {
  const provided = signature
    .replace(/^sha256=/, "")
    .trim()
    .toLowerCase();
  if (provided === "") return false;
  const expected = createHmac("sha256", secret).update(body).digest("hex");
  return provided.length === expected.length && timingSafeEqual(Buffer.from(provided), Buffer.from(expected));
}

function timestampFresh(value: string): boolean {
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  return Number.isFinite(ms) && ms !== 0 && Math.abs(Date.now() - ms) <= 5 * 60_000;
}
