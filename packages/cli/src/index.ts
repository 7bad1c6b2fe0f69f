/**
 * `@openchs-bridge/cli`: the runnable gateway. `openchs-bridge serve` reads its configuration from
 * the environment; these exports let a host do the same in code.
 *
 * @packageDocumentation
 */

/**
 * The Node adapter, now shipped by `@openchs-bridge/core/node`: re-exported so that code importing it
 * from the CLI keeps working. New code imports it from `@openchs-bridge/core/node` (no CLI needed).
 */
export { type NodeListenerOptions, toNodeListener, type WebHandler } from "@openchs-bridge/core/node";
export { type ComposedGateway, composeGateway } from "./compose";
export {
  ConfigError,
  type ConfigProblem,
  configErrorText,
  environmentWithDotEnv,
  envSchema,
  type GatewayConfig,
  helpText,
  loadConfig,
  loadConfigOrExit,
  parseDotEnv,
  VARIABLES,
  type VariableDoc,
} from "./config";
export {
  createLogger,
  EVENT_LEVELS,
  LOG_LEVELS,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  logBridgeEvents,
  sinkDestination,
} from "./logger";
export { type LogSink, type RequestLogLine, withRequestLog } from "./request-log";
export { type RunningGateway, startGateway } from "./serve";
export { openStore } from "./store";
