import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { FaultHit, FaultSwitch } from "./faults";

/** A request as the simulators' route handlers see it: the body already read. */
export interface SimRequest {
  method: string;
  url: URL;
  /** `url.pathname`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body. */
  body: Buffer;
}

/** What a route handler answers: JSON (`json`), or a text body (`text`). */
export interface SimResponse {
  status: number;
  headers?: Record<string, string> | undefined;
  json?: unknown;
  text?: string | undefined;
}

/** One request as the simulator's request log keeps it (no headers, no body). */
export interface RequestRecord {
  at: number;
  method: string;
  path: string;
  /** The status answered; `null` when the socket was dropped. */
  status: number | null;
  /** The fault applied, if any. */
  fault?: FaultHit["mode"] | undefined;
  /** The W3C `traceparent` the caller sent, if any: shows which trace an upstream call belongs to. */
  traceparent?: string | undefined;
}

/** Options of {@link startSimServer}. */
export interface SimServerOptions {
  host: string;
  port: number;
  faults: FaultSwitch;
  /** The answer to a `5xx` or `429` fault, in the simulated server's own error shape. */
  faultResponse(hit: FaultHit): SimResponse;
  handle(request: SimRequest): Promise<SimResponse> | SimResponse;
  /** Called for every request after it was answered or dropped. */
  onRequest?(record: RequestRecord): void;
  /** Largest body read. Default 2 MiB. */
  maxBodyBytes?: number | undefined;
}

/** A running simulator server. */
export interface SimServer {
  /** `http://host:port` (no trailing slash). */
  origin: string;
  port: number;
  /** Stops listening, cuts open connections and cancels pending slow answers. */
  close(): Promise<void>;
}

const REQUEST_LOG_LIMIT = 2000;

/** Starts a loopback `node:http` server that runs every request through the fault switch, then `handle`. */
export async function startSimServer(options: SimServerOptions): Promise<SimServer> {
  const maxBody = options.maxBodyBytes ?? 2 * 1024 * 1024;
  const pending = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let closing = false;

  const server = createServer((req, res) => {
    void serve(req, res).catch(() => {
      if (!res.headersSent) send(res, { status: 500, json: { detail: "simulator error" } });
      else res.destroy();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://sandbox.invalid");
    const method = (req.method ?? "GET").toUpperCase();
    const path = url.pathname;
    const hit = options.faults.pick(method, path);
    const record = (status: number | null) =>
      options.onRequest?.({
        at: Date.now(),
        method,
        path,
        status,
        fault: hit?.mode,
        ...(typeof req.headers.traceparent === "string" ? { traceparent: req.headers.traceparent } : {}),
      });

    if (hit?.mode === "drop") {
      req.socket.destroy();
      record(null);
      return;
    }
    const body = await readBody(req, maxBody);
    if (body === "too_large") {
      send(res, { status: 413, json: { detail: "request body too large" } });
      record(413);
      return;
    }
    if (hit?.mode === "5xx" || hit?.mode === "429") {
      const answer = options.faultResponse(hit);
      send(res, answer);
      record(answer.status);
      return;
    }
    if (hit?.mode === "slow") {
      await wait(hit.delayMs);
      if (closing) return;
    }
    const answer = await options.handle({ method, url, path, headers: req.headers, body });
    if (hit?.mode === "drop-after") {
      req.socket.destroy();
      record(null);
      return;
    }
    send(res, answer);
    record(answer.status);
  }

  function wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        resolve,
        timer: setTimeout(() => {
          pending.delete(entry);
          resolve();
        }, ms),
      };
      pending.add(entry);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    origin: `http://${host}:${address.port}`,
    port: address.port,
    async close() {
      closing = true;
      for (const entry of pending) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      pending.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Keeps the last requests of a simulator, for tests and the admin API. */
export function createRequestLog(): { records: RequestRecord[]; add(record: RequestRecord): void } {
  const records: RequestRecord[] = [];
  return {
    records,
    add(record) {
      records.push(record);
      if (records.length > REQUEST_LOG_LIMIT) records.splice(0, records.length - REQUEST_LOG_LIMIT);
    },
  };
}

function send(res: ServerResponse, answer: SimResponse): void {
  const headers: Record<string, string> = { ...answer.headers };
  let payload = "";
  if (answer.json !== undefined) {
    payload = JSON.stringify(answer.json);
    headers["content-type"] ??= "application/json";
  } else if (answer.text !== undefined) {
    payload = answer.text;
    headers["content-type"] ??= "text/plain; charset=utf-8";
  }
  headers["content-length"] = String(Buffer.byteLength(payload));
  res.writeHead(answer.status, headers);
  res.end(payload);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | "too_large"> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) return "too_large";
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON body; `undefined` for an empty body, the string `"invalid"` for bad JSON. */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return INVALID_JSON;
  }
}

/** What {@link parseJson} returns for a body that is not JSON. */
export const INVALID_JSON: unique symbol = Symbol("invalid json");

/** Whether `value` is a plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
