/**
 * `@openchs-bridge/cli`: the runnable gateway. `openchs-bridge serve` reads its configuration from
 * the environment; these exports let a host do the same in code.
 *
 * @packageDocumentation
 */
export { type ComposedGateway, composeGateway } from "./compose";
export {
  ConfigError,
  envSchema,
  type GatewayConfig,
  helpText,
  loadConfig,
  parseDotEnv,
  VARIABLES,
  type VariableDoc,
} from "./config";
export { type NodeListenerOptions, toNodeListener, type WebHandler } from "./node-http";
export { type LogSink, type RequestLogLine, withRequestLog } from "./request-log";
export { type RunningGateway, startGateway } from "./serve";
export { openStore } from "./store";
