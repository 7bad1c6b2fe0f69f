// Runs the gateway inside express, configured from the environment like `openchs-bridge serve`: the
// same variables, and the same one-line message when one is missing. The mount itself (app.ts) needs
// only @openchs-bridge/core; the CLI is here for its configuration reader and composition.
import {
  ConfigError,
  composeGateway,
  configErrorText,
  environmentWithDotEnv,
  type GatewayConfig,
  loadConfig,
} from "@openchs-bridge/cli";
import { createApp } from "./app";

const config = configFromEnvironment();
const { bridge } = composeGateway(config);
await bridge.start();
const server = createApp(bridge).listen(config.PORT, config.HOST, () => {
  console.log(`express host with the bridge at http://${config.HOST}:${config.PORT}${config.BRIDGE_BASE_PATH}`);
});
process.once("SIGTERM", () => server.close(() => void bridge.stop()));
process.once("SIGINT", () => server.close(() => void bridge.stop()));

/** The configuration as `openchs-bridge serve` reads it, or, when it is missing or invalid, what `serve` prints. */
function configFromEnvironment(): GatewayConfig {
  try {
    return loadConfig(environmentWithDotEnv());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(configErrorText(error));
    process.exit(1);
  }
}
