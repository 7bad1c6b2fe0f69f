import type { Bridge } from "@openchs-bridge/core";
import { composeGateway } from "./compose";
import { ConfigError, loadConfig } from "./config";

/** Where a command writes: stdout for its answer, stderr for what went wrong. */
export interface CommandIo {
  env: Record<string, string | undefined>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/**
 * Runs an operator command against the store `serve` uses (`BRIDGE_STORE`), while `serve` runs:
 * the bridge is composed from the same configuration but never started (no delivery loop here),
 * so what the command queues is delivered by `serve` (sqlite in WAL mode lets both processes share
 * the file; PostgreSQL is shared by design). The store is closed afterwards.
 */
export async function withOperatorBridge<T>(
  env: CommandIo["env"],
  command: string,
  fn: (bridge: Bridge) => Promise<T>,
): Promise<T> {
  const config = loadConfig(env);
  if (config.BRIDGE_STORE === "memory") {
    throw new ConfigError(
      "BRIDGE_STORE",
      `BRIDGE_STORE=memory lives inside the serve process, out of reach of \`openchs-bridge ${command}\`: use serve's admin API (${config.BRIDGE_BASE_PATH}admin/dead-letters), or a sqlite: or postgres:// store`,
    );
  }
  const { bridge, store } = composeGateway(config);
  try {
    return await fn(bridge);
  } finally {
    await store.close();
  }
}
