/**
 * `@openchs-bridge/simulators`: runnable simulators of an OpenCHS helpline and of RapidPro/Weni,
 * real loopback `node:http` servers with fault switches, for trying the bridge by hand, the
 * end-to-end demo (`runDemo`, which `openchs-bridge demo` loads from here), and reliability tests.
 * Not published.
 *
 * @packageDocumentation
 */

export { adminError, adminFailure, type BridgeCallError, describeBridgeError, SimulatorError } from "./admin";
export { type BridgeConnection, type BridgeLink, createBridgeLink, SIMULATOR_RETRY } from "./bridge-link";
export { type DemoOptions, type DemoSummary, runDemo } from "./demo";
export {
  createFaultSwitch,
  FAULT_MODES,
  type FaultConfig,
  type FaultHit,
  type FaultMode,
  type FaultSettings,
  type FaultSwitch,
  seeded,
  validateFaultConfig,
} from "./faults";
export {
  type AutoCounselorOptions,
  type Counselor,
  type CounselorDesk,
  type CounselorInput,
  DEFAULT_COUNSELOR_LINES,
  DEFAULT_COUNSELORS,
  DEFAULT_HELPLINE_USER,
  type DuplicateRecord,
  HELPLINE_API_PATH,
  type HelplineChat,
  type HelplineEventMap,
  type HelplineMessageKind,
  type HelplineMessageRecord,
  type HelplineRuntimeConfig,
  type HelplineSimulator,
  type HelplineSimulatorOptions,
  type HelplineState,
  startHelplineSimulator,
} from "./helpline-simulator";
export {
  type AckRecord,
  type BroadcastRecord,
  type ChildMessageResult,
  type ChildSession,
  type ContactDelivery,
  DEFAULT_CLOSE_FLOW,
  DEFAULT_RAPIDPRO_TOKEN,
  type EscalateInput,
  type FlowStartRecord,
  RAPIDPRO_API_PATH,
  type RapidProContact,
  type RapidProEventMap,
  type RapidProFlavour,
  type RapidProSimulator,
  type RapidProSimulatorOptions,
  type RapidProState,
  type SentMessageRecord,
  startRapidProSimulator,
} from "./rapidpro-simulator";
export {
  bridgeEnvLines,
  parseSandboxConfig,
  SANDBOX_USAGE,
  type Sandbox,
  type SandboxConfig,
  shellQuote,
  startSandbox,
} from "./sandbox";
export type { AnyListener, SimEventHub, SimEvents } from "./sim-events";
export type { RequestRecord } from "./sim-server";
export { formatEvent } from "./transcript";
