import { OpenChsBridgeError } from "./openchs-bridge-error";

/**
 * A missing or invalid option, found at construction time (`createBridge`, the clients' factories,
 * the CLI's environment): `option` names it, the message says what was expected. Never shows a
 * secret's value.
 */
export class ConfigError extends OpenChsBridgeError {
  override name = "ConfigError";
  /** The option (or environment variable) at fault, e.g. `delivery.leaseMs` or `BRIDGE_CONSUMERS`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super("invalid_config", message);
    this.option = option;
  }
}

/** Whether `value` is a {@link ConfigError}. */
export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof ConfigError;
}
