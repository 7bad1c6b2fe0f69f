import type { Bridge } from "@openchs-bridge/core";
import { type Context, Hono } from "hono";

/** What the Node edge (`serveHono`) hands the app as `c.env`: the client's address. */
export interface NodeBindings {
  remoteAddress?: string | undefined;
}

/**
 * A hono app with the bridge mounted under its base path. Hono speaks Web `Request`/`Response`
 * already: the shim is one line, and the raw body reaches the bridge untouched.
 */
export function createApp(bridge: Bridge): Hono<{ Bindings: NodeBindings }> {
  const app = new Hono<{ Bindings: NodeBindings }>();
  const base = bridge.options.basePath;
  const mount = (c: Context<{ Bindings: NodeBindings }>) =>
    bridge.handler(c.req.raw, { remoteAddress: c.env?.remoteAddress });
  app.all(`${base}*`, mount);
  app.all(base.slice(0, -1), mount);
  app.get("/", (c) => c.text("A host app with the bridge under /api/"));
  return app;
}
