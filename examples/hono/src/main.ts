// Runs the gateway inside hono on Node, configured from the environment like `openchs-bridge serve`:
// the same variables, and the same one-line message when one is missing. The mount itself (app.ts,
// node-server.ts) needs only @openchs-bridge/core; the CLI is here for its configuration reader and
// composition.

import type { AddressInfo } from "node:net";
import { composeGateway, loadConfigOrExit } from "@openchs-bridge/cli";
import { createApp } from "./app";
import { serveHono } from "./node-server";

const config = loadConfigOrExit();
const { bridge } = composeGateway(config);
await bridge.start();
const server = await serveHono(createApp(bridge), { port: config.PORT, hostname: config.HOST });
const { port } = server.address() as AddressInfo;
console.log(`hono host with the bridge at http://${config.HOST}:${port}${config.BRIDGE_BASE_PATH}`);
const stop = () => server.close(() => void bridge.stop());
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
