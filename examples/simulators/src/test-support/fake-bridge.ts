import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/** A request the fake bridge received. */
export interface BridgeRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** A scripted answer: returned instead of the default behaviour. */
export interface ScriptedAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * A tiny stand-in for the bridge's gateway API (tests only): `token/`, `chat/`, `chat/{s}/ack/`,
 * `chat/{s}/close/`, with token auth and dedupe by `message_id`, recording every request.
 */
export interface FakeBridge {
  /** The API base, `http://127.0.0.1:PORT/api/`. */
  url: string;
  requests: BridgeRequest[];
  /** Requests to a path ending in `suffix` (e.g. `"chat/"`, `"/ack/"`), without the `token/` logins. */
  calls(suffix: string): BridgeRequest[];
  /** How many tokens were issued. */
  readonly logins: number;
  /** Makes every issued token invalid (the next call gets 401 `token_expired`). */
  revokeAll(): void;
  /** Answers the next matching requests with `answer` instead of the default. */
  script(match: (request: BridgeRequest) => boolean, answer: ScriptedAnswer, times?: number): void;
  close(): Promise<void>;
}

/** Starts a {@link FakeBridge} accepting the given consumers (`username` → `password`). */
export async function startFakeBridge(consumers: Record<string, string>): Promise<FakeBridge> {
  const requests: BridgeRequest[] = [];
  const tokens = new Set<string>();
  const seen = new Map<string, unknown>();
  const scripts: Array<{ match: (r: BridgeRequest) => boolean; answer: ScriptedAnswer; left: number }> = [];
  let logins = 0;

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: unknown;
    try {
      body = raw === "" ? undefined : JSON.parse(raw);
    } catch {
      body = raw;
    }
    const path = new URL(req.url ?? "/", "http://fake.invalid").pathname;
    const request: BridgeRequest = { method: req.method ?? "GET", path, headers: req.headers, body };
    requests.push(request);
    const answer = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(json));
    };

    const scripted = scripts.find((s) => s.left > 0 && s.match(request));
    if (scripted) {
      scripted.left--;
      return answer(scripted.answer.status, scripted.answer.body ?? {}, scripted.answer.headers);
    }

    const data = (body ?? {}) as Record<string, unknown>;
    if (path === "/api/token/") {
      if (typeof data.username !== "string" || consumers[data.username] !== data.password) {
        return answer(401, { error: { code: "invalid_credentials", message: "wrong username or password" } });
      }
      logins++;
      const token = `tok-${logins}-${Math.random().toString(36).slice(2)}`;
      tokens.add(token);
      return answer(200, { token, expires_in: 3600, expires_at: new Date(Date.now() + 3_600_000).toISOString() });
    }
    const token = /^Token (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (!token || !tokens.has(token)) {
      return answer(401, { error: { code: token ? "token_expired" : "unauthorized", message: "log in again" } });
    }
    if (path === "/api/chat/" && request.method === "POST") {
      const session = String(data.chat_session);
      const key = `${session}|${String(data.chat_source)}|${String(data.message_id)}`;
      const first = seen.get(key);
      if (first) return answer(200, { ...(first as object), duplicate: true });
      const accepted = {
        status: "accepted",
        uuid: `u-${seen.size + 1}`,
        conversation_id: session,
        message_id: String(data.message_id),
        conversation_state: "requested",
      };
      seen.set(key, accepted);
      return answer(201, accepted);
    }
    const ack = /^\/api\/chat\/(\w[\w-]*)\/ack\/$/.exec(path);
    if (ack && request.method === "POST") {
      return answer(200, { conversation_id: ack[1], message_id: data.message_id, status: data.status, changed: true });
    }
    const close = /^\/api\/chat\/(\w[\w-]*)\/close\/$/.exec(path);
    if (close && request.method === "POST") {
      const closedBy = data.chat_source === "WENI" ? "chatbot" : "helpline";
      return answer(200, { conversation_id: close[1], state: "closed", closed_by: closedBy, changed: true });
    }
    return answer(404, { error: { code: "route_not_found", message: "no such route" } });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/`,
    requests,
    calls: (suffix) => requests.filter((r) => r.path !== "/api/token/" && r.path.endsWith(suffix)),
    get logins() {
      return logins;
    },
    revokeAll: () => tokens.clear(),
    script(match, answer, times = 1) {
      scripts.push({ match, answer, left: times });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
