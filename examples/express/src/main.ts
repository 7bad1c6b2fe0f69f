// Runs the gateway inside express, configured from the environment like `openchs-bridge serve`.
import { composeGateway, loadConfig } from "@openchs-bridge/cli";
import { createApp } from "./app";

const config = loadConfig(process.env);
const { bridge } = composeGateway(config);
await bridge.start();
const server = createApp(bridge).listen(config.PORT, config.HOST, () => {
  console.log(`express host with the bridge at http://${config.HOST}:${config.PORT}${config.BRIDGE_BASE_PATH}`);
});
process.once("SIGTERM", () => server.close(() => void bridge.stop()));
process.once("SIGINT", () => server.close(() => void bridge.stop()));
