import { createServer, type Server } from "node:http";
import { toNodeListener } from "@openchs-bridge/core/node";
import type { Hono } from "hono";
import type { NodeBindings } from "./app";

/**
 * Serves a hono app on node:http through the bridge's own Node edge (`toNodeListener` of
 * `@openchs-bridge/core/node`, as `openchs-bridge serve` does), not @hono/node-server: when an answer comes before the body was read
 * (413, 401), @hono/node-server stops draining the rest after 500 ms (`DRAIN_TIMEOUT_MS` in its
 * `src/listener.ts`) and closes with bytes unread, so a client still uploading gets a reset instead
 * of the answer. `toNodeListener` drains up to 8 MiB and 5 s. The client's address reaches the app
 * as `c.env.remoteAddress`.
 */
export function serveHono(
  app: Hono<{ Bindings: NodeBindings }>,
  options: { port: number; hostname: string },
): Promise<Server> {
  const server = createServer(toNodeListener(async (request, info) => app.fetch(request, { ...info })));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => resolve(server));
  });
}
