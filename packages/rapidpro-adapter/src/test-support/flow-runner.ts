import { type GoContext, type GoValue, renderTemplate } from "./goflow-template";

/**
 * Walks a flow definition of a RapidPro export the way mailroom runs it, for the node kinds
 * docs/rapidpro-flow.json uses: `send_msg` and `call_webhook` actions, `switch` routers with
 * `has_only_text` cases, and waits for a message. Enough to play a conversation against a real
 * bridge; anything else throws.
 *
 * Followed from nyaruka/goflow and nyaruka/mailroom (read, not copied): a webhook answered 2xx is
 * the `Success` category, anything else (or no answer) `Failure` (`flows/actions/call_webhook.go`);
 * its result is named by `result_name` in snake case; mailroom adds `User-Agent` and
 * `X-Mailroom-Mode: normal` to the author's headers (the export's own `Content-Type`). No `Accept`:
 * the flow editor adds one only to a webhook node created in the editor, not to an imported one
 * (test/real-callers/fixtures/flow-webhook-message.http cites the sources).
 */
export interface FlowNode {
  uuid: string;
  actions: FlowAction[];
  router?: {
    type: string;
    operand: string;
    wait?: { type: string };
    result_name?: string;
    cases: Array<{ uuid: string; type: string; arguments: string[]; category_uuid: string }>;
    categories: Array<{ uuid: string; name: string; exit_uuid: string }>;
    default_category_uuid: string;
  };
  exits: Array<{ uuid: string; destination_uuid?: string | null }>;
}

export interface FlowAction {
  uuid: string;
  type: string;
  text?: string;
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  body?: string;
  result_name?: string;
}

/** A message of the contact, as goflow's `@input` shows it. */
export interface ContactMessage {
  uuid: string;
  text: string;
  /** goflow's `<content-type>:<url>` strings, e.g. `image/jpeg:https://…`, `geo:-1.28,36.81`. */
  attachments: string[];
}

/** One "Call Webhook" as mailroom sent it, and what came back. */
export interface WebhookCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  status: number | undefined;
  category: "Success" | "Failure";
}

export const MAILROOM_HEADERS = {
  "User-Agent": "RapidProMailroom/1.96.1",
  "X-Mailroom-Mode": "normal",
};

/** The state of one run: the contact's messages still to come, what the flow sent, the webhooks it called. */
export class FlowRun {
  readonly sent: string[] = [];
  readonly calls: WebhookCall[] = [];
  private readonly results: Record<string, GoValue> = {};
  private input: ContactMessage | undefined;
  private at: FlowNode | undefined;

  constructor(
    private readonly flow: { uuid: string; name: string; nodes: FlowNode[] },
    private readonly scope: { runUuid: string; contact: { uuid: string }; globals: Record<string, string> },
    /** Sends a webhook (mailroom's HTTP); answers the status, or undefined when no answer came. */
    private readonly send: (call: Omit<WebhookCall, "status" | "category">) => Promise<number | undefined>,
  ) {
    this.at = flow.nodes[0];
  }

  /** Runs until the flow waits for a message (answered by the next of `messages`) with none left, or ends. */
  async play(messages: ContactMessage[]): Promise<void> {
    const queue = [...messages];
    for (let steps = 0; this.at; steps++) {
      if (steps > 1000) throw new Error("the flow loops without waiting");
      const node = this.at;
      for (const action of node.actions) await this.perform(action);
      if (!node.router) {
        this.at = this.next(node, node.exits[0]!.uuid);
        continue;
      }
      if (node.router.wait) {
        if (node.router.wait.type !== "msg") throw new Error(`wait ${node.router.wait.type} is not supported here`);
        const message = queue.shift();
        if (!message) return; // waiting for the contact
        this.input = message;
      }
      this.at = this.next(node, this.route(node));
    }
  }

  /** Whether the run is waiting for the contact (rather than ended). */
  get waiting(): boolean {
    return this.at?.router?.wait !== undefined;
  }

  private context(): GoContext {
    const input: GoValue = this.input
      ? { uuid: this.input.uuid, text: this.input.text, attachments: this.input.attachments }
      : null;
    return {
      contact: { uuid: this.scope.contact.uuid },
      run: { uuid: this.scope.runUuid, flow: { uuid: this.flow.uuid, name: this.flow.name } },
      input,
      globals: this.scope.globals,
      results: this.results,
    };
  }

  private async perform(action: FlowAction): Promise<void> {
    if (action.type === "send_msg") {
      this.sent.push(renderTemplate(action.text ?? "", this.context()));
      return;
    }
    if (action.type !== "call_webhook") throw new Error(`action ${action.type} is not supported here`);
    const context = this.context();
    const headers: Record<string, string> = { ...MAILROOM_HEADERS };
    for (const [name, value] of Object.entries(action.headers ?? {})) headers[name] = renderTemplate(value, context);
    const request = {
      method: action.method ?? "GET",
      url: renderTemplate(action.url ?? "", context),
      headers,
      body: renderTemplate(action.body ?? "", context),
    };
    const status = await this.send(request);
    const category = status !== undefined && status >= 200 && status < 300 ? "Success" : "Failure";
    this.calls.push({ ...request, status, category });
    if (action.result_name) {
      this.results[snake(action.result_name)] = { value: String(status ?? 0), category, name: action.result_name };
    }
  }

  /** The exit the router takes: the first case whose test passes, else the default category. */
  private route(node: FlowNode): string {
    const router = node.router!;
    if (router.type !== "switch") throw new Error(`router ${router.type} is not supported here`);
    const operand = renderTemplate(router.operand, this.context());
    const match = router.cases.find((c) => {
      if (c.type !== "has_only_text") throw new Error(`case ${c.type} is not supported here`);
      return operand === c.arguments[0];
    });
    const categoryUuid = match?.category_uuid ?? router.default_category_uuid;
    const category = router.categories.find((c) => c.uuid === categoryUuid)!;
    if (router.result_name) {
      this.results[snake(router.result_name)] = { value: operand, category: category.name, name: router.result_name };
    }
    return category.exit_uuid;
  }

  private next(node: FlowNode, exitUuid: string): FlowNode | undefined {
    const destination = node.exits.find((e) => e.uuid === exitUuid)?.destination_uuid;
    return destination ? this.flow.nodes.find((n) => n.uuid === destination) : undefined;
  }
}

/** goflow's key of a result name: lower case, runs of other characters as `_` ("Bridge Retry" → `bridge_retry`). */
export function snake(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_|_$/g, "");
}
