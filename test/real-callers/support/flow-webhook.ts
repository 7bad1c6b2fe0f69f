import { readFileSync } from "node:fs";
import { type GoContext, renderTemplate } from "../../../packages/rapidpro-adapter/src/test-support/goflow-template";
import type { RawAnswer } from "./http-exchange";

/** How a flow's "Call Webhook" action takes an answer (weni-ai/goflow). */
export interface FlowReading {
  /** The exit the flow follows: 2xx is `Success`, anything else `Failure` (flows/actions/call_webhook.go callStatus). */
  exit: "Success" | "Failure";
  /**
   * `@webhook`: the answer's JSON (services/webhooks/service.go ExtractJSON, after dropping invalid
   * UTF-8 and NULs), or an empty object when the answer is not JSON (base.go updateWebhook).
   */
  webhook: Record<string, unknown>;
  /** Whether the JSON is also kept as the result's extra (`@results.x.extra`): under 10000 bytes (base.go). */
  keptAsResult: boolean;
}

export function readAsFlow(answer: RawAnswer): FlowReading {
  const cleaned = answer.text.replaceAll("\u0000", "").replaceAll("\\u0000", "");
  let webhook: Record<string, unknown> = {};
  let bytes = 0;
  try {
    const parsed: unknown = JSON.parse(cleaned);
    bytes = Buffer.byteLength(cleaned);
    if (parsed !== null && typeof parsed === "object") webhook = parsed as Record<string, unknown>;
  } catch {
    // not JSON: @webhook is empty
  }
  return {
    exit: answer.status >= 200 && answer.status < 300 ? "Success" : "Failure",
    webhook,
    keptAsResult: bytes > 0 && bytes < 10_000,
  };
}

/** A "Call Webhook" action of a flow export (`nodes[].actions[]` of type `call_webhook`). */
export interface WebhookAction {
  uuid: string;
  type: "call_webhook";
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  result_name: string;
}

/** The flow of docs/rapidpro-flow.json, the export flow authors import: the flow the fixtures are requests of. */
export const FLOW_EXPORT = JSON.parse(
  readFileSync(new URL("../../../docs/rapidpro-flow.json", import.meta.url), "utf8"),
).flows[0] as { uuid: string; name: string; nodes: Array<{ actions: Array<{ type: string }> }> };

/** The export's "Call Webhook" actions (the first try and the retry: the same request). */
export function exportWebhooks(): WebhookAction[] {
  return FLOW_EXPORT.nodes.flatMap((n) => n.actions).filter((a): a is WebhookAction => a.type === "call_webhook");
}

/**
 * Mailroom's headers for a webhook that leaves them unset (weni-ai/mailroom core/goflow/engine.go
 * `webhookHeaders`, set by weni-ai/goflow services/webhooks/service.go `Call` when absent). No
 * `Accept`: neither mailroom nor goflow adds one.
 */
export const MAILROOM_DEFAULT_HEADERS: Readonly<Record<string, string>> = {
  "User-Agent": "RapidProMailroom/1.96.1",
  "X-Mailroom-Mode": "normal",
};

/** A request as a fixture holds it: placeholders (`{{host}}`, `{{content_length}}`, …) unfilled. */
export interface MailroomRequest {
  method: string;
  target: string;
  headers: Array<[string, string]>;
  body: string;
}

/**
 * What mailroom writes for `action` in a run whose goflow context is `context`: the url, headers
 * and body templates rendered by goflow's rules (packages/rapidpro-adapter/src/test-support/
 * goflow-template.ts), the headers as weni-ai/goflow flows/actions/call_webhook.go adds them
 * (`Header.Add`, so canonical names) plus mailroom's defaults, laid out as Go's net/http writes a
 * request: `Host`, `User-Agent`, `Content-Length`, the other headers sorted by name, then the
 * transport's `Accept-Encoding: gzip`. `Content-Length` is `{{content_length}}`, as in the fixtures.
 */
export function mailroomRequest(action: WebhookAction, context: GoContext): MailroomRequest {
  const url = renderTemplate(action.url, context);
  const parts = /^https?:\/\/([^/?#]+)(\/[^#]*)?$/.exec(url);
  if (!parts) throw new Error(`not an http(s) URL: ${url}`);
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(action.headers)) {
    headers.set(canonicalHeaderName(name), renderTemplate(value, context));
  }
  for (const [name, value] of Object.entries(MAILROOM_DEFAULT_HEADERS))
    if (!headers.has(name)) headers.set(name, value);
  const first = ["Host", "User-Agent", "Content-Length"];
  const rest = [...headers].filter(([name]) => !first.includes(name) && name !== "Accept-Encoding");
  rest.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    method: action.method.toUpperCase(),
    target: parts[2] ?? "/",
    headers: [
      ["Host", parts[1]!],
      ["User-Agent", headers.get("User-Agent")!],
      ["Content-Length", "{{content_length}}"],
      ...rest,
      ["Accept-Encoding", "gzip"],
    ],
    body: renderTemplate(action.body, context),
  };
}

/** Go's `textproto.CanonicalMIMEHeaderKey` for a plain token: each dash-separated word capitalised. */
function canonicalHeaderName(name: string): string {
  return name
    .split("-")
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase())
    .join("-");
}
