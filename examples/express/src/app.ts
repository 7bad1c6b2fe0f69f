import type { Bridge } from "@openchs-bridge/core";
import express from "express";
import { bridgeMiddleware } from "./bridge-middleware";

/** An express app with the bridge mounted under its base path, beside the host's own routes. */
export function createApp(bridge: Bridge): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.use(bridgeMiddleware(bridge.handler, bridge.options.basePath));
  app.get("/", (_req, res) => {
    res.send("A host app with the bridge under /api/");
  });
  return app;
}
