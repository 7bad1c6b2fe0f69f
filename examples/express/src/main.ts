// Runs the gateway inside express, configured from the environment like `openchs-bridge serve`: the
// same variables, and the same one-line message when one is missing. The mount itself (app.ts) needs
// only @openchs-bridge/core; the CLI is here for its configuration reader and composition.
import { composeGateway, loadConfigOrExit } from "@openchs-bridge/cli";
import { createApp } from "./app";

const config = loadConfigOrExit();
const { bridge } = composeGateway(config);
await bridge.start();
const server = createApp(bridge).listen(config.PORT, config.HOST, () => {
  console.log(`express host with the bridge at http://${config.HOST}:${config.PORT}${config.BRIDGE_BASE_PATH}`);
});
process.once("SIGTERM", () => server.close(() => void bridge.stop()));
process.once("SIGINT", () => server.close(() => void bridge.stop()));
