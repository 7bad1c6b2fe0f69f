// Runs the gateway inside hono on Node, configured from the environment like `openchs-bridge serve`.
import { serve } from "@hono/node-server";
import { composeGateway, loadConfig } from "@openchs-bridge/cli";
import { createApp } from "./app";

const config = loadConfig(process.env);
const { bridge } = composeGateway(config);
await bridge.start();
const server = serve({ fetch: createApp(bridge).fetch, port: config.PORT, hostname: config.HOST }, (info) => {
  console.log(`hono host with the bridge at http://${config.HOST}:${info.port}${config.BRIDGE_BASE_PATH}`);
});
const stop = () => server.close(() => void bridge.stop());
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
