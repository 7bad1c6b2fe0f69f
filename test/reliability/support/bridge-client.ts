import { sleep } from "./gateway-process";

/** One answer of the gateway. */
export interface Answer {
  status: number;
  /** The parsed JSON body, or undefined when it is not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers of many documented shapes
  body: any;
  text: string;
  headers: Headers;
}

/** Every answer a client received, kept for the secrets test (error bodies must hold no secret). */
export type AnswerSink = (request: { method: string; path: string }, answer: Answer) => void;

/**
 * A small client of the gateway API over real sockets, as a chatbot or a helpline uses it: logs in
 * at `token/`, sends `Authorization: Token …`, logs in again on 401. `send` retries like a careful
 * caller with an idempotency key (mailroom with `Idempotency-Key`): the same body again after a
 * connection error, a timeout or a 503, until an answer that is not one of those.
 */
export class BridgeClient {
  token: string | undefined;
  logins = 0;

  constructor(
    private readonly base: () => string,
    readonly username: string,
    readonly password: string,
    private readonly sink?: AnswerSink,
  ) {}

  async login(): Promise<string> {
    const answer = await this.raw("POST", "token/", {
      body: JSON.stringify({ username: this.username, password: this.password }),
      headers: { "content-type": "application/json" },
    });
    if (answer.status !== 200) throw new Error(`login of ${this.username} answered ${answer.status}: ${answer.text}`);
    this.logins++;
    this.token = answer.body.token as string;
    return this.token;
  }

  /** One request, no retry. `path` is relative to the API base. */
  async raw(
    method: string,
    path: string,
    init: { body?: string | Uint8Array<ArrayBuffer>; headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<Answer> {
    const response = await fetch(new URL(path, this.base()), {
      method,
      headers: init.headers ?? {},
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    const answer = { status: response.status, body, text, headers: response.headers };
    this.sink?.({ method, path }, answer);
    return answer;
  }

  /** An authenticated request (logs in first, and once more on a 401). */
  async call(method: string, path: string, json?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    if (!this.token) await this.login();
    const send = () =>
      this.raw(method, path, {
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
        headers: {
          ...(json !== undefined ? { "content-type": "application/json" } : {}),
          authorization: `Token ${this.token}`,
          ...headers,
        },
      });
    let answer = await send();
    if (answer.status === 401) {
      await this.login();
      answer = await send();
    }
    return answer;
  }

  /**
   * Sends until the gateway answers something other than a network error, a timeout or a 503,
   * or `deadlineMs` passes (then throws). Returns the answer and how many tries it took.
   */
  async send(
    method: string,
    path: string,
    json: unknown,
    deadlineMs = 60_000,
  ): Promise<Answer & { tries: number; failures: string[] }> {
    const start = Date.now();
    const failures: string[] = [];
    for (let tries = 1; ; tries++) {
      try {
        const answer = await this.call(method, path, json);
        if (answer.status !== 503) return { ...answer, tries, failures };
        failures.push("503");
      } catch (error) {
        failures.push(describe(error));
      }
      if (Date.now() - start > deadlineMs) {
        throw new Error(`${method} ${path} unanswered after ${tries} tries: ${failures.slice(-5).join(", ")}`);
      }
      await sleep(Math.min(50 * tries, 500));
    }
  }
}

function describe(error: unknown): string {
  const e = error as { name?: string; cause?: { code?: string } };
  return e.cause?.code ?? e.name ?? "error";
}

/** A client message (`chat_source: WENI`) as a flow's webhook sends it. */
export function clientMessage(session: string, contact: string, messageId: string, text: string) {
  return {
    chat_session: session,
    chat_message: text,
    chat_sender: contact,
    chat_source: "WENI",
    chat_channel: "WENI",
    message_id: messageId,
    sender_name: "Child",
  };
}

/** A counselor reply (`chat_source: OUTBOX`) as the helpline sends it. */
export function counselorReply(session: string, contact: string, messageId: string, text: string) {
  return {
    chat_session: session,
    chat_message: text,
    chat_sender: contact,
    chat_receiver: "101",
    chat_source: "OUTBOX",
    chat_channel: "WENI",
    message_id: messageId,
    sender_name: "Counselor Amina",
  };
}
