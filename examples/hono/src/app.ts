import { getConnInfo } from "@hono/node-server/conninfo";
import type { Bridge } from "@openchs-bridge/core";
import { Hono } from "hono";

/**
 * A hono app with the bridge mounted under its base path. Hono speaks Web `Request`/`Response`
 * already: the shim is one line, and the raw body reaches the bridge untouched.
 */
export function createApp(bridge: Bridge): Hono {
  const app = new Hono();
  const base = bridge.options.basePath;
  app.all(`${base}*`, (c) => bridge.handler(c.req.raw, { remoteAddress: getConnInfo(c).remote.address }));
  app.all(base.slice(0, -1), (c) => bridge.handler(c.req.raw, { remoteAddress: getConnInfo(c).remote.address }));
  app.get("/", (c) => c.text("A host app with the bridge under /api/"));
  return app;
}
