// Runs the gateway inside express, configured from the environment like `openchs-bridge serve`: the
// same variables, and the same one-line message when one is missing. The mount itself (app.ts) needs
// only @openchs-bridge/core; the CLI is here for its configuration reader and composition.
import { existsSync, readFileSync } from "node:fs";
import { ConfigError, composeGateway, type GatewayConfig, loadConfig, parseDotEnv } from "@openchs-bridge/cli";
import { createApp } from "./app";

const config = configFromEnvironment();
const { bridge } = composeGateway(config);
await bridge.start();
const server = createApp(bridge).listen(config.PORT, config.HOST, () => {
  console.log(`express host with the bridge at http://${config.HOST}:${config.PORT}${config.BRIDGE_BASE_PATH}`);
});
process.once("SIGTERM", () => server.close(() => void bridge.stop()));
process.once("SIGINT", () => server.close(() => void bridge.stop()));

/**
 * The configuration from the environment and a `.env` file when present (set variables win), as
 * `openchs-bridge serve` reads it; or, when it is missing or invalid, what `serve` prints (no stack trace).
 */
function configFromEnvironment(): GatewayConfig {
  const env: Record<string, string | undefined> = { ...process.env };
  if (existsSync(".env")) {
    for (const [name, value] of Object.entries(parseDotEnv(readFileSync(".env", "utf8")))) env[name] ??= value;
  }
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`openchs-bridge: ${error.message}\nRun "openchs-bridge serve --help" for every variable.\n`);
    process.exit(1);
  }
}
