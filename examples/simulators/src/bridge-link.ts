import type { RetryPolicy } from "@openchs-bridge/core/upstream";
import { type BridgeApiClient, createBridgeApiClient } from "@openchs-bridge/openchs-client";
import { SimulatorError } from "./admin";

/** Where a simulator reaches the bridge, and the consumer it logs in as at `token/`. */
export interface BridgeConnection {
  /** The bridge's gateway API base, e.g. `http://127.0.0.1:8080/api/`. */
  url: string;
  /** The consumer's username (the helpline's consumer speaks for `OUTBOX`/`HELPLINE`, the chatbot's for `WENI`). */
  username: string;
  password: string;
  /** Per-attempt timeout in ms. Default 10000. */
  timeoutMs?: number | undefined;
  /**
   * Retry policy of the calls to the bridge. Default: a short one (3 attempts, 100 ms doubling),
   * like mailroom's webhook retries; `false` sends each call once.
   */
  retry?: Partial<RetryPolicy> | false | undefined;
}

/** The default retry of the simulators' calls to the bridge. */
export const SIMULATOR_RETRY: Partial<RetryPolicy> = { limit: 2, minDelayMs: 100, maxDelayMs: 1000 };

/** A gateway client for the bridge, or a clear error when none is configured yet. */
export interface BridgeLink {
  /** The client; throws when no bridge is configured. */
  client(): BridgeApiClient;
  /** Whether a bridge is configured. */
  readonly connected: boolean;
  /** The configured API base, or undefined. */
  readonly url: string | undefined;
  /** (Re)configures the bridge; a new client (and a new login) is made. */
  connect(connection: BridgeConnection): void;
}

/** Creates a {@link BridgeLink}, connected when `connection` is given. */
export function createBridgeLink(who: string, connection?: BridgeConnection): BridgeLink {
  let client: BridgeApiClient | undefined;
  let url: string | undefined;
  const link: BridgeLink = {
    client() {
      if (!client) {
        throw new SimulatorError(
          "no_bridge",
          `${who}: no bridge configured: pass \`bridge\` to the simulator, call connectBridge() or POST /__sim/bridge`,
        );
      }
      return client;
    },
    get connected() {
      return client !== undefined;
    },
    get url() {
      return url;
    },
    connect(next) {
      client = createBridgeApiClient({
        baseUrl: next.url,
        // `url` is the API base itself: no prefix under it.
        prefix: "",
        username: next.username,
        password: next.password,
        timeoutMs: next.timeoutMs ?? 10_000,
        retry: next.retry ?? SIMULATOR_RETRY,
      });
      url = client.apiUrl;
    },
  };
  if (connection) link.connect(connection);
  return link;
}
