import type { IncomingMessage, ServerResponse } from "node:http";
import { toNodeListener, type WebHandler } from "@openchs-bridge/core/node";

/** What this shim needs of express, written structurally so it works without express's types. */
type ExpressRequest = IncomingMessage & { originalUrl: string };

/**
 * Mounts the bridge in express. Register it before any body parser (express.json() would consume the
 * raw body the bridge reads and signs): the bridge reads, limits and validates bodies itself.
 */
export function bridgeMiddleware(handler: WebHandler, basePath = "/api/") {
  const listener = toNodeListener(handler);
  const prefix = basePath.slice(0, -1);
  return (req: ExpressRequest, res: ServerResponse, next: (error?: unknown) => void): void => {
    if (req.originalUrl !== prefix && !req.originalUrl.startsWith(basePath)) {
      next();
      return;
    }
    req.url = req.originalUrl; // express strips the mount path from req.url; the bridge routes on the full path
    listener(req, res).catch(next);
  };
}
